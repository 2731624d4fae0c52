# Sourced (not run) by local/*.sh after they declare their option variables with defaults:
# parses "--name value" options into those variables and leaves the positional arguments in "$@".
# Uses the toolkit's utils/parse_options.sh (Kaldi semantics) when present; otherwise a minimal
# equivalent: "--foo-bar v" or "--foo_bar v" sets the already-declared variable foo_bar, an
# undeclared option is an error, and --help prints $help_message.

_kd_local_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_kd_parse_options=
for _kd_candidate in "$_kd_local_dir/../utils/parse_options.sh" "$_kd_local_dir/../../../../utils/parse_options.sh"; do
  if [ -f "$_kd_candidate" ]; then _kd_parse_options=$_kd_candidate; break; fi
done

if [ -n "$_kd_parse_options" ]; then
  . "$_kd_parse_options"
else
  while [ $# -gt 0 ]; do
    case "$1" in
      --help|-h) echo "${help_message:-no help}" >&2; exit 0 ;;
      --) shift; break ;;
      --*)
        _kd_name=${1#--}; _kd_name=${_kd_name//-/_}
        if [ -z "${!_kd_name+set}" ] || ! [[ "$_kd_name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
          echo "$0: invalid option $1" >&2; exit 1
        fi
        if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 1; fi
        printf -v "$_kd_name" '%s' "$2"; shift 2 ;;
      *) break ;;
    esac
  done
fi
