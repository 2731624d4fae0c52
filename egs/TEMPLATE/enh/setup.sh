#!/usr/bin/env bash
# A new speech-enhancement recipe for your own corpus (the SNR-based teachers-student systems of
# egs/librispeech/enh/local/snr_teachers.sh, on your clean speech and noises):
#
#   egs/TEMPLATE/enh/setup.sh egs/<corpus>/enh
#
# makes egs/<corpus>/enh with run.sh (the paper's systems list, local/snr_teachers.sh, linked), db.sh
# (your corpus folders, declared in data_inputs so that stage 1 notices a changed corpus),
# local/data.sh (its header states what it receives and must write; as written it makes the data
# dirs from the folders of db.sh), conf/cpu/scale.sh (the smallest scale, the default: a first
# RESULTS.md in minutes on a CPU) with its configs, cmd.sh, path.sh, and links to enh.sh and utils/.
exec "$(dirname "$(realpath -- "$0")")/../../../utils/make_recipe.sh" "$(dirname "$(realpath -- "$0")")" "$@"
