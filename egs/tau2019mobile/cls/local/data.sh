#!/usr/bin/env bash
# Stage 1 of egs/tau2019mobile/cls: data/all and data/fold1/{train,valid,test} from TAU Urban Acoustic
# Scenes 2019 Mobile (db.sh: tau2019mobile=...), DCASE 2019 split, 25% of training locations held out
# for validation.
set -euo pipefail
out=data
seed=1
valid_fraction=0.25
help_message="Usage: $0 [--out data] [--seed 1] [--valid_fraction 0.25]"
. utils/parse_options.sh
. ./db.sh
python local/prepare_tau.py --root "${tau2019mobile}" --out "${out}" --valid_fraction "${valid_fraction}" --seed "${seed}"
