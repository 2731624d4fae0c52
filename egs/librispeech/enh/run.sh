#!/usr/bin/env bash
# SNR-based teachers-student speech enhancement (Hao, Su, Wang, Zhang, Xu, Gao) on LibriSpeech
# clean speech, NOISEX-92 training noises and CHiME-4 backgrounds as unseen test noises; stages in
# egs/TEMPLATE/enh/enh.sh (the paper's mixture sets and systems: local/snr_teachers.sh), corpus paths
# in db.sh, noise choice in local/data.sh.
#   ./run.sh                      paper scale (conf/scale.sh: 950 utterances, 12.8M-parameter Wave-U-Nets)
#   ./run.sh --conf_dir conf/cpu --student_seeds "1 2 3"   CPU scale on the shared/corpora subset, S1
#                                 and S2 with three seeds each (see RESULTS.md)
#   ./run.sh --stage 4 [--conf_dir D] ...   any option of local/snr_teachers.sh (the paper's) or of
#                                 enh.sh, in any order (./run.sh --help lists this script's, the
#                                 paper's, then enh.sh's)
set -euo pipefail

conf_dir=conf          # configs of one scale: <conf_dir>/scale.sh sets the paper's counts and configs (conf/cpu: CPU scale)

help_message="Usage: $0 [options]   (<conf_dir>/scale.sh's options come before the command line's)"
pass_options_to=local/snr_teachers.sh   # every other option: the paper's (local/snr_teachers.sh) or enh.sh's
. utils/parse_options.sh

# shellcheck disable=SC1091
. "${conf_dir}/scale.sh"   # sets scale_opts: corpus counts and training configs of this scale
exec local/snr_teachers.sh --baseline_conf_dir "${conf_dir}" \
  --fs 16000 \
  --paper_results conf/paper_results.yaml \
  "${scale_opts[@]}" \
  ${passed_options[@]+"${passed_options[@]}"}
