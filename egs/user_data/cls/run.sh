#!/usr/bin/env bash
# Your own clips through 1 and 2 kHz microphones: fine-tuning, BASD and CSSD, scored with macro F1
# (also the metric of the alpha/T grid search).  See README.md.
#   KDSPEECH_USER_CSV=/path/my_clips.csv ./run.sh [--pretrained <PANNs .pth>]
#   KDSPEECH_USER_CSV=/path/my_clips.csv ./run.sh --conf_dir conf/cpu    # CPU scale, no GPU needed
# Folds: every fold stage 1 dealt (your CSV's fold column, or --local_data_opts "--num_folds 5" folds
# of whole participants); --folds must name all of them unless --fold_subset true.
# --duration: seconds per clip (longer clips are cut, shorter zero-padded); by default the longest
# clip's (stage 2 says how many clips it pads or cuts).  --test_sets "/data/other_site": data dirs of
# clips of your own, scored by every fold's models (python -m kdspeech.bin.data_dir_from --csv).
# ./run.sh --help lists the options a user sets; every other option of cls.sh is accepted too.
# conf/paper.yaml holds the paper's numbers on the authors' own (non-public) user data; they are not
# shown by default since other recordings are not a reproduction of them: --paper_results conf/paper.yaml.
set -euo pipefail
help_message="Usage: $0 [options]   (every option is cls.sh's: the recipe's settings below come first)"
pass_options_to=./cls.sh
pass_help_only="stage stop_stage conf_dir ngpu train_jobs pretrained rates duration folds fold_subset local_data_opts test_sets skip_train"
. utils/parse_options.sh
./cls.sh \
  --run_command "$(printf '%q ' "$0" ${passed_options[@]+"${passed_options[@]}"})" \
  --rates "1000 2000" \
  --metric macro_f1 \
  ${passed_options[@]+"${passed_options[@]}"}
