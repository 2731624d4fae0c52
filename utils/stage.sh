# shellcheck shell=bash
# Stage machinery for recipes: source after utils/parse_options.sh, which sets $stage/$stop_stage.
#
#   log "message"                       timestamped line on stderr, with the script name and line
#   stage_run N "name" --out DIR [--out DIR ...] [--deps DIR ...] [--conf FILE ...] \
#       [--nj N --cmd "$cmd" --log exp/x/log/name.JOB.log | --log exp/x/log/name.log] \
#       -- command args...
#
# stage_run runs one stage when N is within [$stage, $stop_stage] and ends by writing a stamp,
# DIR/.done, in every output dir.  The stamp's first line is a fingerprint: sha256 over the command
# words (the literal JOB token kept), the content of every --conf file and the fingerprint of every
# --deps dir's stamp.  When every output already has a stamp with the same fingerprint, the stage is
# skipped with a log line; otherwise it runs, and on success the stamps are written atomically.
# Because a stage's fingerprint contains its inputs' fingerprints, a stage whose config or command
# changed re-runs, and so does every stage that depends on it, directly or not.  The date and the
# git hash are recorded in the stamp but are not part of the fingerprint, so a skipped stage never
# makes later stages re-run.
#
# A failing stage leaves no stamp, prints "stage N (name) failed" (after the failing log's tail)
# and exits the script with status 1.  A stage whose --deps has no stamp fails naming the stage that
# makes it (stage_run remembers which stage declared which --out, also for stages out of range).
#
# With --cmd, the command runs through a job runner (utils/run.py, utils/slurm.py, from cmd.sh):
# `$cmd JOB=1:$nj LOG command...` (or `$cmd LOG command...` without --nj); the runner writes one log
# per job and prints the failing job's log tail itself.  Without --cmd the command runs here, as an
# argument vector (no shell parsing), its output also copied to --log when given.

_KD_STAMP=.done
declare -gA _KD_PRODUCER=()   # realpath of an output dir -> "N (name)" of the stage that makes it
_KD_GIT_HASH=""

# The caller is the first frame outside this file, so that a line logged by stage_run names the
# recipe script and the line of its stage_run call.
log() {
  local i=1
  while [[ ${BASH_SOURCE[i]:-} == "${BASH_SOURCE[0]}" ]]; do ((i += 1)); done
  local caller=${BASH_SOURCE[i]:-$0}
  echo "$(date '+%Y-%m-%dT%H:%M:%S') ($(basename "$caller"):${BASH_LINENO[i - 1]}) $*" >&2
}

# A failure of the recipe itself (bad stage_run call, missing input): message and exit 1.
_kd_die() {
  echo "$(date '+%Y-%m-%dT%H:%M:%S') ERROR: $*" >&2
  exit 1
}

# Key for the producer table: the same dir written two ways ("exp/a/", "./exp/a") is one dir.
_kd_key() { realpath -m -- "$1"; }

# The fingerprint recorded in a stamp file (its "fingerprint <sha256>" line), or nothing.
_kd_stamp_fingerprint() {
  [[ -f $1 ]] || return 0
  sed -n 's/^fingerprint //p' "$1" | head -n 1
}

_kd_sha256() { sha256sum | cut -d' ' -f1; }

# kdspeech's git hash, for the record only; computed once per script.
_kd_git_hash() {
  if [[ -z $_KD_GIT_HASH ]]; then
    local here hash
    here=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
    hash=$(git -C "$here" rev-parse --short HEAD 2>/dev/null) || hash=unknown
    if [[ $hash != unknown ]] &&
       [[ -n $(git -C "$here" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
      hash+=-dirty
    fi
    _KD_GIT_HASH=$hash
  fi
  echo "$_KD_GIT_HASH"
}

stage_run() {
  local num=${1:-} name=${2:-}
  [[ $num =~ ^-?[0-9]+$ && -n $name ]] ||
    _kd_die "usage: stage_run N \"name\" --out DIR ... -- command args..."
  shift 2
  local label="$num ($name)"
  local -a outs=() deps=() confs=() command=()
  local nj="" cmd="" logfile=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --out) outs+=("${2:?}"); shift 2 ;;
      --deps) deps+=("${2:?}"); shift 2 ;;
      --conf) confs+=("${2:?}"); shift 2 ;;
      --nj) nj=${2:?}; shift 2 ;;
      --cmd) cmd=${2:?}; shift 2 ;;
      --log) logfile=${2:?}; shift 2 ;;
      --) shift; command=("$@"); break ;;
      *) _kd_die "stage_run $label: unknown argument '$1' (the command goes after --)" ;;
    esac
  done
  [[ ${#outs[@]} -gt 0 ]] || _kd_die "stage_run $label: needs at least one --out DIR"
  [[ ${#command[@]} -gt 0 ]] || _kd_die "stage_run $label: no command after --"
  [[ -z $nj || -n $cmd ]] || _kd_die "stage_run $label: --nj needs --cmd (a job runner)"
  [[ -z $cmd || -n $logfile ]] || _kd_die "stage_run $label: --cmd needs --log"
  [[ -z $nj || $nj =~ ^[1-9][0-9]*$ ]] || _kd_die "stage_run $label: --nj must be a positive integer"

  # Remember who makes what, so that a later stage can name the producer of a missing input.
  local out
  for out in "${outs[@]}"; do _KD_PRODUCER[$(_kd_key "$out")]=$label; done

  local first=${stage:--1000000} last=${stop_stage:-1000000}
  [[ $first =~ ^-?[0-9]+$ ]] || _kd_die "--stage must be an integer, got '$first'"
  [[ $last =~ ^-?[0-9]+$ ]] || _kd_die "--stop_stage must be an integer, got '$last'"
  if ((num < first || num > last)); then
    return 0
  fi

  log "Stage $label"
  export KDSPEECH_STAGE=$label

  # Inputs must be finished: each dependency has a stamp.
  local dep producer
  for dep in "${deps[@]}"; do
    if [[ ! -f $dep/$_KD_STAMP ]]; then
      producer=${_KD_PRODUCER[$(_kd_key "$dep")]:-}
      producer=${producer:+stage $producer}
      _kd_die "stage $label: input $dep is missing or unfinished (no $dep/$_KD_STAMP);" \
        "it is made by ${producer:-an earlier stage}"
    fi
  done
  local conf
  for conf in "${confs[@]}"; do
    [[ -f $conf ]] || _kd_die "stage $label: config $conf not found"
  done

  # Fingerprint: what the outputs are made from (not the date, not the code version).
  local fingerprint
  # (Hashed as a stream: $(...) would drop the NUL separators.)
  fingerprint=$(
    {
      printf 'command\0'; printf '%s\0' "${command[@]}"
      for conf in "${confs[@]}"; do printf '\0conf\0'; cat "$conf"; done
      for dep in "${deps[@]}"; do printf '\0dep\0%s' "$(_kd_stamp_fingerprint "$dep/$_KD_STAMP")"; done
    } | _kd_sha256
  )

  local up_to_date=true
  for out in "${outs[@]}"; do
    [[ $(_kd_stamp_fingerprint "$out/$_KD_STAMP") == "$fingerprint" ]] || up_to_date=false
  done
  if $up_to_date; then
    log "Stage $label: ${outs[*]} up to date, skipped"
    unset KDSPEECH_STAGE
    return 0
  fi

  # Run.  Old stamps go first, so that an interrupted or failed run leaves none.
  for out in "${outs[@]}"; do
    rm -f -- "$out/$_KD_STAMP"
    mkdir -p -- "$out"
  done
  [[ -z $logfile ]] || mkdir -p -- "$(dirname "$logfile")"
  local rc=0
  if [[ -n $cmd ]]; then
    local -a runner
    read -r -a runner <<< "$cmd"   # "$cmd" is word-split, as with Kaldi's $train_cmd
    if [[ -n $nj ]]; then
      "${runner[@]}" "JOB=1:$nj" "$logfile" "${command[@]}" || rc=$?
    else
      "${runner[@]}" "$logfile" "${command[@]}" || rc=$?
    fi
    ((rc == 0)) || _kd_die "stage $label failed (job runner exit code $rc; logs: ${logfile//JOB/*})"
  else
    # In the background and waited for, so that `set -e` still works inside shell functions
    # (it is ignored in the condition of an `if` or `||`); stdin stays the script's.
    _kd_run_direct "$logfile" "${command[@]}" <&0 &
    wait $! || rc=$?
    if ((rc != 0)); then
      if [[ -n $logfile && -f $logfile ]]; then
        echo "---- last 20 lines of $logfile ----" >&2
        tail -n 20 -- "$logfile" >&2
        echo "----" >&2
      fi
      _kd_die "stage $label failed (exit code $rc${logfile:+; log: $logfile})"
    fi
  fi

  # Success: write the stamps, each atomically (temporary name, then rename).
  local stamp tmp
  stamp=$(_kd_stamp_text "$num" "$name" "$fingerprint" "$(printf '%q ' "${command[@]}")" \
    "${#confs[@]}" "${confs[@]}" "${deps[@]}")
  for out in "${outs[@]}"; do
    tmp=$out/$_KD_STAMP.tmp.$$
    printf '%s\n' "$stamp" > "$tmp"
    mv -f -- "$tmp" "$out/$_KD_STAMP"
  done
  unset KDSPEECH_STAGE
  return 0
}

# Run a command with its output on the terminal and, when a log is given, in the log too.
_kd_run_direct() {
  local logfile=$1
  shift
  if [[ -n $logfile ]]; then
    set -o pipefail
    "$@" 2>&1 | tee -- "$logfile"
  else
    "$@"
  fi
}

# The stamp's text.  Only the fingerprint line is read back (by later stages); the rest is a record
# of how the outputs were made.  Args: N name fingerprint command n_confs confs... deps...
_kd_stamp_text() {
  local num=$1 name=$2 fingerprint=$3 command=$4 n_confs=$5
  shift 5
  local -a confs=("${@:1:n_confs}") deps=("${@:n_confs+1}")
  local conf dep
  echo "fingerprint $fingerprint"
  echo "stage $num"
  echo "name $name"
  echo "date $(date '+%Y-%m-%dT%H:%M:%S%z')"
  echo "command ${command% }"
  for conf in "${confs[@]}"; do
    echo "conf $conf $(_kd_sha256 < "$conf")"
  done
  for dep in "${deps[@]}"; do
    echo "dep $dep $(_kd_stamp_fingerprint "$dep/$_KD_STAMP")"
  done
  echo "kdspeech_git $(_kd_git_hash)"
}
