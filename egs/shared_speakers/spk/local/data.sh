#!/usr/bin/env bash
# Stage 1 of egs/shared_speakers/spk: speaker-disjoint data dirs <out>/{train,valid,test}
# (local/prepare_shared.py says how they are chosen) and trial lists in valid and test: every pair of
# utterances (kdspeech.bin.make_trials, which checks the speakers are unseen).  Corpus paths in db.sh.
set -euo pipefail

seed=1                 # unused: the split is a fixed function of the speaker ids, the trials are every pair
out=data
test_speakers=10       # LibriSpeech test-other speakers (unseen; also the t-SNE speakers)
test_per_speaker=10    # utterances per test speaker
valid_speakers=12      # Speech Commands speakers held out for model selection
valid_per_speaker=6    # grouped utterances per valid speaker
group=3                # Speech Commands 1 s clips joined per utterance
max_train_ls=0         # cap on train-clean-100 speakers (0: all 251)
max_train_sc=0         # cap on Speech Commands training speakers (0: all)
use_an4=true           # AN4 speakers in training
help_message="Usage: $0 [options]   (run from the recipe dir; corpus paths in db.sh)"
. utils/parse_options.sh
. ./db.sh
if [ $# -ne 0 ]; then echo "$help_message" >&2; exit 1; fi

python "$(dirname "$0")/prepare_shared.py" --librispeech "${LIBRISPEECH}" --speech_commands "${SPEECH_COMMANDS}" \
  --an4 "${AN4}" --out "${out}" --test_speakers "${test_speakers}" --test_per_speaker "${test_per_speaker}" \
  --valid_speakers "${valid_speakers}" --valid_per_speaker "${valid_per_speaker}" --group "${group}" \
  --max_train_ls "${max_train_ls}" --max_train_sc "${max_train_sc}" --use_an4 "${use_an4}"
python -m kdspeech.bin.make_trials --data "${out}/valid" --out "${out}/valid/trials" --num_target all \
  --num_nontarget all --seed "${seed}" --train_data "${out}/train"
python -m kdspeech.bin.make_trials --data "${out}/test" --out "${out}/test/trials" --num_target all \
  --num_nontarget all --seed "${seed}" --train_data "${out}/train" "${out}/valid"
for d in train valid test; do
  python -m kdspeech.bin.validate_data_dir "${out}/${d}"
done
