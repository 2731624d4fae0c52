#!/usr/bin/env bash
# Stage 1: your corpus -> the Kaldi data dirs that pse.sh reads (egs/TEMPLATE/pse/pse.sh).
#
# Interface.  pse.sh runs it from the recipe dir as
#     local/data.sh --out <data dir root> --seed <seed> [the words of --local_data_opts]
# and it must write, under --out, these data dirs (run.sh's --corpus_dirs):
#     train_clean  training speech: wav.scp, utt2spk (stage 3 sets one enrolment clip per speaker aside)
#     test_clean   speech of unseen speakers for the synthetic test set: wav.scp, utt2spk
#     noise        noises of training and validation mixtures: wav.scp
#     noise_test   the unseen test noise: noises of the test mixtures only, never used in training
#     rir          room impulse responses: wav.scp
# Any sample rate (stage 2 resamples to --fs), mono.  `python -m kdspeech.bin.validate_data_dir <dir>`
# checks a dir.  Real recordings without a clean reference are not made here: give them to
# ./run.sh --blind_sets <data dir> (wav.scp, utt2spk, utt2enroll; data_dir_from --audio --enrol).
#
# As written, every audio file under each folder of db.sh is one utterance, of the speaker of its
# first subfolder (kdspeech.bin.data_dir_from --audio --spk_from dir); replace the body for another layout.
set -euo pipefail

out=data             # root of the data dirs
seed=1               # unused: the dirs are the folders' files
max_speakers=0       # keep the first N speakers of each speech folder (0: all); the smallest scale sets it
help_message="Usage: $0 [options]   (run from the recipe dir; corpus folders in db.sh)"
. utils/parse_options.sh
. ./db.sh
if [ $# -ne 0 ]; then echo "${help_message}" >&2; exit 1; fi

tmp=${out}/.local_data
rm -rf "${tmp}"
mkdir -p "${tmp}"
speech() {  # speech <folder> <dir name>: its utterances, of the first --max_speakers speakers
  python -m kdspeech.bin.data_dir_from --audio "$1" --spk_from dir --out "${tmp}/$2"
  if [ "${max_speakers}" -gt 0 ]; then
    cut -d' ' -f1 "${tmp}/$2/spk2utt" | head -n "${max_speakers}" > "${tmp}/$2.speakers"
    python -m kdspeech.bin.subset_data_dir --src "${tmp}/$2" --dst "${out}/$2" --spk_list "${tmp}/$2.speakers"
  else
    python -m kdspeech.bin.subset_data_dir --src "${tmp}/$2" --dst "${out}/$2" --first "$(wc -l < "${tmp}/$2/wav.scp")"
  fi
}
speech "${SPEECH_TRAIN}" train_clean
speech "${SPEECH_TEST}" test_clean
python -m kdspeech.bin.data_dir_from --audio "${NOISE_TRAIN}" --out "${out}/noise"
python -m kdspeech.bin.data_dir_from --audio "${NOISE_TEST}" --out "${out}/noise_test"
python -m kdspeech.bin.data_dir_from --audio "${RIRS}" --out "${out}/rir"
rm -rf "${tmp}"
for d in train_clean test_clean noise noise_test rir; do python -m kdspeech.bin.validate_data_dir "${out}/${d}"; done
