#!/usr/bin/env bash
# ESC-50 (5-fold cross-validation, 50 classes) heard through 1 and 2 kHz microphones: fine-tuning,
# BASD and CSSD (Liang et al.).  Paper setting (needs the full corpus and, for the paper's numbers,
# the PANNs CNN14 16 kHz AudioSet checkpoint):
#   ./run.sh --download true --pretrained downloads/pretrained/Cnn14_16k_mAP=0.438.pth
# CPU-scale run on the shared 414-clip subset (see RESULTS.md; conf/cpu/: CNN14 at width 1/16, 16 kHz
# generation 12 epochs, other trainings 8, re-dealt folds, 2 trainings at a time):
#   KDSPEECH_ESC50=$PWD/../../../../shared/corpora/esc50 ./run.sh --conf_dir conf/cpu
# --conf_dir (any position) picks the scale: train.yaml, grid.yaml and the options of its cls.conf.
# Several architectures and seeds (conf/cpu/train_<arch>.yaml; runs in exp/<arch>/seed<s>, RESULTS.md
# with mean ± std over folds x seeds and paired statistics over (fold, seed) pairs):
#   KDSPEECH_ESC50=... ./run.sh --conf_dir conf/cpu --archs "cnn14 resnet38 mobilenetv2" --seeds "1 2 3"
set -euo pipefail
help_message="Usage: $0 [options]   (every option is cls.sh's: the recipe's settings below come first)"
pass_options_to=./cls.sh
. utils/parse_options.sh
. ./db.sh
./cls.sh \
  --run_command "$(printf '%q ' "$0" ${passed_options[@]+"${passed_options[@]}"})" \
  --rates "1000 2000" \
  --duration 5.0 \
  --metric macro_accuracy \
  --paper_results conf/paper.yaml \
  --privacy true \
  --privacy_data "${privacy_speech}" \
  --privacy_backends "pocketsphinx moonshine" \
  ${passed_options[@]+"${passed_options[@]}"}
