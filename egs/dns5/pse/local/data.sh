#!/usr/bin/env bash
# Stage 1 of egs/dns5/pse: corpus data dirs under <out>.  Corpus paths in db.sh.
#   --data shared  the CPU-scale subsets of ../shared/corpora (local/prepare_shared.py): train_clean,
#                  test_clean, noise, noise_test, rir, rir_test
#   --data dns5    the DNS Challenge 5 personalized track (local/prepare_dns5.py): train_clean, noise,
#                  rir, blind_track1_headset, blind_track2_speakerphone
set -euo pipefail

data=shared            # shared | dns5
seed=1                 # unused: the dirs are fixed functions of the corpora
out=data
max_train_speakers=0   # shared: cap on training readers (0: all), for smoke runs
max_test_speakers=0    # shared: cap on test readers (0: all)
help_message="Usage: $0 [--data shared|dns5] [--out data]   (run from the recipe dir; corpus paths in db.sh)"
. utils/parse_options.sh
. ./db.sh
if [ $# -ne 0 ]; then echo "$help_message" >&2; exit 1; fi

case "${data}" in
  shared)
    python local/prepare_shared.py --librispeech "${LIBRISPEECH}" --noise "${NOISE}" --rirs "${RIRS}" --out "${out}" \
      --max_train_speakers "${max_train_speakers}" --max_test_speakers "${max_test_speakers}"
    dirs="train_clean test_clean noise noise_test rir rir_test" ;;
  dns5)
    python local/prepare_dns5.py --root "${DNS5_ROOT}" --blind "${DNS5_BLIND}" --speech "${DNS5_SPEECH}" \
      --speaker_regex "${DNS5_SPEAKER_REGEX}" --out "${out}"
    dirs="train_clean noise rir blind_track1_headset blind_track2_speakerphone" ;;
  *) echo "$0: --data must be shared or dns5, got '${data}'" >&2; exit 1 ;;
esac
for d in ${dirs}; do
  python -m kdspeech.bin.validate_data_dir "${out}/${d}"
done
