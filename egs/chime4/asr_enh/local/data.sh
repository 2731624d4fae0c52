#!/usr/bin/env bash
# Stage 1 of egs/chime4/asr_enh: Kaldi data dirs of CHiME-4's single-channel sets (local/prepare_chime4.py):
#   <out>/{tr05,dt05,et05}_simu   simulated: noisy CH<channel>, clean spk1.scp, text (dt05/et05), utt2noise
#   <out>/{dt05,et05}_real        real recordings: noisy CH<channel>, text (no clean reference)
set -euo pipefail
seed=1                  # unused (the sets are fixed); kept for the template's call
out=data
channel=5               # CHiME-4's 1-channel track uses CH5 (CH2 faces away)
sets="tr05_simu dt05_simu et05_simu dt05_real et05_real"
help_message="Usage: $0 [options]   (run from the recipe dir; corpus path in db.sh)"
. utils/parse_options.sh
. ./db.sh
. ./path.sh   # the venv, when run on its own
[ $# -eq 0 ] || { echo "$help_message" >&2; exit 1; }
[ -d "${CHIME4}/data/audio/16kHz/isolated" ] ||
  { echo "$0 (stage 1): ${CHIME4}/data/audio/16kHz/isolated not found: set CHIME4 in db.sh (CHiME-4 is licensed, no download)" >&2; exit 1; }
local_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python "${local_dir}/prepare_chime4.py" --root "${CHIME4}" --out "${out}" --channel "${channel}" --sets "${sets}"
