#!/usr/bin/env bash
# The noise data dirs of the SNR-based teachers-student recipes (LibriSpeech, TIMIT): the paper's
# training noises from NOISEX-92 and its unseen test noises from CHiME-4, with stand-ins where a
# folder lacks them (as shared/corpora does).  Run from the recipe dir; paths come from db.sh.
set -euo pipefail

out=data                # root of the data dirs (noise_train, noise_test)
train_noises=auto       # type=file pattern,... in NOISEX92 (auto: the paper's five, see below)
test_noises=auto        # type=file pattern,... in CHIME4_NOISE (auto: the four CHiME-4 backgrounds)
. utils/parse_options.sh
. ./db.sh
local_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

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

python "${local_dir}/prepare_noises.py" --out "${out}" --train_dir "${NOISEX92}" --train_noises "${train_noises}" \
  --test_dir "${CHIME4_NOISE}" --test_noises "${test_noises}"
