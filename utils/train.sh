#!/usr/bin/env bash
# Train one model (kdspeech.bin.train) through the job runner of cmd.sh, Kaldi steps/ style.
#
#   utils/train.sh [options] <config> <train data dir> <valid data dir> <exp dir> [key.path=value ...]
#
# Runs `$cmd --gpu N --num_nodes M <exp dir>/log/train.log utils/launch.py ... -- python -m
# kdspeech.bin.train ...`: one process, or torchrun with DDP when --ngpu > 1 or --num_nodes > 1.
# With --ngpu 0 the training runs on the CPU even when a GPU is visible (trainer.device=cpu); with
# --ngpu > 0 it must get a GPU (trainer.device=cuda).  Trailing key.path=value words override the
# config (after the device, so `trainer.device=...` there wins).  Re-running resumes from the exp
# dir's last checkpoint.  On failure the runner prints the log's tail.
set -euo pipefail

cmd=${cuda_cmd:-utils/run.py}  # job runner (default: $cuda_cmd of cmd.sh, else utils/run.py)
ngpu=0                 # GPUs per node (0: CPU)
num_nodes=1            # nodes (multi-node DDP through torchrun)
seed=1                 # seed of model initialisation, shuffling and crops

help_message="Usage: $0 [options] <config> <train data dir> <valid data dir> <exp dir> [key.path=value ...]
e.g.: $0 --ngpu 0 conf/train_student.yaml dump/mix/student dump/mix/valid exp/student_s1 trainer.max_epochs=2"
. "$(dirname "$0")/parse_options.sh"

if [ $# -lt 4 ]; then
  echo "$help_message" >&2
  exit 1
fi
config=$1 train=$2 valid=$3 dir=$4
shift 4
for d in "${train}" "${valid}"; do
  [ -f "${d}/wav.scp" ] || { echo "$0: ${d}/wav.scp not found (data dir of ${dir})" >&2; exit 1; }
done
[ -f "${config}" ] || { echo "$0: config ${config} not found (training of ${dir})" >&2; exit 1; }
[[ ${ngpu} =~ ^[0-9]+$ ]] || { echo "$0: --ngpu must be a number, got '${ngpu}'" >&2; exit 1; }
device=cpu
[ "${ngpu}" -gt 0 ] && device=cuda

mkdir -p "${dir}/log"
# shellcheck disable=SC2086  # $cmd is a command line, word-split as Kaldi's $train_cmd is
${cmd} --gpu "${ngpu}" --num_nodes "${num_nodes}" "${dir}/log/train.log" \
  utils/launch.py --ngpu "${ngpu}" --num_nodes "${num_nodes}" -- \
  python -m kdspeech.bin.train --config "${config}" --train_data "${train}" --valid_data "${valid}" \
    --out_dir "${dir}" --seed "${seed}" "trainer.device=${device}" "$@"
