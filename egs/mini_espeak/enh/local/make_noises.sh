#!/usr/bin/env bash
# Make the mini_espeak noise WAVs (22.05 kHz, 16-bit, mono) and their data dirs:
#   <out_root>/noise_train: white, pink (sox) and babble of training utterances
#   <out_root>/noise_test:  brown (a noise type unseen in training) and babble of validation
#                           utterances (sentences and takes never used in training or test)
# Data dirs hold wav.scp (absolute paths to <out_root>/local/noise/<id>.wav) and utt2noise (type).
# sox runs with -R (fixed random seed), so its noises are identical on every run; --seed picks the
# babble talkers and offsets.  Every file is rewritten on each run (cheap, and deterministic).
set -euo pipefail

seed=1          # babble talker choice and offsets
duration=30     # seconds per noise
num_talkers=6   # overlapped utterances per babble
python=python3  # Python with kdspeech installed
help_message="Usage: $0 [options] <speech_train_dir> <speech_valid_dir> <out_root>
e.g.: $0 --seed 1 data/clean_train data/clean_valid data"

. utils/parse_options.sh  # run from the recipe dir, whose utils links to the shared ones
local_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -ne 3 ]; then echo "$help_message" >&2; exit 1; fi
train_dir=$1; valid_dir=$2; out_root=$3
if ! command -v sox >/dev/null; then
  echo "$0: ERROR: sox not found on PATH (install it: apt-get install -y sox)" >&2; exit 1
fi

mkdir -p "$out_root/local/noise"
noise_dir=$(cd "$out_root/local/noise" && pwd)

synth_noise() {  # <id> <sox synth type> <skip seconds>: colored noise, written atomically
  # sox -R starts every run from the same random sequence, so pink noise would be filtered white
  # noise (correlation ~0.5); skipping a different number of seconds per type decorrelates them.
  sox -R -n -r 22050 -b 16 -c 1 "$noise_dir/$1.tmp.wav" \
    synth "$(awk -v d="$duration" -v s="$3" 'BEGIN { print d + s }')" "$2" vol 0.3 trim "$3"
  mv "$noise_dir/$1.tmp.wav" "$noise_dir/$1.wav"
}
make_babble() {  # <id> <speech data dir>
  "$python" "$local_dir/make_babble.py" --seed "$seed" --duration "$duration" \
    --num_talkers "$num_talkers" --sr 22050 "$2" "$noise_dir/$1.wav"
}
write_noise_dir() {  # <dir> <id>...; an id is <set>_<type>
  local dir=$1; shift
  mkdir -p "$dir"
  for id in "$@"; do echo "$id $noise_dir/$id.wav"; done | LC_ALL=C sort > "$dir/wav.scp"
  for id in "$@"; do echo "$id ${id#*_}"; done | LC_ALL=C sort > "$dir/utt2noise"
}

synth_noise train_white whitenoise 0
synth_noise train_pink pinknoise 1
synth_noise test_brown brownnoise 2
make_babble train_babble "$train_dir"
make_babble test_babble "$valid_dir"

write_noise_dir "$out_root/noise_train" train_white train_pink train_babble
write_noise_dir "$out_root/noise_test" test_brown test_babble
echo "$0: wrote $out_root/noise_train and $out_root/noise_test"
