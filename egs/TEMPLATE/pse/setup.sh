#!/usr/bin/env bash
# A new personalized speech-enhancement recipe for your own corpus (pDeepFilterNet2, its oracle
# similarity refinement and pDCCRN, told the target speaker by an enrolment embedding):
#
#   egs/TEMPLATE/pse/setup.sh egs/<corpus>/pse
#
# makes egs/<corpus>/pse with run.sh (the systems list), db.sh (your folders, in data_inputs),
# local/data.sh (its header states what it receives and must write; as written it makes the data dirs
# from the folders of db.sh), conf/cpu/scale.sh (the smallest scale, the default) with its configs,
# cmd.sh, path.sh, and links to pse.sh, enh.sh (whose stages pse.sh runs) and utils/.
exec "$(dirname "$(realpath -- "$0")")/../../../utils/make_recipe.sh" "$(dirname "$(realpath -- "$0")")" "$@"
