#!/usr/bin/env bash
# Stage 1: your clips -> the Kaldi data dirs that cls.sh reads (egs/TEMPLATE/cls/cls.sh).
#
# Interface.  cls.sh runs it from the recipe dir as
#     local/data.sh --out <data dir root> --seed <seed> [the words of --local_data_opts]
# and it must write, under --out:
#     all                     every clip: wav.scp, utt2label (utt2dur: optional, read by --duration auto)
#     all/folds.txt           "<fold> <test clips>" lines: the folds dealt (kdspeech.bin.split_cls)
#     fold<k>/{train,valid,test}   for each fold k: its test clips, and training and validation clips
#                             from the other folds (wav.scp, utt2label, classes.txt)
# kdspeech.bin.split_cls makes the last two from all (its utt2fold, utt2group for whole participants,
# or stratified folds).  Any sample rate, mono.
#
# As written, the class of a clip is the first subfolder of db.sh's CLIPS (kdspeech.bin.data_dir_from
# --audio --spk_from dir), and the clips are dealt into --num_folds class-stratified folds.
set -euo pipefail

out=data             # root of the data dirs
seed=1               # seed of the folds and validation draws
num_folds=3          # cross-validation folds
valid_fraction=0.15  # of each class of the training folds, for validation
help_message="Usage: $0 [options]   (run from the recipe dir; the clips' folder in db.sh)"
. utils/parse_options.sh
. ./db.sh
if [ $# -ne 0 ]; then echo "${help_message}" >&2; exit 1; fi

tmp=${out}/.local_data
rm -rf "${tmp}"
python -m kdspeech.bin.data_dir_from --audio "${CLIPS}" --spk_from dir --out "${tmp}"
mkdir -p "${out}/all"
cp "${tmp}/wav.scp" "${out}/all/wav.scp"
cp "${tmp}/utt2spk" "${out}/all/utt2label"                      # the class: the first subfolder
awk '{ print $1, $1 }' "${tmp}/wav.scp" > "${out}/all/utt2spk"  # speakers unknown: each clip its own
rm -rf "${tmp}"
python -m kdspeech.bin.validate_data_dir "${out}/all"
python -m kdspeech.bin.split_cls --data "${out}/all" --out "${out}" --num_folds "${num_folds}" \
  --valid_fraction "${valid_fraction}" --seed "${seed}"
