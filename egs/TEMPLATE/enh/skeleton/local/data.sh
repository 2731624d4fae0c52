#!/usr/bin/env bash
# Stage 1: your corpus -> the Kaldi data dirs that enh.sh mixes (egs/TEMPLATE/enh/enh.sh).
#
# Interface.  enh.sh runs it from the recipe dir as
#     local/data.sh --out <data dir root> --seed <seed> [the words of --local_data_opts]
# and it must write, under --out, these data dirs (enh.sh's --corpus_dirs):
#     clean_train   clean speech to mix for training: wav.scp, utt2spk (text: optional, for WER/CER)
#     clean_valid   clean speech of the validation mixtures (best other speakers than clean_train's)
#     clean_test    clean speech of both test sets (unseen speakers)
#     noise_train   noises of the training, validation and test_seen mixtures: wav.scp (utt2noise:
#                   optional, the noise type of each file, for the by-noise tables)
#     noise_test    the unseen test noise: the noises of test_unseen only, never used in training
# Any sample rate (stage 2 resamples to --fs); mono; wav.scp entries are paths or "<command> |".
# `python -m kdspeech.bin.validate_data_dir <dir> --audio` checks a dir and names the bad line.
# Everything this script names under local/ is in stage 1's fingerprint (editing it re-runs stage 1),
# and so are the folders of db.sh's data_inputs.
#
# As written, every audio file under each folder of db.sh is one utterance (kdspeech.bin.data_dir_from
# --audio); replace the body below for a corpus with a layout of its own (lists, transcripts).
set -euo pipefail

out=data             # root of the data dirs
seed=1               # seed of the draws below
max_utts=0           # keep N utterances of each dir, drawn with --seed (0: all); the smallest scale sets it
valid_utts=10        # utterances taken from clean_train for clean_valid when db.sh has no CLEAN_VALID (a fifth when it has under twice as many)
spk_from=dir         # speaker of a file: its first folder (dir) or the file itself (utt)
help_message="Usage: $0 [options]   (run from the recipe dir; corpus folders in db.sh)"
. utils/parse_options.sh
. ./db.sh
if [ $# -ne 0 ]; then echo "${help_message}" >&2; exit 1; fi

tmp=${out}/.local_data
rm -rf "${tmp}"
from_folder() {  # from_folder <folder> <dir name>
  python -m kdspeech.bin.data_dir_from --audio "$1" --spk_from "${spk_from}" --out "${tmp}/$2"
}
keep() {  # keep <dir name> <count>: N of the dir at random (seeded), or all
  local n=$2 total
  total=$(wc -l < "${tmp}/$1/wav.scp")
  if [ "${n}" -gt 0 ] && [ "${n}" -lt "${total}" ]; then
    python -m kdspeech.bin.subset_data_dir --src "${tmp}/$1" --dst "${out}/$1" --random "${n}" --seed "${seed}"
  else
    python -m kdspeech.bin.subset_data_dir --src "${tmp}/$1" --dst "${out}/$1" --first "${total}"
  fi
}

from_folder "${CLEAN_TRAIN}" clean_all
if [ -n "${CLEAN_VALID}" ]; then
  from_folder "${CLEAN_VALID}" clean_valid
  mv "${tmp}/clean_all" "${tmp}/clean_train"
else   # validation: --valid_utts of the training speech (a fifth of a smaller corpus), drawn with --seed; training: the rest
  total=$(wc -l < "${tmp}/clean_all/wav.scp")
  n=${valid_utts}
  [ "${total}" -gt $((2 * n)) ] || n=$(( total / 5 > 0 ? total / 5 : 1 ))
  python -m kdspeech.bin.subset_data_dir --src "${tmp}/clean_all" --dst "${tmp}/clean_valid" \
    --random "${n}" --seed "${seed}"
  python -m kdspeech.bin.subset_data_dir --src "${tmp}/clean_all" --dst "${tmp}/clean_train" \
    --utt_list "${tmp}/clean_valid/wav.scp" --exclude
fi
from_folder "${CLEAN_TEST}" clean_test
from_folder "${NOISE_TRAIN}" noise_train
from_folder "${NOISE_TEST}" noise_test
keep clean_train "${max_utts}"
keep clean_valid "${max_utts}"
keep clean_test "${max_utts}"
keep noise_train 0
keep noise_test 0
rm -rf "${tmp}"
for d in clean_train clean_valid clean_test noise_train noise_test; do
  python -m kdspeech.bin.validate_data_dir "${out}/${d}"
done
