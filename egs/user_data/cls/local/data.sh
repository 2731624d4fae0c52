#!/usr/bin/env bash
# Stage 1 of egs/user_data/cls: data/all from your CSV (db.sh: user_csv=...; header path,label,fold or
# path,label,participant), then data/fold<k>/{train,valid,test}: your folds, or --num_folds folds of
# whole participants.  Validation = valid_fraction of each class of the training folds.
set -euo pipefail
out=data
seed=1
num_folds=5
valid_fraction=0.15
help_message="Usage: $0 [--out data] [--seed 1] [--num_folds 5] [--valid_fraction 0.15]"
. utils/parse_options.sh
. ./db.sh
python local/prepare_csv.py --csv "${user_csv}" --out "${out}/all"
python -m kdspeech.bin.split_cls --data "${out}/all" --out "${out}" --num_folds "${num_folds}" \
  --valid_fraction "${valid_fraction}" --seed "${seed}"
