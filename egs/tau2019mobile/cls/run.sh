#!/usr/bin/env bash
# TAU Urban Acoustic Scenes 2019 Mobile (10 scenes, DCASE 2019 split) heard through 1 and 2 kHz
# microphones: fine-tuning, BASD and CSSD (Liang et al.).  One fold (the official split).
#   ./run.sh --pretrained downloads/pretrained/Cnn14_16k_mAP=0.438.pth
set -euo pipefail
./cls.sh \
  --rates "1000 2000" \
  --folds 1 \
  --duration 10.0 \
  --train_conf conf/train.yaml \
  --grid_conf conf/grid.yaml \
  --metric macro_accuracy \
  "$@"
