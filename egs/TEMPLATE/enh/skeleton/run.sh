#!/usr/bin/env bash
# Speech enhancement on your own corpus (made by egs/TEMPLATE/enh/setup.sh): the SNR-based
# teachers-student systems (Hao et al.; the list is local/snr_teachers.sh, linked from
# egs/librispeech/enh: teachers per SNR range, the student S1 alone, the student S2 distilled from the
# teachers routed by SNR), stages in enh.sh (egs/TEMPLATE/enh/enh.sh), corpus folders in db.sh, data
# dirs by local/data.sh.
#   ./run.sh                              the smallest scale (conf/cpu/scale.sh)
#   ./run.sh --conf_dir conf/big          a scale of yours: copy conf/cpu to conf/big, enlarge it
#   ./run.sh --stage 5 --skip_train true --test_sets "test_seen /data/mine/noisy"   score your recordings
#   ./run.sh --help                       this script's options, the paper list's, then enh.sh's
set -euo pipefail

conf_dir=conf/cpu      # configs of one scale: <conf_dir>/scale.sh sets the counts and configs

help_message="Usage: $0 [options]   (<conf_dir>/scale.sh's options come before the command line's)"
pass_options_to=local/snr_teachers.sh   # every other option: the paper list's or enh.sh's
. utils/parse_options.sh

# shellcheck disable=SC1091
. "${conf_dir}/scale.sh"   # sets scale_opts
exec local/snr_teachers.sh --baseline_conf_dir "${conf_dir}" --fs 16000 \
  "${scale_opts[@]}" ${passed_options[@]+"${passed_options[@]}"}
