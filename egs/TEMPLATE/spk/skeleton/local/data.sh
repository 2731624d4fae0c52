#!/usr/bin/env bash
# Stage 1: your corpus -> the Kaldi data dirs that spk.sh reads (egs/TEMPLATE/spk/spk.sh).
#
# Interface.  spk.sh runs it from the recipe dir as
#     local/data.sh --out <data dir root> --seed <seed> [the words of --local_data_opts]
# and it must write, under --out, these data dirs (spk.sh's --corpus_dirs):
#     train   the training speakers: wav.scp, utt2spk
#     valid   other speakers, for model selection (valid.eer): wav.scp, utt2spk, trials
#     test    unseen speakers: wav.scp, utt2spk, trials
# A trial list has "<enrol utt> <test utt> target|nontarget" lines (kdspeech.bin.make_trials makes
# one from utt2spk and checks that its speakers were not trained on).  Any sample rate (stage 2
# resamples to --fs), mono.  `python -m kdspeech.bin.validate_data_dir <dir>` checks a dir.
#
# As written, every audio file under each folder of db.sh is one utterance of the speaker of its first
# subfolder (kdspeech.bin.data_dir_from --audio --spk_from dir); replace the body for another layout.
set -euo pipefail

out=data             # root of the data dirs
seed=1               # seed of the draws below
max_per_spk=0        # keep N utterances per speaker (0: all); the smallest scale sets it
valid_speakers=4     # speakers taken from the training folder for valid when db.sh has no SPK_VALID
help_message="Usage: $0 [options]   (run from the recipe dir; corpus folders in db.sh)"
. utils/parse_options.sh
. ./db.sh
if [ $# -ne 0 ]; then echo "${help_message}" >&2; exit 1; fi

tmp=${out}/.local_data
rm -rf "${tmp}"
mkdir -p "${tmp}"
from_folder() {  # from_folder <folder> <dir name>
  python -m kdspeech.bin.data_dir_from --audio "$1" --spk_from dir --out "${tmp}/$2"
}
keep() {  # keep <dir name>: at most --max_per_spk utterances of each speaker, into <out>
  if [ "${max_per_spk}" -gt 0 ]; then
    python -m kdspeech.bin.subset_data_dir --src "${tmp}/$1" --dst "${out}/$1" --per_spk "${max_per_spk}"
  else
    python -m kdspeech.bin.subset_data_dir --src "${tmp}/$1" --dst "${out}/$1" --first "$(wc -l < "${tmp}/$1/wav.scp")"
  fi
}

from_folder "${SPK_TRAIN}" all
if [ -n "${SPK_VALID}" ]; then
  from_folder "${SPK_VALID}" valid
  mv "${tmp}/all" "${tmp}/train"
else   # the first --valid_speakers speakers (by id) for validation, the others for training
  cut -d' ' -f1 "${tmp}/all/spk2utt" | head -n "${valid_speakers}" > "${tmp}/valid_speakers"
  python -m kdspeech.bin.subset_data_dir --src "${tmp}/all" --dst "${tmp}/valid" --spk_list "${tmp}/valid_speakers"
  python -m kdspeech.bin.subset_data_dir --src "${tmp}/all" --dst "${tmp}/train" --spk_list "${tmp}/valid_speakers" --exclude
fi
from_folder "${SPK_TEST}" test
for d in train valid test; do keep "${d}"; done
rm -rf "${tmp}"
python -m kdspeech.bin.make_trials --data "${out}/valid" --out "${out}/valid/trials" --num_target all \
  --num_nontarget all --seed "${seed}" --train_data "${out}/train"
python -m kdspeech.bin.make_trials --data "${out}/test" --out "${out}/test/trials" --num_target all \
  --num_nontarget all --seed "${seed}" --train_data "${out}/train" "${out}/valid"
for d in train valid test; do python -m kdspeech.bin.validate_data_dir "${out}/${d}"; done
