#!/usr/bin/env bash
# SNR-based teachers-student speech enhancement (Hao, Su, Wang, Zhang, Xu, Gao) on LibriSpeech
# clean speech, NOISEX-92 training noises and CHiME-4 backgrounds as unseen test noises; stages in
# egs/TEMPLATE/enh/enh.sh (the paper's mixture sets and systems: local/snr_teachers.sh), corpus paths
# in db.sh, noise choice in local/data.sh.
#   ./run.sh                      paper scale (conf/scale.sh: 950 utterances, 12.8M-parameter Wave-U-Nets)
#   ./run.sh --conf_dir conf/cpu --student_seeds "1 2"   CPU scale on the shared/corpora subset, S1
#                                 and S2 with two seeds each (see RESULTS.md)
#   ./run.sh [--conf_dir D] --stage 4 ...   then the paper's options below or any enh.sh option
#                                 (./run.sh --help lists both)
set -euo pipefail

conf_dir=conf
if [ "${1:-}" = --conf_dir ]; then conf_dir=$2; shift 2; fi

# The paper's options (local/snr_teachers.sh turns them into enh.sh's mixture sets and systems);
# <conf_dir>/scale.sh and the command line override them, e.g. ./run.sh --teacher_mix_per_utt 2.
teacher_snrs="-20,-17,-13,-11 -10,-7,-3,1 0,3,7,9 10,13,17,20"  # SNR set of each teacher, space-separated
student_snrs="-20,-10,0,10,20"   # SNR set of the student (and validation) data
test_snrs="-20,-15,-10,-5,0,5,10,15,20"  # SNRs of the test sets
teacher_mix_per_utt=4    # mixtures per clean utterance in each teacher set
student_mix_per_utt=5    # mixtures per clean utterance in the student set
valid_mix_per_utt=1      # mixtures per clean utterance in validation sets
test_mix_per_utt=9       # mixtures per clean test utterance (cycling through test_snrs)
test_unseen_mix_per_utt=""  # the same for the unseen-noise test set (empty: test_mix_per_utt)
teacher_conf=conf/train_teacher.yaml     # teacher training config
student_conf=conf/train_student.yaml     # student S1 config (no teachers)
kd_conf=conf/train_student_kd.yaml       # student S2 config (its teacher set 'snr' is filled in)
baselines=""                             # registered models trained on the student set as baselines, e.g. "crn psm_blstm"; empty: none
baseline_confs=""                        # their configs, one per name (empty: <conf_dir>/train_<name>.yaml); --baseline/--baseline_conf: one
score_teachers=true         # also score each teacher on the test mixtures of its SNR range
student_seeds=""            # training seeds of S1 and S2, e.g. "1 2" (S2 against S1 by SNR pooled over them); empty: --seed

# shellcheck disable=SC1091
. "${conf_dir}/scale.sh"   # sets scale_opts: corpus counts and training configs of this scale
set -- "${scale_opts[@]}" "$@"
# shellcheck disable=SC1091
. local/snr_teachers.sh    # takes the options above out of "$@"; sets snr_opts and enh_opts

./enh.sh \
  --fs 16000 \
  --paper_results conf/paper_results.yaml \
  "${snr_opts[@]}" \
  "${enh_opts[@]}"
