#!/usr/bin/env bash
# Speaker embedding on your own corpus (made by egs/TEMPLATE/spk/setup.sh): TinyECAPA distilled from
# the frozen GE2E encoder of resemblyzer (conf/cpu/teacher.yaml) by contrastive, cosine and MSE losses
# (the systems below), scored by EER and MinDCF on the trials of the test set; stages in spk.sh
# (egs/TEMPLATE/spk/spk.sh), corpus folders in db.sh, data dirs and trials by local/data.sh.
#   ./run.sh                              the smallest scale (conf/cpu/scale.sh)
#   ./run.sh --conf_dir conf/big          a scale of yours: copy conf/cpu to conf/big, enlarge it
#   ./run.sh --stage 6 --skip_train true --test_sets "test /data/mine/meeting"   your trials too
#   ./run.sh --help                       this script's options, then spk.sh's
set -euo pipefail

conf_dir=conf/cpu      # configs of one scale: <conf_dir>/scale.sh and the configs of the systems

help_message="Usage: $0 [options]   (<conf_dir>/scale.sh's options come before the command line's)"
pass_options_to=./spk.sh   # every other option
. utils/parse_options.sh

# The systems: <name> <config> <train set> <valid set> <what it needs first: cache = the teacher's outputs>
systems="
contrastive ${conf_dir}/train_contrastive.yaml train valid cache
cos         ${conf_dir}/train_cos.yaml         train valid cache
mse         ${conf_dir}/train_mse.yaml         train valid cache
"
# shellcheck disable=SC1091
. "${conf_dir}/scale.sh"   # sets scale_opts
./spk.sh --fs 16000 \
  --teacher_conf "${conf_dir}/teacher.yaml" --teacher_set teacher --teacher_name resemblyzer \
  --cache_sets "train valid" --systems "${systems}" \
  --test_sets test --tsne_set test --protocols "asym ss" --compare "contrastive:cos contrastive:mse" \
  --run_command "$(printf '%q ' "$0" ${passed_options[@]+"${passed_options[@]}"})" \
  "${scale_opts[@]}" ${passed_options[@]+"${passed_options[@]}"}
