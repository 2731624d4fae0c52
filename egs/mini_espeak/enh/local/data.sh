#!/usr/bin/env bash
# Stage 1 of egs/mini_espeak/enh: make the whole corpus offline, from nothing but espeak-ng and sox.
#   <out>/clean_{train,valid,test}  espeak-ng speech, 22.05 kHz (test = unseen voices and sentences)
#   <out>/noise_{train,test}        sox white/pink/brown noise and babble (brown only in test)
# Idempotent: WAVs whose voice, rate and sentence did not change are not synthesized again.
set -euo pipefail

seed=1                # sentence split, voice/rate assignment and babble
out=data              # root of the data dirs
num_train=60          # train utterances (train voices)
num_valid=12          # valid utterances (train voices, unseen sentences)
num_test=16           # test utterances (unseen voices and sentences)
voices=en-us+m3,en-us+f3,en-gb+m1,en-gb+f2,en-us+m7,en-gb+f4  # train and valid speakers
test_voices=en-us+f5,en-gb+m5                                # unseen test speakers
speed_range=140,180   # espeak-ng words per minute, min,max
noise_duration=30     # seconds per noise WAV
nj=2                  # parallel espeak-ng processes
python=python3        # Python with kdspeech installed
help_message="Usage: $0 [options]
Makes the mini_espeak corpus; run from the recipe dir, e.g.: local/data.sh --seed 1 --out data"
. utils/parse_options.sh  # run from the recipe dir, whose utils links to the shared ones
local_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -ne 0 ]; then echo "$help_message" >&2; exit 1; fi

"$python" "$local_dir/make_speech.py" --out_dir "$out" --seed "$seed" \
  --num_train "$num_train" --num_valid "$num_valid" --num_test "$num_test" \
  --voices "$voices" --test_voices "$test_voices" --speed_range "$speed_range" --nj "$nj"
"$local_dir/make_noises.sh" --seed "$seed" --duration "$noise_duration" --python "$python" \
  "$out/clean_train" "$out/clean_valid" "$out"
