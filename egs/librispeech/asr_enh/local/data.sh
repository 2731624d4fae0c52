#!/usr/bin/env bash
# Stage 1 of egs/librispeech/asr_enh: the data dirs enh.sh expects.
#   <out>/clean_train, clean_valid  LibriSpeech audio (speaker-disjoint; no transcripts needed: the
#                                   enhancement models train on clean targets), cut to --max_seconds
#   <out>/clean_test                transcribed speech (text!) of ASR_CORPORA: --test_subsets
#   <out>/noise_train, noise_test   NOISEX-92 noises, different types for training and test
set -euo pipefail

seed=1
out=data
num_train=60            # LibriSpeech training utterances
num_valid=10            # validation utterances
max_seconds=1           # cut training/validation utterances to their first N seconds (0: whole)
test_subsets="an4 speechbrain mini_ljspeech"   # folders of ASR_CORPORA (AN4: its an4test_clstk part only)
num_test_per_subset=0   # first N utterances of each test subset (0: all)
train_noises="babble=babble,factory1=factory1,white=white,pink=pink,volvo=volvo"
test_noises="factory2=factory2,buccaneer1=buccaneer1,m109=m109,speech_shaped=speech_shaped"
help_message="Usage: $0 [options]   (run from the recipe dir; corpus paths in db.sh)"
. utils/parse_options.sh
. ./db.sh
[ $# -eq 0 ] || { echo "$help_message" >&2; exit 1; }
local_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

tmp=${out}/.librispeech
python "${local_dir}/prepare_librispeech.py" --root "${LIBRISPEECH}/LibriSpeech" --out "${tmp}" --seed "${seed}" \
  --train_subset train-clean-100 --test_subset test-other --max_seconds "${max_seconds}" \
  --num_train "${num_train}" --num_valid "${num_valid}" --num_test 1
for d in clean_train clean_valid; do rm -rf "${out:?}/${d}"; mv "${tmp}/${d}" "${out}/${d}"; done
rm -rf "${tmp}"
python "${local_dir}/prepare_asr_test.py" --root "${ASR_CORPORA}" --subsets "${test_subsets}" --out "${out}/clean_test" \
  --num_per_subset "${num_test_per_subset}"
python "${local_dir}/prepare_noises.py" --out "${out}" --train_dir "${NOISEX92}" --train_noises "${train_noises}" \
  --test_dir "${NOISEX92}" --test_noises "${test_noises}"
