#!/usr/bin/env bash
# A new low-rate audio-classification recipe for your own corpus (the 16 kHz model, fine-tuning, BASD
# and CSSD at low microphone rates, Liang et al.):
#
#   egs/TEMPLATE/cls/setup.sh egs/<corpus>/cls
#
# makes egs/<corpus>/cls with run.sh, db.sh (your folder, in data_inputs), local/data.sh (its header
# states what it receives and must write; as written one subfolder per class, dealt into stratified
# folds), conf/cpu (the smallest scale, the default: cls.conf, the option file of cls.sh's scales,
# train.yaml, grid.yaml), cmd.sh, path.sh, and links to cls.sh and utils/.  For clips listed in a CSV
# (labels, folds or participants), egs/user_data/cls is the recipe.
exec "$(dirname "$(realpath -- "$0")")/../../../utils/make_recipe.sh" "$(dirname "$(realpath -- "$0")")" "$@"
