#!/usr/bin/env bash
# Your own clips through 1 and 2 kHz microphones: fine-tuning, BASD and CSSD, scored with macro F1.
#   KDSPEECH_USER_CSV=/path/my_clips.csv ./run.sh --folds "1 2 3 4 5" [--pretrained <PANNs .pth>]
# --folds must list the fold names of your CSV (or 1..num_folds for participant CSVs);
# --duration: seconds per clip (longer clips are cut, shorter zero-padded).
set -euo pipefail
./cls.sh \
  --rates "1000 2000" \
  --folds "1 2 3 4 5" \
  --duration 5.0 \
  --train_conf conf/train.yaml \
  --grid_conf conf/grid.yaml \
  --metric macro_f1 \
  "$@"
