#!/usr/bin/env bash
# Low-rate audio classification on your own corpus (made by egs/TEMPLATE/cls/setup.sh): the 16 kHz model,
# fine-tuned at each low microphone rate, BASD and CSSD (Liang et al.; every pipeline is cls.sh's,
# egs/TEMPLATE/cls/cls.sh), cross-validated over the folds local/data.sh deals, scored by macro accuracy.
#   ./run.sh                              the smallest scale (conf/cpu: its cls.conf holds the options)
#   ./run.sh --conf_dir conf/big          a scale of yours: copy conf/cpu to conf/big, enlarge it
#   ./run.sh --stage 2 --skip_train true --test_sets /data/mine/new_site   your clips too (wav.scp, utt2label)
#   ./run.sh --help                       the options of cls.sh
set -euo pipefail
help_message="Usage: $0 [options]   (every option is cls.sh's; conf/cpu/cls.conf's come first)"
pass_options_to=./cls.sh
. utils/parse_options.sh
./cls.sh --conf_dir conf/cpu \
  --run_command "$(printf '%q ' "$0" ${passed_options[@]+"${passed_options[@]}"})" \
  --rates "1000 2000" \
  --metric macro_accuracy \
  ${passed_options[@]+"${passed_options[@]}"}
