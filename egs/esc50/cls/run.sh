#!/usr/bin/env bash
# ESC-50 (5-fold cross-validation, 50 classes) heard through 1 and 2 kHz microphones: fine-tuning,
# BASD and CSSD (Liang et al.).  Paper setting (needs the full corpus and, for the paper's numbers,
# the PANNs CNN14 16 kHz AudioSet checkpoint):
#   ./run.sh --download true --pretrained downloads/pretrained/Cnn14_16k_mAP=0.438.pth
# CPU-scale run on the shared 414-clip subset (see RESULTS.md):
#   KDSPEECH_ESC50=$PWD/../../../../shared/corpora/esc50 ./run.sh --conf_dir conf/cpu \
#     --local_data_opts "--resplit true" --init_args trainer.max_epochs=16 --train_jobs 2
set -euo pipefail
. ./db.sh
conf_dir=conf
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = --conf_dir ]; then conf_dir=$2; shift 2; else args+=("$1"); shift; fi
done
./cls.sh \
  --rates "1000 2000" \
  --folds "1 2 3 4 5" \
  --duration 5.0 \
  --train_conf "${conf_dir}/train.yaml" \
  --grid_conf "${conf_dir}/grid.yaml" \
  --metric macro_accuracy \
  --paper_results conf/paper.yaml \
  --privacy true \
  --privacy_data "${privacy_speech}" \
  "${args[@]}"
