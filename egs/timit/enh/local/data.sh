#!/usr/bin/env bash
# Stage 1 of egs/timit/enh: data dirs from a local TIMIT copy (LDC93S1; no download, path in db.sh):
# TIMIT TRAIN -> train + valid (disjoint speakers), TEST -> test (unseen speakers):
#   <out>/clean_{train,valid,test}  speaker-disjoint clean speech (test from TEST)
#   <out>/noise_{train,test}        seen (NOISEX-92) and unseen (CHiME-4 backgrounds) noises
set -euo pipefail

seed=1                  # speaker split
out=data                # root of the data dirs
num_train=950           # training utterances (paper: 950)
num_valid=50            # validation utterances (speakers disjoint from training)
num_test=100            # test utterances (paper: 100)
max_seconds=0           # cut utterances to their first N seconds (0: whole)
num_valid_speakers=10   # TRAIN speakers held out for validation
train_noises=auto       # type=file pattern,... in NOISEX92 (auto: the paper's five, see local/noises.sh)
test_noises=auto        # type=file pattern,... in CHIME4_NOISE (auto: the four CHiME-4 backgrounds)
help_message="Usage: $0 [options]   (run from the recipe dir; corpus paths in db.sh)"
. utils/parse_options.sh
. ./db.sh
local_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -ne 0 ]; then echo "$help_message" >&2; exit 1; fi

python "${local_dir}/prepare_timit.py" --root "${TIMIT}" --out "${out}" --seed "${seed}" \
  --num_train "${num_train}" --num_valid "${num_valid}" --num_test "${num_test}" \
  --num_valid_speakers "${num_valid_speakers}" --max_seconds "${max_seconds}"
"${local_dir}/noises.sh" --out "${out}" --train_noises "${train_noises}" --test_noises "${test_noises}"
