#!/usr/bin/env bash
# Offline mini recipe: SNR-based teachers-student enhancement on a corpus made here with espeak-ng
# (several voices, known transcripts) and sox noises.  Runs every stage of egs/TEMPLATE/enh in a few
# minutes on a laptop CPU; numbers say the pipeline works, not what the paper reports.
#   ./run.sh                 all stages
#   ./run.sh --stage 4       from stage 4;  ./run.sh --help  for every option
set -euo pipefail

./enh.sh \
  --fs 16000 \
  --teacher_snrs "-5,0 5,10" \
  --student_snrs "-5,0,5,10" \
  --test_snrs "-5,0,5,10,15" \
  --teacher_mix_per_utt 2 \
  --student_mix_per_utt 2 \
  --valid_mix_per_utt 1 \
  --test_mix_per_utt 5 \
  --local_data_opts "--num_test 8" \
  --teacher_conf conf/train_teacher.yaml \
  --student_conf conf/train_student.yaml \
  --kd_conf conf/train_student_kd.yaml \
  --results_note conf/results_note.md \
  "$@"
