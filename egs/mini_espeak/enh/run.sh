#!/usr/bin/env bash
# Offline mini recipe: SNR-based teachers-student enhancement on a corpus made here with espeak-ng
# (several voices, known transcripts) and sox noises.  Runs every stage of egs/TEMPLATE/enh in a few
# minutes on a laptop CPU; numbers say the pipeline works, not what the paper reports.  The paper's
# mixture sets and systems come from local/snr_teachers.sh (shared with egs/librispeech/enh).
#   ./run.sh                 all stages
#   ./run.sh --stage 4       from stage 4;  ./run.sh --help  for every option
set -euo pipefail

# The paper's options (local/snr_teachers.sh turns them into enh.sh's mixture sets and systems);
# the command line overrides them, e.g. ./run.sh --teacher_mix_per_utt 2.
teacher_snrs="-5,0 5,10"  # SNR set of each teacher, space-separated
student_snrs="-5,0,5,10"   # SNR set of the student (and validation) data
test_snrs="-5,0,5,10,15"  # SNRs of the test sets
teacher_mix_per_utt=2    # mixtures per clean utterance in each teacher set
student_mix_per_utt=2    # mixtures per clean utterance in the student set
valid_mix_per_utt=1      # mixtures per clean utterance in validation sets
test_mix_per_utt=5       # mixtures per clean test utterance (cycling through test_snrs)
test_unseen_mix_per_utt=""  # the same for the unseen-noise test set (empty: test_mix_per_utt)
teacher_conf=conf/train_teacher.yaml     # teacher training config
student_conf=conf/train_student.yaml     # student S1 config (no teachers)
kd_conf=conf/train_student_kd.yaml       # student S2 config (its teacher set 'snr' is filled in)
baselines=""                             # registered models trained on the student set as baselines, e.g. "crn psm_blstm"; empty: none
baseline_confs=""                        # their configs, one per name (empty: <conf_dir>/train_<name>.yaml); --baseline/--baseline_conf: one
score_teachers=false         # also score each teacher on the test mixtures of its SNR range
student_seeds=""            # training seeds of S1 and S2, e.g. "1 2" (S2 against S1 by SNR pooled over them); empty: --seed

# shellcheck disable=SC1091
. local/snr_teachers.sh    # takes the options above out of "$@"; sets snr_opts and enh_opts

./enh.sh \
  --fs 16000 \
  --local_data_opts "--num_test 8" \
  --results_note conf/results_note.md \
  "${snr_opts[@]}" \
  "${enh_opts[@]}"
