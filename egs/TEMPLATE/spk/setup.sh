#!/usr/bin/env bash
# A new speaker-embedding recipe for your own corpus (a tiny speaker encoder distilled from a frozen
# one: contrastive, cosine and MSE distillation, scored on verification trials):
#
#   egs/TEMPLATE/spk/setup.sh egs/<corpus>/spk
#
# makes egs/<corpus>/spk with run.sh (the systems list), db.sh (your folders, in data_inputs),
# local/data.sh (its header states what it receives and must write; as written it makes the data dirs
# and trial lists from the folders of db.sh, one subfolder per speaker), conf/cpu/scale.sh (the
# smallest scale, the default) with its configs, cmd.sh, path.sh, and links to spk.sh and utils/.
exec "$(dirname "$(realpath -- "$0")")/../../../utils/make_recipe.sh" "$(dirname "$(realpath -- "$0")")" "$@"
