# shellcheck shell=bash
# Command-line options for recipe scripts, Kaldi style.  Source it AFTER the script has set its
# variables, and without arguments (so that it can shift the caller's "$@"):
#
#     stage=1          # first stage to run
#     stop_stage=100   # last stage to run
#     use_gpu=false    # train on a GPU
#     . utils/parse_options.sh
#
# Then `--stage 3`, `--stage=3` and `--stop-stage 3` (dashes become underscores) set those
# variables.  Only variables that are already set can be set, so a typo is an error, not a silent
# no-op.  A variable whose default is true/false only accepts true/false.  Options stop at the first
# word that is not an option (or after `--`); the rest stays in "$@" for the script.
#
# `--help` / `-h` prints $help_message (when set), then every option with its default and
# description, read from the caller's top-level `name=value  # description` lines that come before
# the line sourcing this file, and exits 0.
#
# Pass-through mode, for a recipe's run.sh in front of its template: a script that sets
# `pass_options_to=<script>` before sourcing this file keeps the options it does not know, in order and
# as given (`--name value` or `--name=value`), in the array `passed_options` instead of failing, so
# that it hands them on ("${passed_options[@]}") and its own options may come in any position:
#
#     conf_dir=conf    # configs of one scale
#     pass_options_to=./enh.sh
#     . utils/parse_options.sh
#     ./enh.sh --fs 16000 "${passed_options[@]}"
#
# Options the script puts in `passed_options` before sourcing this file (its own values of the next
# script's options) stay in front of the command line's.  A script for users rather than developers
# may also set `pass_help_only="name1 name2 ..."`: its `--help` then lists, of the next script's
# options, only these (with the values they would have), and says that the others are accepted too.  Its `--help` lists its own options, then
# runs `<script> "${passed_options[@]}" --help` (the options so far), which lists the next script's
# with the values they would have (and, for a chain of such scripts, each one's in turn).  Define
# the script's other variables after sourcing this file: every variable set before it is an option.
#
# All helper names (even locals: bash scoping is dynamic, a local `name` would hide the script's
# `name` from ${!var}) start with _po_ and are removed again before returning to the caller.

# The script that sourced us: the one whose options these are.
_po_script=${BASH_SOURCE[1]:-$0}

# Print "value<TAB>comment" for the right-hand side of an assignment line: the comment is whatever
# follows an unquoted ` #`, so `x="a # b"  # desc` gives the comment "desc".
_po_split_comment() {
  local _po_text=$1 _po_quote="" _po_prev=" " _po_ch _po_i
  for ((_po_i = 0; _po_i < ${#_po_text}; _po_i++)); do
    _po_ch=${_po_text:_po_i:1}
    if [[ -n $_po_quote ]]; then
      [[ $_po_ch == "$_po_quote" ]] && _po_quote=""
    elif [[ $_po_ch == "'" || $_po_ch == '"' ]]; then
      _po_quote=$_po_ch
    elif [[ $_po_ch == "#" && $_po_prev == [[:space:]] ]]; then
      printf '%s\t%s\n' "${_po_text:0:_po_i}" "${_po_text:_po_i+1}"
      return
    fi
    _po_prev=$_po_ch
  done
  printf '%s\t\n' "$_po_text"
}

# Usage text: $help_message, then the options found in the calling script.
_po_print_help() {
  local _po_line _po_name _po_rest _po_comment _po_value
  if [[ -n ${help_message:-} ]]; then
    printf '%s\n\n' "$help_message"
  else
    printf 'Usage: %s [options] [args]\n\n' "$(basename "$_po_script")"
  fi
  echo "Options (current default in brackets):"
  printf '  %-22s %-14s %s\n' "--help, -h" "" "print this message and exit"
  [[ -r $_po_script ]] || return 0
  while IFS= read -r _po_line || [[ -n $_po_line ]]; do
    # Stop at the line that sources this file: later assignments are not options.
    [[ $_po_line =~ ^[^#]*parse_options\.sh ]] && break
    [[ $_po_line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    _po_name=${BASH_REMATCH[1]}
    _po_rest=${BASH_REMATCH[2]}
    [[ $_po_name == help_message || $_po_name == pass_options_to || $_po_name == passed_options ||
       $_po_name == pass_help_only ]] && continue
    # A line inside a multi-line string can look like an assignment; only list real variables.
    [[ -n ${!_po_name+set} ]] || continue
    _po_comment=$(_po_split_comment "$_po_rest" | cut -f2-)
    _po_comment=${_po_comment#"${_po_comment%%[![:space:]]*}"}   # strip leading blanks
    _po_value=${!_po_name}
    printf '  --%-20s %-14s %s\n' "$_po_name" "[$_po_value]" "$_po_comment"
  done < "$_po_script"
}

_po_pass=${pass_options_to:-}
# Options the script put there first (its own values of the next script's options) stay in front.
[[ -z $_po_pass || -n ${passed_options+set} ]] || passed_options=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --help | -h)
      _po_print_help
      if [[ -n $_po_pass && -n ${pass_help_only:-} ]]; then
        printf '\nOptions of %s:\n' "$_po_pass"
        "$_po_pass" ${passed_options[@]+"${passed_options[@]}"} --help |
          awk -v names=" ${pass_help_only} " '{ n = $1; sub(/^--/, "", n) } /^  --/ && index(names, " " n " ") { print }'
        printf '\nEvery other option of %s is accepted too (%s --help lists them all).\n' "$_po_pass" "$_po_pass"
        exit 0
      fi
      if [[ -n $_po_pass ]]; then
        printf '\nEvery other option goes to %s:\n\n' "$_po_pass"
        exec "$_po_pass" ${passed_options[@]+"${passed_options[@]}"} --help
      fi
      exit 0
      ;;
    --)  # explicit end of options
      shift
      break
      ;;
    --*=*)
      _po_name=${1%%=*}
      _po_value=${1#*=}
      _po_name_given=$_po_name   # the --name=value form (kept as one word when passed on)
      shift
      ;;
    --?*)
      _po_name=$1
      _po_name_given=""
      if [[ $# -lt 2 ]]; then
        echo "$(basename "$_po_script"): option $1 needs a value (see --help)" >&2
        exit 1
      fi
      _po_value=$2
      shift 2
      ;;
    *)  # first non-option: the rest are positional arguments
      break
      ;;
  esac
  _po_option=$_po_name
  _po_name=${_po_name#--}
  _po_name=${_po_name//-/_}
  # Only an identifier that names an already-set variable is a known option.
  if ! [[ $_po_name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [[ -z ${!_po_name+set} ]] ||
     [[ $_po_name == help_message || $_po_name == pass_options_to || $_po_name == passed_options ]]; then
    if [[ -n $_po_pass ]]; then   # pass-through mode: the next script's option, as given
      if [[ $_po_option == "$_po_name_given" ]]; then passed_options+=("$_po_option=$_po_value")
      else passed_options+=("$_po_option" "$_po_value"); fi
      continue
    fi
    echo "$(basename "$_po_script"): unknown option $_po_option (see --help)" >&2
    exit 1
  fi
  # A boolean default only takes a boolean.
  if [[ ${!_po_name} == true || ${!_po_name} == false ]] &&
     [[ $_po_value != true && $_po_value != false ]]; then
    echo "$(basename "$_po_script"): option $_po_option expects true or false, got '$_po_value'" >&2
    exit 1
  fi
  printf -v "$_po_name" '%s' "$_po_value"
done

unset -v _po_script _po_name _po_value _po_option _po_pass _po_name_given
unset -f _po_split_comment _po_print_help
# Leave $? at 0 so that `. utils/parse_options.sh || exit 1` and `set -e` callers carry on.
true
