# shellcheck shell=bash
# Run one command per item, a few at a time in the background, and stop the others on the first
# failure.  Source it from a recipe template (after utils/stage.sh, whose `log` it uses):
#
#   parallel_each [--after DEPS_FN] MAX_JOBS "ITEM ITEM ..." COMMAND [ARGS...]
#
# runs `COMMAND ARGS... ITEM` for every item (e.g. `parallel_each "$train_jobs" "$folds" train_fold`),
# with --after, only once the items that `DEPS_FN ITEM` prints (those of the list) have succeeded
# (a student after its teachers; an item that waits for itself or a cycle is an error),
# each in a background subshell with the caller's `set -e`, at most MAX_JOBS at once; returns 0 when
# all succeed.  When one fails, the ones still running are stopped (SIGTERM to each one's process group,
# which holds everything it started: job runner, torchrun, trainer; SIGKILL after 10 s), and
# parallel_each returns that failure's exit code (under `set -e` the script stops).  Ctrl-C or a
# SIGTERM of the script stops them too.  MAX_JOBS <= 1 (or one item) runs the items one after
# another in this shell, as plain statements.
#
# Each background command sees KDSPEECH_PARALLEL_JOBS multiplied by the number running at once; the
# job runner (kdspeech/jobs/threads.py) divides the machine's cores by it to size each job's threads.
# Needs bash >= 5.1 (`wait -n -p`).

_KD_PAR_RUNNING=()   # pids (= process group ids) of the background commands still running

_kd_par_log() {
  if declare -F log > /dev/null; then log "$@"; else echo "$(date '+%Y-%m-%dT%H:%M:%S') $*" >&2; fi
}

# Stop every running command's process group: SIGTERM, then SIGKILL what is left after 10 s.
_kd_par_stop() {
  local _kd_par_pid _kd_par_tries
  ((${#_KD_PAR_RUNNING[@]})) || return 0
  for _kd_par_pid in "${_KD_PAR_RUNNING[@]}"; do kill -TERM -- "-$_kd_par_pid" 2> /dev/null || true; done
  for ((_kd_par_tries = 0; _kd_par_tries < 50; _kd_par_tries++)); do
    _kd_par_alive || break
    sleep 0.2
  done
  for _kd_par_pid in "${_KD_PAR_RUNNING[@]}"; do kill -KILL -- "-$_kd_par_pid" 2> /dev/null || true; done
  for _kd_par_pid in "${_KD_PAR_RUNNING[@]}"; do wait "$_kd_par_pid" 2> /dev/null || true; done
  _KD_PAR_RUNNING=()
}

# True while a process of a running command's group is still there (a reaped leader aside).
_kd_par_alive() {
  local _kd_par_pid
  for _kd_par_pid in "${_KD_PAR_RUNNING[@]}"; do
    # A finished leader stays a zombie until waited for; count its group's other members only.
    [[ -n $(ps -o pid= -o stat= -g "$_kd_par_pid" 2> /dev/null | awk '$2 !~ /^Z/') ]] && return 0
  done
  return 1
}

# Wait for one running command; on failure stop the others.  Returns the command's exit code.
_kd_par_wait_one() {
  local _kd_par_done=-1 _kd_par_rc=0 _kd_par_pid _kd_par_left=()
  wait -n -p _kd_par_done "${_KD_PAR_RUNNING[@]}" || _kd_par_rc=$?
  for _kd_par_pid in "${_KD_PAR_RUNNING[@]}"; do
    [[ $_kd_par_pid == "$_kd_par_done" ]] || _kd_par_left+=("$_kd_par_pid")
  done
  _KD_PAR_RUNNING=("${_kd_par_left[@]}")
  [[ -n ${_KD_PAR_ITEM[$_kd_par_done]+set} ]] && _kd_par_state[${_KD_PAR_ITEM[$_kd_par_done]}]=done
  if ((_kd_par_rc != 0)); then
    _kd_par_log "parallel_each: '${_KD_PAR_WHAT[$_kd_par_done]:-?}' failed (exit code $_kd_par_rc);" \
      "stopping the ${#_KD_PAR_RUNNING[@]} still running"
    _kd_par_stop
  fi
  return "$_kd_par_rc"
}

# The first item of $_kd_par_list (dynamic scope) that may start now: pending, and every item it waits
# for (by --after's function, among the list) done.  Reads _kd_par_state; prints it, or nothing.
_kd_par_ready() {
  local _kd_par_i _kd_par_d _kd_par_ok
  for _kd_par_i in "${_kd_par_list[@]}"; do
    [[ ${_kd_par_state[$_kd_par_i]} == pending ]] || continue
    _kd_par_ok=true
    if [[ -n $_kd_par_after ]]; then
      for _kd_par_d in $("$_kd_par_after" "$_kd_par_i"); do
        [[ -n ${_kd_par_state[$_kd_par_d]+set} && ${_kd_par_state[$_kd_par_d]} != done ]] && _kd_par_ok=false
      done
    fi
    if $_kd_par_ok; then echo "$_kd_par_i"; return 0; fi
  done
  return 0
}

_kd_par_cycle() {
  local _kd_par_i _kd_par_left=()
  for _kd_par_i in "${_kd_par_list[@]}"; do
    [[ ${_kd_par_state[$_kd_par_i]} == pending ]] && _kd_par_left+=("$_kd_par_i")
  done
  _kd_par_log "parallel_each: ${_kd_par_left[*]} wait for items that never run (a cycle?)"
  return 2
}

parallel_each() {
  local _kd_par_after=""
  if [[ ${1:-} == --after ]]; then _kd_par_after=${2:?--after needs a function}; shift 2; fi
  local _kd_par_max=${1:?usage: parallel_each MAX_JOBS \"ITEM ...\" COMMAND [ARGS...]}
  local _kd_par_items=${2?usage: parallel_each MAX_JOBS \"ITEM ...\" COMMAND [ARGS...]}
  shift 2
  (($# > 0)) || { _kd_par_log "parallel_each: no command"; return 2; }
  [[ $_kd_par_max =~ ^[0-9]+$ ]] || { _kd_par_log "parallel_each: MAX_JOBS must be a number, got '$_kd_par_max'"; return 2; }
  local -a _kd_par_list
  read -r -a _kd_par_list <<< "$_kd_par_items"
  local -A _kd_par_state=()
  local _kd_par_item _kd_par_rc=0 _kd_par_errexit=false _kd_par_monitor=false _kd_par_next
  for _kd_par_item in "${_kd_par_list[@]}"; do _kd_par_state[$_kd_par_item]=pending; done
  [[ $- == *e* ]] && _kd_par_errexit=true
  [[ $- == *m* ]] && _kd_par_monitor=true

  if ((_kd_par_max <= 1 || ${#_kd_par_list[@]} <= 1)); then
    # In this shell, as plain statements: what the command records (stage_run's table of which
    # stage makes which dir) stays, and under `set -e` a failure stops the script as usual.
    while _kd_par_next=$(_kd_par_ready) && [[ -n $_kd_par_next ]]; do
      "$@" "$_kd_par_next"
      _kd_par_rc=$?
      ((_kd_par_rc == 0)) || return "$_kd_par_rc"
      _kd_par_state[$_kd_par_next]=done
    done
    [[ -z $(printf '%s\n' "${_kd_par_state[@]}" | grep -x pending) ]] || _kd_par_cycle
    return
  fi

  local _kd_par_at_once=$((_kd_par_max < ${#_kd_par_list[@]} ? _kd_par_max : ${#_kd_par_list[@]}))
  local _kd_par_jobs=$((${KDSPEECH_PARALLEL_JOBS:-1} * _kd_par_at_once))
  local _kd_par_old_int _kd_par_old_term
  _kd_par_old_int=$(trap -p INT)
  _kd_par_old_term=$(trap -p TERM)
  trap '_kd_par_stop; exit 130' INT
  trap '_kd_par_stop; exit 143' TERM
  _KD_PAR_RUNNING=()
  declare -gA _KD_PAR_WHAT=() _KD_PAR_ITEM=()
  while ((_kd_par_rc == 0)); do
    while ((${#_KD_PAR_RUNNING[@]} < _kd_par_max)) &&
          _kd_par_next=$(_kd_par_ready) && [[ -n $_kd_par_next ]]; do
      # Job control on while starting it: the command gets a process group of its own, which
      # _kd_par_stop can signal as a whole.  No terminal input for background commands.
      set -m
      (
        set +m   # inside, everything it starts stays in its group
        if $_kd_par_errexit; then set -e; fi
        export KDSPEECH_PARALLEL_JOBS=$_kd_par_jobs
        "$@" "$_kd_par_next"
      ) < /dev/null &
      _KD_PAR_RUNNING+=("$!")
      _KD_PAR_WHAT[$!]="$* $_kd_par_next"
      _KD_PAR_ITEM[$!]=$_kd_par_next
      _kd_par_state[$_kd_par_next]=running
      $_kd_par_monitor || set +m
    done
    if ((${#_KD_PAR_RUNNING[@]} == 0)); then
      [[ -z $(printf '%s\n' "${_kd_par_state[@]}" | grep -x pending) ]] || _kd_par_cycle || _kd_par_rc=$?
      break
    fi
    _kd_par_wait_one || _kd_par_rc=$?
  done
  eval "${_kd_par_old_int:-trap - INT}"
  eval "${_kd_par_old_term:-trap - TERM}"
  return "$_kd_par_rc"
}
