#!/usr/bin/env bash
# Stage 1 of egs/esc50/cls: data/all from ESC-50 (db.sh: esc50=...), then the cross-validation dirs
# data/fold<k>/{train,valid,test}.  Official folds by default; --resplit true deals the clips into
# --num_folds class-stratified folds instead (for a subset such as ../shared/corpora/esc50, whose
# official folds are nearly all fold 4).  Validation = valid_fraction of each class of the training folds.
set -euo pipefail
out=data
seed=1
num_folds=5
resplit=false
valid_fraction=0.15
allow_missing=false
help_message="Usage: $0 [--out data] [--seed 1] [--num_folds 5] [--resplit false] [--valid_fraction 0.15]"
. utils/parse_options.sh
. ./db.sh
opts=()
[ "${allow_missing}" = true ] && opts+=(--allow_missing)
python local/prepare_esc50.py --root "${esc50}" --out "${out}/all" "${opts[@]}"
split=(--data "${out}/all" --out "${out}" --num_folds "${num_folds}" --valid_fraction "${valid_fraction}" --seed "${seed}")
[ "${resplit}" = true ] && split+=(--resplit)
python -m kdspeech.bin.split_cls "${split[@]}"
