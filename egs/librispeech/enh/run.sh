#!/usr/bin/env bash
# SNR-based teachers-student speech enhancement (Hao, Su, Wang, Zhang, Xu, Gao) on LibriSpeech
# clean speech, NOISEX-92 training noises and CHiME-4 backgrounds as unseen test noises; stages in
# egs/TEMPLATE/enh/enh.sh, corpus paths in db.sh, noise choice in local/data.sh.
#   ./run.sh                      paper scale (conf/scale.sh: 950 utterances, 12.8M-parameter Wave-U-Nets)
#   ./run.sh --conf_dir conf/cpu  CPU scale on the shared/corpora subset (see RESULTS.md)
#   ./run.sh [--conf_dir D] --stage 4 ...   any enh.sh option after these (./enh.sh --help lists them)
set -euo pipefail

conf_dir=conf
if [ "${1:-}" = --conf_dir ]; then conf_dir=$2; shift 2; fi
# shellcheck disable=SC1091
. "${conf_dir}/scale.sh"   # sets scale_opts: corpus counts and training configs of this scale

./enh.sh \
  --fs 16000 \
  --teacher_snrs "-20,-17,-13,-11 -10,-7,-3,1 0,3,7,9 10,13,17,20" \
  --student_snrs "-20,-10,0,10,20" \
  --test_snrs "-20,-15,-10,-5,0,5,10,15,20" \
  --score_teachers true \
  --paper_results conf/paper_results.yaml \
  "${scale_opts[@]}" \
  "$@"
