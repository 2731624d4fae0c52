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
train_noises=auto       # type=file pattern,... in NOISEX92 (auto: the paper's five, see below)
test_noises=auto        # type=file pattern,... in CHIME4_NOISE (auto: the four CHiME-4 backgrounds, see below)
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

# The paper's training noises; a NOISEX92 folder without the destroyer recordings (shared/corpora)
# gets m109 (tank) for destroyerengine and buccaneer1 (jet cockpit) for destroyerops instead.
if [ "${train_noises}" = auto ]; then
  if compgen -G "${NOISEX92}/destroyerengine.*" > /dev/null; then
    train_noises="speech_shaped=speech_shaped,babble=babble,destroyerengine=destroyerengine,destroyerops=destroyerops,factory1=factory1"
  else
    echo "$0: no destroyer noises in ${NOISEX92}: m109 and buccaneer1 stand in for them" >&2
    train_noises="speech_shaped=speech_shaped,babble=babble,m109=m109,buccaneer1=buccaneer1,factory1=factory1"
  fi
fi
# Unseen noises: CHiME-4 backgrounds (pedestrian, bus, cafe, street), else the four longest of the
# 100 nonspeech sounds of shared/corpora.
if [ "${test_noises}" = auto ]; then
  if compgen -G "${CHIME4_NOISE}/*BUS*.CH1.wav" > /dev/null; then
    test_noises="pedestrian=*PED*.CH1,bus=*BUS*.CH1,cafe=*CAF*.CH1,street=*STR*.CH1"
  else
    echo "$0: no CHiME-4 backgrounds in ${CHIME4_NOISE}: nonspeech n38, n26, n27, n36 are the unseen noises" >&2
    test_noises="n38=n38,n26=n26,n27=n27,n36=n36"
  fi
fi

python "${local_dir}/prepare_librispeech.py" --root "${LIBRISPEECH}/LibriSpeech" --out "${out}" --seed "${seed}" \
  --train_subset "${train_subset}" --test_subset "${test_subset}" --max_seconds "${max_seconds}" \
  --num_train "${num_train}" --num_valid "${num_valid}" --num_test "${num_test}"
python "${local_dir}/prepare_noises.py" --out "${out}" --train_dir "${NOISEX92}" --train_noises "${train_noises}" \
  --test_dir "${CHIME4_NOISE}" --test_noises "${test_noises}"
