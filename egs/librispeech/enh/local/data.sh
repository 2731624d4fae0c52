#!/usr/bin/env bash
# Stage 1 of egs/librispeech/enh: download LibriSpeech subsets that are missing (OpenSLR 12,
# md5-checked, resumable; skipped when present), then write the data dirs:
#   <out>/clean_{train,valid,test}  speaker-disjoint clean speech (test from another subset)
#   <out>/noise_{train,test}        seen (NOISEX-92) and unseen (CHiME-4 backgrounds) noises
set -euo pipefail

seed=1                  # speaker split
out=data                # root of the data dirs
train_subset=train-clean-100  # train + valid speakers
test_subset=test-other        # test speakers (unseen)
num_train=950           # training utterances (paper: 950)
num_valid=50            # validation utterances (speakers disjoint from training)
num_test=100            # test utterances (paper: 100)
max_seconds=0           # cut utterances to their first N seconds (0: whole)
download=true           # download missing subsets (false: fail if missing)
train_noises=auto       # type=file pattern,... in NOISEX92 (auto: the paper's five, see local/noises.sh)
test_noises=auto        # type=file pattern,... in CHIME4_NOISE (auto: the four CHiME-4 backgrounds)
help_message="Usage: $0 [options]   (run from the recipe dir; corpus paths in db.sh)"
. utils/parse_options.sh
. ./db.sh
local_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -ne 0 ]; then echo "$help_message" >&2; exit 1; fi

if [ "${download}" = true ]; then
  for subset in ${train_subset} ${test_subset}; do
    if [ -d "${LIBRISPEECH}/LibriSpeech/${subset}" ]; then
      echo "$0: ${LIBRISPEECH}/LibriSpeech/${subset} present, no download" >&2
      continue
    fi
    read -r url md5 < <(awk -F'\t' -v s="${subset}" '$1 == s {print $2, $3}' conf/download.tsv)
    [ -n "${url:-}" ] || { echo "$0: subset ${subset} not in conf/download.tsv" >&2; exit 1; }
    python utils/download.py --url "${url}" --md5 "${md5}" --dest "${LIBRISPEECH}" --extract \
      --creates "LibriSpeech/${subset}"
  done
fi

python "${local_dir}/prepare_librispeech.py" --root "${LIBRISPEECH}/LibriSpeech" --out "${out}" --seed "${seed}" \
  --train_subset "${train_subset}" --test_subset "${test_subset}" --max_seconds "${max_seconds}" \
  --num_train "${num_train}" --num_valid "${num_valid}" --num_test "${num_test}"
"${local_dir}/noises.sh" --out "${out}" --train_noises "${train_noises}" --test_noises "${test_noises}"
