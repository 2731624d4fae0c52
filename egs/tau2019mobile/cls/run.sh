#!/usr/bin/env bash
# TAU Urban Acoustic Scenes 2019 Mobile (10 scenes, DCASE 2019 split) heard through 1 and 2 kHz
# microphones: fine-tuning, BASD and CSSD (Liang et al.).  One fold (the official split).
#   ./run.sh --pretrained downloads/pretrained/Cnn14_16k_mAP=0.438.pth
# CPU scale (CNN14 at width 1/16, 16 kHz generation 12 epochs, other trainings 8):
#   ./run.sh --conf_dir conf/cpu
set -euo pipefail
help_message="Usage: $0 [options]   (every option is cls.sh's: the recipe's settings below come first)"
pass_options_to=./cls.sh
. utils/parse_options.sh
./cls.sh \
  --run_command "$(printf '%q ' "$0" ${passed_options[@]+"${passed_options[@]}"})" \
  --rates "1000 2000" \
  --duration 10.0 \
  --metric macro_accuracy \
  --paper_results conf/paper.yaml \
  ${passed_options[@]+"${passed_options[@]}"}
