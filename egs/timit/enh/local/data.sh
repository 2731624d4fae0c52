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
train_noises=auto       # type=file pattern,... in NOISEX92 (auto: the paper's five, see below)
test_noises=auto        # type=file pattern,... in CHIME4_NOISE (auto: the four CHiME-4 backgrounds, see below)
help_message="Usage: $0 [options]   (run from the recipe dir; corpus paths in db.sh)"
. utils/parse_options.sh
. ./db.sh
local_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -ne 0 ]; then echo "$help_message" >&2; exit 1; fi

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

python "${local_dir}/prepare_timit.py" --root "${TIMIT}" --out "${out}" --seed "${seed}" \
  --num_train "${num_train}" --num_valid "${num_valid}" --num_test "${num_test}" \
  --num_valid_speakers "${num_valid_speakers}" --max_seconds "${max_seconds}"
python "${local_dir}/prepare_noises.py" --out "${out}" --train_dir "${NOISEX92}" --train_noises "${train_noises}" \
  --test_dir "${CHIME4_NOISE}" --test_noises "${test_noises}"
