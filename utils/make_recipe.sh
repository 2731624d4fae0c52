#!/usr/bin/env bash
# Make a new recipe for your own corpus from a task template's skeleton: what each
# egs/TEMPLATE/<task>/setup.sh runs (ESPnet's egs2/TEMPLATE/asr1/setup.sh, for kdspeech's tasks).
#
#   utils/make_recipe.sh <template dir> <new recipe dir>      e.g. egs/TEMPLATE/enh egs/my_corpus/enh
#
# Copies <template dir>/skeleton/ (run.sh, db.sh, local/data.sh, conf/cpu/scale.sh and configs) and
# egs/TEMPLATE/skeleton/ (cmd.sh, path.sh) into the new dir, then makes the links that
# <template dir>/skeleton.links lists ("<link> <target, from the repository root>" lines: the
# template script, utils/, the shared paper lists), each relative to the new dir, so that the
# recipe stays linked to the one copy of what it shares (edit the paper list in its own recipe, not
# in yours).  An existing recipe dir is refused: nothing is overwritten.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "Usage: $0 <template dir> <new recipe dir>   (e.g. egs/TEMPLATE/enh egs/my_corpus/enh)" >&2
  exit 1
fi
template=$(realpath -- "$1")
dest=$2
root=$(realpath -- "$(dirname "$(realpath -- "$0")")/..")
[ -d "${template}/skeleton" ] || { echo "$0: ${template}/skeleton not found (a task template dir?)" >&2; exit 1; }
if [ -e "${dest}" ]; then
  echo "$0: ${dest} exists; give a new dir (nothing was changed)" >&2
  exit 1
fi
tmp="${dest%/}.tmp.$$"
trap 'rm -rf -- "${tmp}"' EXIT
mkdir -p "${tmp}"
cp -R "${root}/egs/TEMPLATE/skeleton/." "${template}/skeleton/." "${tmp}/"
while read -r link target; do
  [ -n "${link}" ] && [[ ${link} != \#* ]] || continue
  [ -e "${root}/${target}" ] || { echo "$0: ${root}/${target} (${template}/skeleton.links) not found" >&2; exit 1; }
  mkdir -p "$(dirname "${tmp}/${link}")"
  # Relative to where the link will live (the final dir, not the temporary one).
  final_dir=$(realpath -m -- "$(dirname "${dest}/${link}")")
  ln -s "$(realpath -m --relative-to="${final_dir}" "${root}/${target}")" "${tmp}/${link}"
done < "${template}/skeleton.links"
mv -- "${tmp}" "${dest}"
trap - EXIT
echo "made ${dest}: $(cd "${dest}" && find . -mindepth 1 \( -type f -o -type l \) ! -path './conf/*' | sed 's|^\./||' | sort | tr '\n' ' ')"
echo "next: point ${dest}/db.sh at your corpus (or write ${dest}/local/data.sh for its layout: its header"
echo "says what it must write), then: cd ${dest} && ./run.sh"
