#!/usr/bin/env bash
# Stage 1 of egs/voxceleb/spk: data/{train,valid,test,tsne} from VoxCeleb1/2 (local/prepare_voxceleb.py
# says how); VoxCeleb1-O as the test trials, 5 % of the development speakers held out for validation.
set -euo pipefail

seed=1                 # draws the validation non-target trials
out=data
train_sets=vox2        # vox2 (the paper's training data) and/or vox1 (VoxCeleb1 dev speakers)
valid_percent=5        # % of development speakers held out for validation
valid_utts=4           # utterances per held-out speaker in valid
valid_nontarget=3      # non-target validation trials per utterance
tsne_speakers=10       # test speakers of the t-SNE set
help_message="Usage: $0 [options]   (run from the recipe dir; corpus paths in db.sh)"
. utils/parse_options.sh
. ./db.sh
if [ $# -ne 0 ]; then echo "$help_message" >&2; exit 1; fi
for d in "${VOX1}" ${VOX2:+"${VOX2}"}; do
  [ -d "${d}" ] || { echo "$0 (stage 1): ERROR: ${d} not found: VoxCeleb is registration-only, set VOX1/VOX2 in db.sh" >&2; exit 1; }
done
python "$(dirname "$0")/prepare_voxceleb.py" --vox1 "${VOX1}" --vox2 "${VOX2}" --trials "${VOX1_TRIALS}" \
  --out "${out}" --train_sets "${train_sets}" --valid_percent "${valid_percent}" --valid_utts "${valid_utts}" \
  --valid_nontarget "${valid_nontarget}" --tsne_speakers "${tsne_speakers}" --seed "${seed}"
for d in train valid test tsne; do
  python -m kdspeech.bin.validate_data_dir "${out}/${d}"
done
