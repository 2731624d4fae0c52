#!/usr/bin/env bash
# Contrastive knowledge distillation of TinyECAPA (Serre et al., first half) on VoxCeleb: training on
# VoxCeleb2 dev (5 % of its speakers held out for validation), test on VoxCeleb1-O (veri_test2.txt),
# t-SNE of 10 VoxCeleb1-O speakers.  Stages in egs/TEMPLATE/spk/spk.sh; corpus paths in db.sh.
#   ./run.sh                          resemblyzer teacher (256-d), three students (contrastive, cos, mse)
#   ./run.sh --teacher_conf conf/teacher_ecapa.yaml   an ECAPA-TDNN checkpoint (edit its path) as teacher
#                                     (then student d_E 192: use the *_ecapa student configs)
#   ./run.sh --train_teacher true     train a reduced ECAPA-TDNN with AAM-softmax first and distil from it
set -euo pipefail

train_teacher=false    # train a reduced ECAPA-TDNN with AAM-softmax first (stage 3) and distil from it

help_message="Usage: $0 [options]   (every other option is spk.sh's)"
pass_options_to=./spk.sh
. utils/parse_options.sh
run_words=("$0")   # the command, for RESULTS.md
[ "${train_teacher}" = false ] || run_words+=(--train_teacher true)

systems="
contrastive conf/train_contrastive.yaml train valid cache
cos         conf/train_cos.yaml         train valid cache
mse         conf/train_mse.yaml         train valid cache
"
teacher_opts=(--teacher_conf conf/teacher.yaml --teacher_name resemblyzer)
if [ "${train_teacher}" = true ]; then
  teacher_opts=(--teacher_systems "ecapa_small conf/train_ecapa_small.yaml train valid -"
                --teacher_conf conf/teacher_trained.yaml --teacher_name ecapa_small)
  systems="
contrastive conf/train_contrastive_ecapa.yaml train valid cache
"
fi

./spk.sh \
  --fs 16000 \
  "${teacher_opts[@]}" --teacher_set teacher \
  --cache_sets "train valid" \
  --systems "${systems}" \
  --test_sets test --tsne_set tsne --tsne_speakers 10 \
  --protocols "asym ss" \
  --compare "contrastive:cos contrastive:mse" \
  --chunk_sweep "0.5 1.0 1.5 2.0 3.0" --chunk_models contrastive \
  --deploy true \
  --paper_results conf/paper_results.yaml \
  --run_command "$(printf '%q ' "${run_words[@]}" ${passed_options[@]+"${passed_options[@]}"})" \
  ${passed_options[@]+"${passed_options[@]}"}
