#!/usr/bin/env bash
# Enhance every mixture of a data dir with a trained model (kdspeech.bin.enhance), in --nj jobs of the
# job runner of cmd.sh, then merge the jobs' lists into <out dir>/wav.scp.  Kaldi steps/ style.
#
#   utils/enhance.sh [options] <model: exp dir or model file> <mixture data dir> <out dir>
#
# Job logs: <out dir>/log/enhance.JOB.log.  Killed jobs resume (finished utterances are kept).
set -euo pipefail

cmd=${decode_cmd:-utils/run.py}  # job runner (default: $decode_cmd of cmd.sh, else utils/run.py)
nj=1                   # parallel jobs
fs=16000               # sample rate the model expects
device=cpu             # auto | cpu | cuda (a recipe passes cpu for --ngpu 0, cuda otherwise)
num_threads=1          # torch threads per job
enhance_opts=""        # more options of kdspeech.bin.enhance, e.g. "--enroll_emb table.npz" for a personalized model

help_message="Usage: $0 [options] <model: exp dir or model file> <mixture data dir> <out dir>
e.g.: $0 --nj 4 --device cpu exp/student_s2 dump/mix/test_seen exp/student_s2/enhanced_test_seen"
. "$(dirname "$0")/parse_options.sh"

if [ $# -ne 3 ]; then
  echo "$help_message" >&2
  exit 1
fi
model=$1 data=$2 dir=$3
[ -f "${data}/wav.scp" ] || { echo "$0: ${data}/wav.scp not found (mixtures to enhance into ${dir})" >&2; exit 1; }
case "${device}" in
  auto | cpu) gpu_opts=() ;;
  cuda) gpu_opts=(--gpu 1) ;;
  *) echo "$0: --device must be auto, cpu or cuda, got '${device}'" >&2; exit 1 ;;
esac

opts=(--data "${data}" --out_dir "${dir}" --nj "${nj}")
# shellcheck disable=SC2086  # $cmd is a command line, word-split as Kaldi's $decode_cmd is
${cmd} "${gpu_opts[@]}" JOB=1:"${nj}" "${dir}/log/enhance.JOB.log" \
  python -m kdspeech.bin.enhance --model "${model}" "${opts[@]}" --sr "${fs}" --device "${device}" \
    --num_threads "${num_threads}" ${enhance_opts} --job JOB
python -m kdspeech.bin.enhance "${opts[@]}" --merge
