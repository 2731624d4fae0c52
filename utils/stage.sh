# shellcheck shell=bash
# Stage machinery for recipes: source after utils/parse_options.sh, which sets $stage/$stop_stage.
#
#   log "message"                       timestamped line on stderr, with the script name and line
#   stage_run N "name" --out DIR [--out DIR ...] [--deps DIR ...] [--conf FILE ...] \
#       [--param KEY=VALUE ...] [--inputs PATH ...] [--inputs_listed PATH ...] [--progress EXP_DIR ...] \
#       [--nj N --cmd "$cmd" --log exp/x/log/name.JOB.log | --log exp/x/log/name.log] \
#       -- command args...
#
# stage_run runs one stage when N is within [$stage, $stop_stage] and ends by writing a stamp,
# DIR/.done, in every output dir.  Whether a stage runs again follows one rule (fingerprint scheme 3):
#
#   What the outputs are made from decides.  The stamp's `base` is sha256 over
#   - the command words (the literal JOB token kept) and every --param (values that the command reads
#     from elsewhere than its arguments, e.g. a global variable used inside a shell function);
#   - every shell function the command *calls*: a word in command position (the start of a simple
#     command, also inside $(...) and <(...)) of the command or of a called function's body, and a
#     whole word handed to a called function (`parallel_each 2 "$x" train_one`), transitively
#     (utils/shell_calls.awk; `declare -f` bodies, so comments do not count).  A name inside a
#     longer word counts for nothing: "${out}/log/mix.JOB.log" does not make a stage depend on log();
#   - the content of every --conf file;
#   - the content of the recipe's own scripts the stage runs: local/*.sh, local/*.py (and other
#     local/ scripts) named by the command or a called function, and, transitively, the scripts of
#     the same folder that those name or import (`"${local_dir}/prepare.py"`, `import helpers`):
#     editing local/data.sh re-runs stage 1;
#   - every external --inputs path (below) and the fingerprint of every --deps dir's stamp.
#   When every output has a stamp with the same base, the stage is skipped ("up to date, skipped");
#   otherwise it runs, after a log line saying why (no stamp, an older scheme, which input, config,
#   script or code changed).
#
#   Library code is recorded, not obeyed: the stamp lists, as `library <sha256> <path>` lines, the
#   kdspeech modules every Python process of the stage imported (kdspeech/code_record.py, through
#   $KDSPEECH_CODE_RECORD) and the utils/ scripts the stage runs.  When a stage is up to date by its
#   base but one of those files changed since, it is neither recomputed silently (hours of training
#   for a changed docstring) nor kept silently: a WARNING names the stage and the changed files and
#   says how to re-run it: `--stage N --stop_stage N --rerun_changed_code true` for that stage, or
#   `--rerun_changed_code true` for every stage whose code changed (a template option; elsewhere
#   KDSPEECH_RERUN_CHANGED_CODE=true).
#
#   The fingerprint that later stages read is sha256 over the base and the library lines, so that
#   a stage re-run with other code makes the stages that read it run again, and a skipped stage
#   never does.  The date and the git hash are recorded in the stamp but are in neither hash.
#
# Because a stage's base contains its inputs' fingerprints, a stage whose config, command or script
# changed re-runs, and so does every stage that depends on it, directly or not.
#
# External inputs (--inputs PATH, repeatable): what a stage reads from outside the recipe's stages (a
# CSV, a corpus folder, a path of db.sh).  Each enters the fingerprint by its resolved path (so a
# db.sh path pointing elsewhere re-runs the stage) and its content: a file by the sha256 of its
# bytes; a folder by a manifest of its files (relative path, size, sha256 of the bytes; symbolic links
# followed; kdspeech.bin.list_files), so that an added, removed, resized or rewritten file re-runs the
# stage and a touched, copied or restored one does not; a path that does not exist counts as
# "missing" (the stage's command then reports it).  The manifests, with each file's time, are kept in
# <out dir>/.done.inputs, so that a re-run says which files were added, removed or changed, and so
# that a file whose size and time are those of the manifest is not read again: a corpus is read once,
# then checked by one stat per file (a copied one, all of whose times are new, is read once more).
# A stage without --inputs has the base it would have had before --inputs existed.
# --inputs_listed PATH (repeatable): a data dir or a CSV that names files elsewhere (a test set of your
# own recordings, a CSV of clips): the dir's files or the CSV, and every file it lists (wav.scp,
# spk1.scp, noise1.scp, utt2enroll; a CSV's path and clean columns), by content as above, so that an
# edited list, or a listed file replaced, re-runs the stage, and nothing beside them does (the
# recipe's own data/, dump/, exp/ around a CSV are not its inputs).
#
# --progress EXP_DIR (repeatable; not part of the fingerprint): while the stage runs, one console
# line per finished training epoch of EXP_DIR/log/train.log (epoch i/N with N from
# EXP_DIR/config.yaml, losses, seconds per epoch, time left), since a training's own log goes to
# the file only.  The time left is the epochs to go times the mean of the last 3 epochs' times (the
# current rate: a first epoch slowed by start-up or a machine that got busier does not linger in it).
#
# Output is live: every line a stage's command writes reaches the console (or the pipe the recipe's
# output goes through, or its --log) when it is written, not in 4 KiB blocks at the end.  Sourcing
# this file exports PYTHONUNBUFFERED=1 (Python's stdout is block-buffered when it is not a terminal),
# the job runners give each job the same (kdspeech/jobs/), tee copies to --log as it reads, and the
# --progress follower flushes each line.  A command of your own that pipes through a tool that buffers
# (awk, sed, grep, sort) should flush too: `fflush()` in awk (and mawk reads a pipe line by line only
# with `-W interactive`), `stdbuf -oL` for the others.
#
# While a stage runs, KDSPEECH_STAGE is "N (name)", KDSPEECH_STAGE_FINGERPRINT its base and
# KDSPEECH_STAGE_INPUTS a fingerprint of its --deps stamps only (not its configs or command): a
# training keeps its checkpoints while this one is unchanged, so that raising max_epochs in a YAML
# continues the run.
#
# A failing stage leaves no stamp, prints "stage N (name) failed" (after the failing log's tail)
# and exits the script with status 1.  A stage whose --deps has no stamp fails naming the stage that
# makes it (stage_run remembers which stage declared which --out, also for stages out of range).
#
# With --cmd, the command runs through a job runner (utils/run.py, utils/slurm.py, from cmd.sh):
# `$cmd JOB=1:$nj LOG command...` (or `$cmd LOG command...` without --nj); the runner writes one log
# per job and prints the failing job's log tail itself (and stage_run prints the WARNING lines of
# the logs of a stage that succeeded).  Without --cmd the command runs here, in a
# subshell (a recipe function's variable assignments stay there), as an argument vector (no shell
# parsing), with the script's `set -e` in force, and its output also copied to --log when given.

_KD_STAMP=.done
export PYTHONUNBUFFERED=1     # live output of every Python command a stage runs (see above)
_KD_SCHEME=3                  # version of what a fingerprint covers; older stamps re-run, saying so
declare -gA _KD_PRODUCER=()   # realpath of an output dir -> "N (name)" of the stage that makes it
_KD_GIT_HASH=""
_KD_UTILS=$(dirname "$(realpath "${BASH_SOURCE[0]}")")   # this folder
_KD_ROOT=$(dirname "$_KD_UTILS")                          # the kdspeech checkout it belongs to
declare -gA _KD_CALLS_OF=() _KD_CALLS_BODY=()  # function -> what its body calls, and that body
declare -gA _KD_SCRIPT_REFS=()                 # script -> the scripts it names or imports

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
  [[ -z ${_kd_manifest:-} ]] || rm -f -- "$_kd_manifest"
  [[ -z ${_kd_record:-} ]] || rm -rf -- "$_kd_record"
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

# What a piece of shell text calls and names: "C name", "A command name", "S path" lines
# (utils/shell_calls.awk).
_kd_calls_in() { awk -f "$_KD_UTILS/shell_calls.awk"; }

# _kd_analyse command words...: sets the arrays _kd_fns (the shell functions the command calls,
# transitively, sorted) and _kd_named (the script paths named by the command and those functions).
# A function's analysis is kept while its body stays the same (_KD_CALLS_OF).
_kd_analyse() {
  local -A _kd_def=() _kd_seen=() _kd_paths=()
  local -a _kd_todo=()
  local _kd_f _kd_kind _kd_a _kd_b _kd_body _kd_calls
  _kd_fns=() _kd_named=()
  while read -r _kd_a _kd_a _kd_f; do _kd_def[$_kd_f]=1; done < <(declare -F)
  _kd_calls=$(printf '%q ' "$@" | _kd_calls_in)
  while :; do
    while read -r _kd_kind _kd_a _kd_b; do
      case $_kd_kind in
        C) if [[ -n ${_kd_def[$_kd_a]:-} && -z ${_kd_seen[$_kd_a]:-} ]]; then _kd_todo+=("$_kd_a"); fi ;;
        A) if [[ -n ${_kd_def[$_kd_a]:-} && -n ${_kd_def[$_kd_b]:-} && -z ${_kd_seen[$_kd_b]:-} ]]; then
             _kd_todo+=("$_kd_b")
           fi ;;
        S) _kd_paths[$_kd_a]=1 ;;
      esac
    done <<< "$_kd_calls"
    _kd_calls=""
    ((${#_kd_todo[@]})) || break
    _kd_f=${_kd_todo[-1]}
    unset '_kd_todo[-1]'
    [[ -z ${_kd_seen[$_kd_f]:-} ]] || continue
    _kd_seen[$_kd_f]=1
    _kd_body=$(declare -f -- "$_kd_f")
    if [[ ${_KD_CALLS_BODY[$_kd_f]-} != "$_kd_body" ]]; then
      _KD_CALLS_OF[$_kd_f]=$(_kd_calls_in <<< "$_kd_body")
      _KD_CALLS_BODY[$_kd_f]=$_kd_body
    fi
    _kd_calls=${_KD_CALLS_OF[$_kd_f]}
  done
  if ((${#_kd_seen[@]})); then mapfile -t _kd_fns < <(printf '%s\n' "${!_kd_seen[@]}" | LC_ALL=C sort); fi
  if ((${#_kd_paths[@]})); then mapfile -t _kd_named < <(printf '%s\n' "${!_kd_paths[@]}" | LC_ALL=C sort); fi
  return 0
}

# The scripts of a folder that a script names or imports: every word "<name>.sh|.py|..." that is a
# file beside it (`"${local_dir}/prepare.py"`, `"$(dirname "$0")/noises.sh"`, a comment's "see
# local/noises.sh" too: the safe side), the local/ and utils/ paths it names, and for a Python
# script the modules it imports that are files beside it.  Args: script path
_kd_script_refs() {
  local path=$1 dir name
  dir=$(dirname -- "$path")
  {
    grep -oE '[A-Za-z0-9_.-]+\.(sh|py|pl|awk)' -- "$path" 2> /dev/null | sort -u |
      while IFS= read -r name; do if [[ -f $dir/$name ]]; then echo "$dir/$name"; fi; done
    if [[ $path == *.py ]]; then
      sed -nE 's/^[[:space:]]*(from|import)[[:space:]]+([A-Za-z_][A-Za-z0-9_]*).*/\2/p' -- "$path" | sort -u |
        while IFS= read -r name; do if [[ -f $dir/$name.py ]]; then echo "$dir/$name.py"; fi; done
    fi
    awk -v paths_only=1 -f "$_KD_UTILS/shell_calls.awk" < "$path" | sed -n 's/^S //p' |
      while IFS= read -r name; do if [[ -f $name ]]; then echo "$name"; fi; done
  } | sed 's#^\./##' | LC_ALL=C sort -u
}

# Every script of the stage, transitively from the paths its command and functions name: sets the
# array _kd_closure to "<kind> <path>" entries, kind `script` for the recipe's own (local/...),
# `library` for the shared ones (utils/...).  What a script names is kept (_KD_SCRIPT_REFS) for the
# rest of the run.  Args: paths...
_kd_scripts_closure() {
  local -A seen=()
  local -a todo=()
  local path ref
  _kd_closure=()
  for path in "$@"; do if [[ -f $path ]]; then todo+=("${path#./}"); fi; done
  while ((${#todo[@]})); do
    path=${todo[-1]}
    unset 'todo[-1]'
    [[ -z ${seen[$path]:-} ]] || continue
    seen[$path]=1
    if [[ -z ${_KD_SCRIPT_REFS[$path]+set} ]]; then _KD_SCRIPT_REFS[$path]=$(_kd_script_refs "$path"); fi
    while IFS= read -r ref; do
      if [[ -n $ref && -z ${seen[$ref]:-} ]]; then todo+=("$ref"); fi
    done <<< "${_KD_SCRIPT_REFS[$path]}"
  done
  ((${#seen[@]})) || return 0
  mapfile -t _kd_closure < <(for path in "${!seen[@]}"; do
    case $path in
      utils/*) echo "library $path" ;;
      *) echo "script $path" ;;
    esac
  done | LC_ALL=C sort)
}

# "library <sha256> <path>" lines of library files (utils/ scripts by their path in the recipe,
# kdspeech modules as recorded: absolute, shown relative to the checkout).  Reads
# "<sha256>  <path>" lines on stdin.
_kd_library_lines() {
  local sha path
  while read -r sha path; do
    [[ -n $path ]] || continue
    path=${path#"$_KD_ROOT"/}
    echo "library $sha $path"
  done | LC_ALL=C sort -u -k3,3
}

# The library files of a stamp that changed (or are gone) since it was written, one path a line;
# one sha256sum for all of them.  Args: stamp
_kd_library_changes() {
  local -a paths=() files=()
  local -A was=() now=()
  local tag sha path file i
  while read -r tag sha path; do
    [[ $tag == library ]] || continue
    file=$path
    [[ $file == /* || -f $file ]] || file=$_KD_ROOT/$path
    paths+=("$path") files+=("$file")
    was[$file]=$sha
  done < "$1"
  ((${#files[@]})) || return 0
  while read -r sha file; do now[$file]=$sha; done < <(sha256sum -- "${files[@]}" 2> /dev/null || true)
  for i in "${!files[@]}"; do
    [[ ${now[${files[i]}]:-} == "${was[${files[i]}]}" ]] || echo "${paths[i]}"
  done
}

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

# Every local below starts with _kd_: bash scoping is dynamic, so a command that is a shell function
# of the recipe would otherwise see stage_run's `nj` or `name` instead of the recipe's own.
stage_run() {
  local _kd_num=${1:-} _kd_name=${2:-}
  [[ $_kd_num =~ ^-?[0-9]+$ && -n $_kd_name ]] ||
    _kd_die "usage: stage_run N \"name\" --out DIR ... -- command args..."
  shift 2
  local _kd_label="$_kd_num ($_kd_name)"
  local -a _kd_outs=() _kd_deps=() _kd_confs=() _kd_params=() _kd_command=() _kd_ext=() _kd_listed=() _kd_prog=()
  local _kd_nj="" _kd_cmd="" _kd_log=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --out) _kd_outs+=("${2:?}"); shift 2 ;;
      --deps) _kd_deps+=("${2:?}"); shift 2 ;;
      --conf) _kd_confs+=("${2:?}"); shift 2 ;;
      --param) _kd_params+=("${2:?}"); shift 2 ;;
      --inputs) _kd_ext+=("${2:?}"); _kd_listed+=(""); shift 2 ;;
      --inputs_listed) _kd_ext+=("${2:?}"); _kd_listed+=(listed); shift 2 ;;
      --progress) _kd_prog+=("${2:?}"); shift 2 ;;
      --nj) _kd_nj=${2:?}; shift 2 ;;
      --cmd) _kd_cmd=${2:?}; shift 2 ;;
      --log) _kd_log=${2:?}; shift 2 ;;
      --) shift; _kd_command=("$@"); break ;;
      *) _kd_die "stage_run $_kd_label: unknown argument '$1' (the command goes after --)" ;;
    esac
  done
  [[ ${#_kd_outs[@]} -gt 0 ]] || _kd_die "stage_run $_kd_label: needs at least one --out DIR"
  [[ ${#_kd_command[@]} -gt 0 ]] || _kd_die "stage_run $_kd_label: no command after --"
  [[ -z $_kd_nj || -n $_kd_cmd ]] || _kd_die "stage_run $_kd_label: --nj needs --cmd (a job runner)"
  [[ -z $_kd_cmd || -n $_kd_log ]] || _kd_die "stage_run $_kd_label: --cmd needs --log"
  [[ -z $_kd_nj || $_kd_nj =~ ^[1-9][0-9]*$ ]] ||
    _kd_die "stage_run $_kd_label: --nj must be a positive integer, got '$_kd_nj'"

  # Remember who makes what, so that a later stage can name the producer of a missing input.
  local _kd_out
  for _kd_out in "${_kd_outs[@]}"; do _KD_PRODUCER[$(_kd_key "$_kd_out")]=$_kd_label; done

  local _kd_first=${stage:--1000000} _kd_last=${stop_stage:-1000000}
  [[ $_kd_first =~ ^-?[0-9]+$ ]] || _kd_die "--stage must be an integer, got '$_kd_first'"
  [[ $_kd_last =~ ^-?[0-9]+$ ]] || _kd_die "--stop_stage must be an integer, got '$_kd_last'"
  if ((_kd_num < _kd_first || _kd_num > _kd_last)); then
    return 0
  fi

  log "Stage $_kd_num: $_kd_name"
  export KDSPEECH_STAGE=$_kd_label

  # Inputs must be finished: each dependency has a stamp.
  local _kd_dep _kd_producer _kd_conf _kd_param
  for _kd_dep in "${_kd_deps[@]}"; do
    if [[ ! -f $_kd_dep/$_KD_STAMP ]]; then
      _kd_producer=${_KD_PRODUCER[$(_kd_key "$_kd_dep")]:-}
      _kd_producer=${_kd_producer:+stage $_kd_producer}
      _kd_die "stage $_kd_label: input $_kd_dep is missing or unfinished" \
        "(no $_kd_dep/$_KD_STAMP); it is made by ${_kd_producer:-an earlier stage}"
    fi
  done
  for _kd_conf in "${_kd_confs[@]}"; do
    [[ -f $_kd_conf ]] || _kd_die "stage $_kd_label: config $_kd_conf not found"
  done

  # Base: what the outputs are made from (not the date, not the library code).  Each part is
  # hashed as a NUL-separated stream ($(...) would drop the NULs); the stamp records the parts, so
  # that a re-run can say which one changed.
  local _kd_code _kd_inputs _kd_base _kd_fn _kd_scripts="" _kd_static_library="" _kd_kind _kd_line
  local -a _kd_fns=() _kd_named=()
  _kd_analyse "${_kd_command[@]}"
  _kd_code=$(
    {
      printf 'command\0'
      printf '%s\0' "${_kd_command[@]}"
      # Recipe functions the command calls: their bodies too (`declare -f`: without comments).
      for _kd_fn in ${_kd_fns[@]+"${_kd_fns[@]}"}; do
        printf '\0function\0'; declare -f -- "$_kd_fn"
      done
      for _kd_param in "${_kd_params[@]}"; do printf '\0param\0%s' "$_kd_param"; done
    } | _kd_sha256
  )
  # Scripts: the recipe's own by content ("script <path> <sha256>" lines, in the base), the
  # library's (utils/) as "<sha256>  <path>" lines for the library record.
  local -a _kd_closure=()
  if ((${#_kd_named[@]})); then
    _kd_scripts_closure "${_kd_named[@]}"
    for _kd_line in ${_kd_closure[@]+"${_kd_closure[@]}"}; do
      _kd_kind=${_kd_line%% *} _kd_line=${_kd_line#* }
      case $_kd_kind in
        script) _kd_scripts+="script $_kd_line $(_kd_sha256 < "$_kd_line")"$'\n' ;;
        library) _kd_static_library+="$(_kd_sha256 < "$_kd_line")  $_kd_line"$'\n' ;;
      esac
    done
  fi
  # External inputs: "input<TAB>path<TAB>kind:hash<TAB>resolved path" records; folder manifests
  # ("index<TAB>relative path<TAB>size<TAB>mtime" lines) in a temporary file until the stamps are made.
  local _kd_ext_records="" _kd_manifest="" _kd_i
  if ((${#_kd_ext[@]})); then
    _kd_manifest=$(mktemp)
    for _kd_i in "${!_kd_ext[@]}"; do
      _kd_ext_records+=$(_kd_input_record "$_kd_i" "${_kd_ext[_kd_i]}" "$_kd_manifest" "${_kd_listed[_kd_i]}")$'\n'
    done
  fi
  _kd_inputs=$(
    {
      for _kd_dep in "${_kd_deps[@]}"; do
        printf 'dep\0%s\0' "$(_kd_stamp_fingerprint "$_kd_dep/$_KD_STAMP")"
      done
      # Only when there are external inputs, so that other stages keep their fingerprints.
      [[ -z $_kd_ext_records ]] || printf 'external\0%s' "$_kd_ext_records"
    } | _kd_sha256
  )
  _kd_base=$(
    {
      printf 'scheme\0%s\0code\0%s\0' "$_KD_SCHEME" "$_kd_code"
      for _kd_conf in "${_kd_confs[@]}"; do printf 'conf\0'; _kd_sha256 < "$_kd_conf"; done
      printf 'scripts\0%s' "$_kd_scripts"
      printf 'inputs\0%s' "$_kd_inputs"
    } | _kd_sha256
  )

  local _kd_up_to_date=true _kd_why="" _kd_stamp_base
  for _kd_out in "${_kd_outs[@]}"; do
    _kd_stamp_base=""
    [[ ! -f $_kd_out/$_KD_STAMP ]] || _kd_stamp_base=$(sed -n 's/^base //p' "$_kd_out/$_KD_STAMP" | head -n 1)
    if [[ $_kd_stamp_base != "$_kd_base" ]]; then
      _kd_up_to_date=false
      [[ -n $_kd_why || ! -f $_kd_out/$_KD_STAMP ]] ||
        _kd_why=$(_kd_rerun_reason "$_kd_out/$_KD_STAMP" "$_kd_code" "$_kd_scripts" \
          "${#_kd_confs[@]}" "${_kd_confs[@]}" "${_kd_deps[@]}")
    fi
  done
  if $_kd_up_to_date; then
    # Up to date by its base: has the library code it ran changed since?
    local -a _kd_changed=()
    mapfile -t _kd_changed < <(_kd_library_changes "${_kd_outs[0]}/$_KD_STAMP")
    if ((${#_kd_changed[@]})); then
      local _kd_files="${_kd_changed[*]:0:3}"
      ((${#_kd_changed[@]} <= 3)) || _kd_files+=" and $((${#_kd_changed[@]} - 3)) more"
      _kd_files=${_kd_files// /, }
      _kd_files=${_kd_files//, and, / and }
      if [[ ${rerun_changed_code:-${KDSPEECH_RERUN_CHANGED_CODE:-false}} == true ]]; then
        _kd_up_to_date=false
        _kd_why="the library code it ran changed: $_kd_files (--rerun_changed_code true)"
      else
        log "WARNING: Stage $_kd_label: ${_kd_outs[*]} up to date by its inputs, configs and scripts," \
          "but the library code it ran changed since: $_kd_files; its outputs are those of the old" \
          "code, kept. Re-run it with --stage $_kd_num --stop_stage $_kd_num --rerun_changed_code true" \
          "(or every stage whose code changed: --rerun_changed_code true)"
      fi
    fi
  fi
  if $_kd_up_to_date; then
    log "Stage $_kd_label: ${_kd_outs[*]} up to date, skipped"
    unset KDSPEECH_STAGE
    # Same contents; the new manifest has the files' new times, so that they are not read again.
    [[ -z $_kd_manifest ]] || _kd_keep_manifest
    return 0
  fi
  [[ -z $_kd_why ]] || log "Stage $_kd_label: re-running: $_kd_why"
  # What the stage is made from, for commands that keep partial work (training checkpoints).
  # KDSPEECH_STAGE_INPUTS covers the inputs only: a changed config or command keeps the checkpoints
  # of an unchanged input (the trainer decides what may be resumed), a changed input discards them.
  # The library code of the run is recorded by its Python processes in a folder of the first output.
  local _kd_record=${_kd_outs[0]}/.done.code.$$
  export KDSPEECH_STAGE_FINGERPRINT=$_kd_base KDSPEECH_STAGE_INPUTS=$_kd_inputs
  export KDSPEECH_CODE_RECORD
  KDSPEECH_CODE_RECORD=$(realpath -m -- "$_kd_record")

  # Run.  Old stamps go first, so that an interrupted or failed run leaves none.
  for _kd_out in "${_kd_outs[@]}"; do
    rm -f -- "$_kd_out/$_KD_STAMP" "$_kd_out/$_KD_STAMP.inputs"
    mkdir -p -- "$_kd_out"
  done
  rm -rf -- "$_kd_record"
  mkdir -p -- "$_kd_record"
  local _kd_watch="" _kd_watch_pids=()
  ((${#_kd_prog[@]} == 0)) || _kd_progress_start "${_kd_prog[@]}"
  [[ -z $_kd_log ]] || mkdir -p -- "$(dirname "$_kd_log")"
  local _kd_rc=0
  if [[ -n $_kd_cmd ]]; then
    # Through the job runner, which prints the failing job's log tail itself.
    local -a _kd_runner
    read -r -a _kd_runner <<< "$_kd_cmd"   # word-split, as Kaldi's $train_cmd is
    if [[ -n $_kd_nj ]]; then
      "${_kd_runner[@]}" "JOB=1:$_kd_nj" "$_kd_log" "${_kd_command[@]}" || _kd_rc=$?
    else
      "${_kd_runner[@]}" "$_kd_log" "${_kd_command[@]}" || _kd_rc=$?
    fi
    _kd_progress_stop
    ((_kd_rc == 0)) ||
      _kd_die "stage $_kd_label failed (job runner exit code $_kd_rc; logs: ${_kd_log//JOB/*})"
    _kd_show_warnings "$_kd_label" "$_kd_log"
  else
    # In a subshell run as a plain statement, not as the condition of an `if` or `||`: there bash
    # would ignore `set -e` inside a recipe function.  The subshell gets the caller's `set -e`
    # back; it runs in the foreground, so Ctrl-C stops it too.
    local _kd_errexit=false
    [[ $- == *e* ]] && _kd_errexit=true
    set +e
    (
      if $_kd_errexit; then set -e; fi
      _kd_run_direct "$_kd_log" "${_kd_command[@]}"
    )
    _kd_rc=$?
    if $_kd_errexit; then set -e; fi
    _kd_progress_stop
    if ((_kd_rc != 0)); then
      if [[ -n $_kd_log && -f $_kd_log ]]; then
        echo "---- last 20 lines of $_kd_log ----" >&2
        tail -n 20 -- "$_kd_log" >&2
        echo "----" >&2
      fi
      _kd_die "stage $_kd_label failed (exit code $_kd_rc${_kd_log:+; log: $_kd_log})"
    fi
  fi

  # Success: the library code it ran (its utils/ scripts, the modules its Python processes
  # recorded), the fingerprint over the base and that code, then the stamps, each atomically
  # (temporary name, then rename).
  local _kd_library _kd_fingerprint
  _kd_library=$({ printf '%s' "$_kd_static_library"; cat -- "$_kd_record"/*.txt 2> /dev/null || true; } |
    _kd_library_lines)
  rm -rf -- "$_kd_record"
  unset KDSPEECH_CODE_RECORD
  _kd_fingerprint=$(printf 'base\0%s\0library\0%s' "$_kd_base" "$_kd_library" | _kd_sha256)
  local _kd_stamp _kd_tmp
  _kd_stamp=$(_kd_stamp_text "$_kd_num" "$_kd_name" "$_kd_fingerprint" "$_kd_base" "$_kd_code" \
    "$_kd_inputs" "$(printf '%q ' "${_kd_command[@]}")" "$(printf '%s\n' "${_kd_params[@]}")" \
    "$_kd_scripts" "$_kd_library" "${#_kd_confs[@]}" "${_kd_confs[@]}" "${_kd_deps[@]}")
  # first the manifests of the external inputs (for a re-run's reason and the hashes it reuses)
  [[ -z $_kd_manifest ]] || _kd_keep_manifest
  for _kd_out in "${_kd_outs[@]}"; do
    _kd_tmp=$_kd_out/$_KD_STAMP.tmp.$$
    printf '%s\n' "$_kd_stamp" > "$_kd_tmp"
    mv -f -- "$_kd_tmp" "$_kd_out/$_KD_STAMP"
  done
  unset KDSPEECH_STAGE KDSPEECH_STAGE_FINGERPRINT KDSPEECH_STAGE_INPUTS
  return 0
}

# Move stage_run's temporary manifest ($_kd_manifest, dynamic scope) to <out>/.done.inputs of every
# output, atomically (a temporary name, then rename).
_kd_keep_manifest() {
  local out tmp
  for out in "${_kd_outs[@]}"; do
    tmp=$out/$_KD_STAMP.inputs.tmp.$$
    cp -- "$_kd_manifest" "$tmp"
    mv -f -- "$tmp" "$out/$_KD_STAMP.inputs"
  done
  rm -f -- "$_kd_manifest"
}

# The warnings of a stage whose jobs logged to files only (job runners): "WARNING:" lines of the
# Python logging format of kdspeech.cli (not the runner's "# command" line), at most 10, so that
# e.g. a corpus at mixed sample rates is seen on the terminal, not only in exp/.../log/.
_kd_show_warnings() {
  local label=$1 pattern=$2 warnings
  # shellcheck disable=SC2086  # the glob of the job logs
  warnings=$(grep -h -- ' WARNING: ' ${pattern//JOB/*} 2> /dev/null | grep -v '^#' | head -n 10) ||
    true
  [[ -z $warnings ]] || printf 'stage %s: warnings in %s:\n%s\n' "$label" "${pattern//JOB/*}" \
    "$warnings" >&2
}

# Run a command with its output on the terminal and, when a log is given, in the log too.
_kd_run_direct() {
  local _kd_logfile=$1
  shift
  if [[ -n $_kd_logfile ]]; then
    set -o pipefail
    "$@" 2>&1 | tee -- "$_kd_logfile"
  else
    "$@"
  fi
}

# The stamp's text.  The fingerprint line is read back by later stages; the base line by a re-run
# of this stage, to decide; the scheme, code, conf, script and dep lines to say why it runs again;
# the library lines to say which code changed since; the rest is a record of how the outputs were
# made.  Args: N name fingerprint base code inputs command params scripts library n_confs confs... deps...
_kd_stamp_text() {
  local num=$1 name=$2 fingerprint=$3 base=$4 code=$5 inputs=$6 command=$7 params=$8 scripts=$9
  local library=${10} n_confs=${11}
  shift 11
  local -a confs=("${@:1:n_confs}") deps=("${@:n_confs+1}")
  local conf dep
  echo "fingerprint $fingerprint"
  echo "scheme $_KD_SCHEME"
  echo "base $base"
  echo "stage $num"
  echo "name $name"
  echo "date $(date '+%Y-%m-%dT%H:%M:%S%z')"
  echo "command ${command% }"
  echo "code $code"
  echo "inputs $inputs"
  [[ -z $params ]] || sed 's/^/param /' <<< "$params"
  for conf in "${confs[@]}"; do
    echo "conf $conf $(_kd_sha256 < "$conf")"
  done
  [[ -z $scripts ]] || printf '%s' "$scripts"
  for dep in "${deps[@]}"; do
    echo "dep $dep $(_kd_stamp_fingerprint "$dep/$_KD_STAMP")"
  done
  # External inputs (stage_run's --inputs records, seen through bash's dynamic scope).
  [[ -z ${_kd_ext_records:-} ]] || printf '%s' "$_kd_ext_records"
  [[ -z $library ]] || printf '%s\n' "$library"
  echo "kdspeech_git $(_kd_git_hash)"
}

# Why a stage with an existing but different stamp runs again, from the stamp's record: an older
# fingerprint scheme, or which of code (command, functions, --param), configs, scripts and inputs
# changed.  Args: stamp code scripts n_confs confs... deps...
_kd_rerun_reason() {
  local stamp=$1 code=$2 scripts=$3 n_confs=$4
  shift 4
  local -a confs=("${@:1:n_confs}") deps=("${@:n_confs+1}") why=()
  local scheme conf dep old tag path sha
  scheme=$(sed -n 's/^scheme //p' "$stamp" | head -n 1)
  if [[ ${scheme:-1} != "$_KD_SCHEME" ]]; then
    echo "$stamp: stamp made by fingerprint scheme ${scheme:-1}, now $_KD_SCHEME" \
      "(shell functions count where they are called, the recipe's local/ scripts by content, and the" \
      "library code a stage ran is recorded)"
    return 0
  fi
  [[ $(sed -n 's/^code //p' "$stamp") == "$code" ]] ||
    why+=("the command, a shell function it calls or a --param changed")
  for conf in "${confs[@]}"; do
    old=$(awk -v f="$conf" '$1 == "conf" && $2 == f { print $3 }' "$stamp")
    [[ $old == "$(_kd_sha256 < "$conf")" ]] || why+=("config $conf changed")
  done
  while read -r tag path sha; do
    [[ $tag == script ]] || continue
    old=$(awk -v f="$path" '$1 == "script" && $2 == f { print $3 }' "$stamp")
    if [[ -z $old ]]; then why+=("it now runs script $path"); elif [[ $old != "$sha" ]]; then why+=("script $path changed"); fi
  done <<< "$scripts"
  while read -r tag path sha; do
    [[ $tag == script ]] || continue
    [[ $'\n'$scripts == *$'\n'"script $path "* ]] || why+=("it no longer runs script $path")
  done < "$stamp"
  local -a changed=()
  for dep in "${deps[@]}"; do
    old=$(awk -v d="$dep" '$1 == "dep" && $2 == d { print $3 }' "$stamp")
    [[ $old == "$(_kd_stamp_fingerprint "$dep/$_KD_STAMP")" ]] || changed+=("$dep")
  done
  # A results stage may read dozens of dirs: name a few, count the rest.
  if ((${#changed[@]} > 3)); then
    why+=("${#changed[@]} inputs changed: ${changed[0]}, ${changed[1]}, ${changed[2]} and $((${#changed[@]} - 3)) more")
  else
    for dep in ${changed[@]+"${changed[@]}"}; do why+=("input $dep changed"); done
  fi
  local reason
  while IFS= read -r reason; do why+=("$reason"); done < <(_kd_input_reasons "$stamp")
  ((${#why[@]})) || why+=("its list of configs or inputs changed")
  local IFS=";"
  echo "${why[*]}" | sed 's/;/; /g'
}

# --- external inputs -------------------------------------------------------------------------------

# db_input_opts: sets the array input_opts to "--inputs <path>" for each entry of the array
# data_inputs that the recipe's db.sh declares (its corpus folders, CSV files), and to
# "--inputs_listed <path>" for each entry of its array data_lists (a CSV or data dir that lists files
# elsewhere: it and the files it lists), for stage 1's stage_run.
db_input_opts() {
  local kind path
  input_opts=()
  while IFS=$'\t' read -r kind path; do
    if [[ -n $path ]]; then input_opts+=("--${kind}" "$path"); fi
  done < <(data_inputs=() data_lists=(); . ./db.sh > /dev/null
           printf 'inputs\t%s\n' ${data_inputs[@]+"${data_inputs[@]}"}
           printf 'inputs_listed\t%s\n' ${data_lists[@]+"${data_lists[@]}"})
  return 0
}

# One input's stamp record, "input<TAB>path<TAB>kind:hash<TAB>resolved path"; the manifest of a
# folder or a listing ("index<TAB>path<TAB>size<TAB>mtime<TAB>sha256" lines, by
# kdspeech.bin.list_files) is appended to the file $3.  The hash covers paths, sizes and contents,
# not times: a file is read when it is new or its size or time differs from the last stamp's manifest
# (the only cost of a touched, copied or restored corpus is reading it once).  With $4 = listed
# (--inputs_listed), a data dir or CSV and the files it lists: its own files by content
# ("index<TAB>name<TAB>-<TAB>-<TAB>sha256"), then each listed file.
# Args: index path manifest_file [listed]
_kd_input_record() {
  local index=$1 path=$2 manifest=$3 listed=${4:-} resolved kind hash lines known name
  resolved=$(realpath -m -- "$path")
  if [[ -n $listed && -e $resolved ]] || [[ -z $listed && -d $resolved ]]; then
    local -a how=(--folder)
    kind=folder
    [[ -z $listed ]] || { kind=listing how=(); }
    known=$(mktemp)
    _kd_known_files "$resolved" > "$known"
    lines=$(python -m kdspeech.bin.list_files ${how[@]+"${how[@]}"} --known "$known" "$resolved") ||
      { rm -f -- "$known"; _kd_die "stage $_kd_label: cannot list the files of input $path (above)"; }
    rm -f -- "$known"
    if [[ -n $listed ]]; then   # the list's own files by content, before the files it lists
      lines=$(
        if [[ -d $resolved ]]; then
          find "$resolved" -mindepth 1 -maxdepth 1 -type f ! -name '.*' -printf '%f\n' | LC_ALL=C sort |
            while IFS= read -r name; do printf '%s\t-\t-\t%s\n' "$name" "$(_kd_sha256 < "$resolved/$name")"; done
        else
          printf '%s\t-\t-\t%s\n' "$(basename -- "$resolved")" "$(_kd_sha256 < "$resolved")"
        fi
        [[ -z $lines ]] || printf '%s\n' "$lines")
    fi
    [[ -z $lines ]] || printf '%s\n' "$lines" | sed "s/^/$index\t/" >> "$manifest"
    hash=$(printf '%s' "$lines" | cut -f1,2,4 | _kd_sha256)
  elif [[ -f $resolved ]]; then
    kind=file
    hash=$(_kd_sha256 < "$resolved")
  else
    kind=missing
    hash=-
  fi
  printf 'input\t%s\t%s:%s\t%s' "$path" "$kind" "$hash" "$resolved"
}

# The lines of the last stamp's manifest (of the first --out; stage_run's $_kd_outs, dynamic scope)
# for the input that resolved to $1, without their index: the hashes list_files may reuse.
_kd_known_files() {
  local resolved=$1 stamp=${_kd_outs[0]}/$_KD_STAMP old_index
  [[ -f $stamp && -f $stamp.inputs ]] || return 0
  old_index=$(awk -F'\t' -v r="$resolved" '$1 == "input" { if ($4 == r) { print n + 0; exit }; n++ }' "$stamp")
  [[ -z $old_index ]] || awk -F'\t' -v i="$old_index" -v OFS='\t' '$1 == i { $1 = ""; print substr($0, 2) }' "$stamp.inputs"
}

# Why the external inputs differ from those of a stamp: one line per changed input.  Reads
# stage_run's $_kd_ext_records and $_kd_manifest (dynamic scope) and the stamp's .inputs manifests.
_kd_input_reasons() {
  local stamp=$1 tag path state resolved old_state old_resolved index=0
  [[ -n ${_kd_ext_records:-} ]] || return 0
  while IFS=$'\t' read -r tag path state resolved; do
    [[ $tag == input ]] || continue
    # The input of the same position (a db.sh path may name another folder now).
    old_state="" old_resolved=""
    IFS=$'\t' read -r old_state old_resolved < <(awk -F'\t' -v i="$index" \
      '$1 == "input" && n++ == i { print $3 "\t" $4; exit }' "$stamp") || true
    if [[ -z $old_state ]]; then
      echo "input $path is now part of the fingerprint"
    elif [[ $old_resolved != "$resolved" ]]; then
      echo "input $path now points to $resolved (was $old_resolved)"
    elif [[ $old_state != "$state" ]]; then
      case $state in
        missing:*) echo "input $path is gone" ;;
        file:*) echo "input file $path changed" ;;
        folder:*) echo "input folder $path changed ($(_kd_manifest_diff "$stamp.inputs" "$index"))" ;;
        listing:*) echo "input $path or a file it lists changed ($(_kd_manifest_diff "$stamp.inputs" "$index"))" ;;
      esac
    fi
    index=$((index + 1))
  done <<< "$_kd_ext_records"
}

# "N files added (e.g. a.wav), M removed (...), K changed (...)" between the stamp's manifest and the
# new one of input number $2: a file changed when its size or content did (not its time).
# Args: old_manifest_file index
_kd_manifest_diff() {
  local old=$1 index=$2
  [[ -f $old ]] || { echo "files added, removed or changed"; return 0; }
  awk -F'\t' -v i="$index" '
    FNR == 1 { file++ }
    $1 != i { next }
    file == 1 { if (NF < 5) legacy = 1; old[$2] = $3 "\t" $5; next }
    { if (!($2 in old)) { add++; if (!a) a = $2 }
      else { if (old[$2] != $3 "\t" $5) { chg++; if (!c) c = $2 }; delete old[$2] } }
    END {
      if (legacy) { print "its last manifest has times, not contents: inputs are compared by content since, a one-time re-run"; exit }
      for (f in old) { rem++; if (!r || f < r) r = f }
      out = ""
      if (add) out = out sprintf("%d file%s added, e.g. %s", add, add > 1 ? "s" : "", a)
      if (rem) out = out (out ? "; " : "") sprintf("%d removed, e.g. %s", rem, r)
      if (chg) out = out (out ? "; " : "") sprintf("%d changed, e.g. %s", chg, c)
      print (out ? out : "files changed")
    }' "$old" "$_kd_manifest"
}

# --- progress of trainings -------------------------------------------------------------------------

# Follow the train.log of each exp dir and print one line per finished epoch on stderr.  Sets
# stage_run's $_kd_watch (a sentinel process whose end stops the followers) and $_kd_watch_pids.
# Args: exp dirs...
_kd_progress_start() {
  local dir
  sleep 2147483647 < /dev/null > /dev/null 2>&1 &
  _kd_watch=$!
  for dir in "$@"; do
    mkdir -p -- "$dir/log"
    # The job runner rewrites train.log when the training starts; emptying it here lets the follower
    # read from the first line whenever it opens the file (`tail -n 0`, opened late on a busy machine,
    # skipped the epochs written before it looked).
    : > "$dir/log/train.log"
    tail -n +1 -s 0.5 -F --pid="$_kd_watch" -- "$dir/log/train.log" 2> /dev/null < /dev/null |
      _kd_progress_lines "$dir" >&2 &
    _kd_watch_pids+=("$!")
  done
}

# mawk (Debian's and Ubuntu's awk) reads a pipe in whole blocks: the line a training wrote reached it
# only when 4 KiB had gathered or the training ended, so two trainings run side by side showed all their
# epochs at once at their ends.  `-W interactive` makes mawk read a pipe line by line; gawk and busybox
# awk read what is there already.
if awk -W version 2> /dev/null | grep -q mawk; then _KD_AWK_LIVE=(awk -W interactive); else _KD_AWK_LIVE=(awk); fi

# Epoch lines of the trainer ("epoch 3: train loss ..., valid loss ..., lr ..., 41.2 s") -> a
# console line with the total from <dir>/config.yaml and the time left.  Args: exp dir
_kd_progress_lines() {
  "${_KD_AWK_LIVE[@]}" -v dir="$1" -v cfg="$1/config.yaml" '
    function total(   line, n) {
      n = 0
      while ((getline line < cfg) > 0) if (match(line, /max_epochs: *[0-9]+/)) {
        n = substr(line, RSTART, RLENGTH); sub(/.*: */, "", n) }
      close(cfg)
      return n + 0
    }
    match($0, / epoch [0-9]+: train loss /) {
      text = substr($0, RSTART + 1)
      split(text, w, /[ :]/); epoch = w[2] + 0
      secs = 0
      if (match(text, /, [0-9.]+ s$/)) { secs = substr(text, RSTART + 2); sub(/ s$/, "", secs) }
      sub(/, [0-9.]+ s$/, "", text); sub(/^epoch [0-9]+: /, "", text); sub(/, lr [^,]*$/, "", text)
      # The current rate: the mean time of the last (up to) 3 epochs seen.
      n = total(); recent[count % 3] = secs; count++
      window = count < 3 ? count : 3; recent_secs = 0
      for (i = 0; i < window; i++) recent_secs += recent[i]
      left = ""
      if (n > epoch && count > 0) {
        t = (n - epoch) * recent_secs / window
        left = t >= 90 ? sprintf(", about %d min left", t / 60 + 0.5) : sprintf(", about %d s left", t + 0.5)
      }
      printf "%s  %s: epoch %d%s, %s, %.1f s/epoch%s\n", strftime("%Y-%m-%dT%H:%M:%S"), dir, epoch,
        (n ? "/" n : ""), text, secs, left
      fflush()
    }'
}

# Stop the followers of _kd_progress_start and wait until they printed what they had (tail notices
# the sentinel's end within its 0.5 s interval).
_kd_progress_stop() {
  [[ -n ${_kd_watch:-} ]] || return 0
  kill "$_kd_watch" 2> /dev/null || true
  wait "$_kd_watch" 2> /dev/null || true
  local pid
  for pid in "${_kd_watch_pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  _kd_watch=""
  _kd_watch_pids=()
}
