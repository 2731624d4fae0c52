#!/usr/bin/env bash
# Resample every audio entry of a data dir to one rate (kdspeech.bin.resample_data_dir), in --nj jobs of
# the job runner of cmd.sh, then merge.  Kaldi steps/ style.  Files at another rate than the rest are
# named in a warning at the merge; --strict_rate true makes that an error.
#
#   utils/resample.sh [options] <src data dir> <dst data dir> <rate>
#
# Job logs: <dst>/log/resample.JOB.log.  Killed jobs resume (finished files are kept).
set -euo pipefail

cmd=${train_cmd:-utils/run.py}  # job runner (default: $train_cmd of cmd.sh, else utils/run.py)
nj=1                   # parallel jobs (1: one process converts and merges)
strict_rate=false      # true: a source file at another rate than the rest is an error

help_message="Usage: $0 [options] <src data dir> <dst data dir> <rate>
e.g.: $0 --nj 4 data/clean_train dump/raw/clean_train 16000"
. "$(dirname "$0")/parse_options.sh"

if [ $# -ne 3 ]; then
  echo "$help_message" >&2
  exit 1
fi
src=$1 dst=$2 sr=$3
[ -f "${src}/wav.scp" ] || { echo "$0: ${src}/wav.scp not found (data dir to resample into ${dst})" >&2; exit 1; }
opts=(--src "${src}" --dst "${dst}" --sr "${sr}" --strict_rate "${strict_rate}")
if [ "${nj}" -eq 1 ]; then
  python -m kdspeech.bin.resample_data_dir "${opts[@]}"
  exit 0
fi
# shellcheck disable=SC2086  # $cmd is a command line, word-split as Kaldi's $train_cmd is
${cmd} JOB=1:"${nj}" "${dst}/log/resample.JOB.log" python -m kdspeech.bin.resample_data_dir "${opts[@]}" --job JOB --nj "${nj}"
python -m kdspeech.bin.resample_data_dir "${opts[@]}" --merge --nj "${nj}"
