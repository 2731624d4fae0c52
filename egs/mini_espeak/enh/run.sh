#!/usr/bin/env bash
# Offline mini recipe: SNR-based teachers-student enhancement on a corpus made here with espeak-ng
# (several voices, known transcripts) and sox noises.  Runs every stage of egs/TEMPLATE/enh in a few
# minutes on a laptop CPU; numbers say the pipeline works, not what the paper reports.  The paper's
# mixture sets and systems come from local/snr_teachers.sh (shared with egs/librispeech/enh).
#   ./run.sh                 all stages
#   ./run.sh --stage 4       from stage 4;  ./run.sh --help  for every option
set -euo pipefail

help_message="Usage: $0 [options]   (the paper's options of local/snr_teachers.sh, then enh.sh's)"
# This recipe's scale of the paper's options (local/snr_teachers.sh holds them, with the full-size
# recipes' defaults) and its enh.sh options; the command line overrides them, e.g.
# ./run.sh --teacher_mix_per_utt 3.
passed_options=(--teacher_snrs "-5,0 5,10" --student_snrs "-5,0,5,10" --test_snrs "-5,0,5,10,15"
                --teacher_mix_per_utt 2 --student_mix_per_utt 2 --test_mix_per_utt 5 --score_teachers false
                --student_seeds "1 2 3" --fs 16000 --local_data_opts "--num_test 8"
                --results_note conf/results_note.md)
pass_options_to=local/snr_teachers.sh
. utils/parse_options.sh

exec local/snr_teachers.sh "${passed_options[@]}"
