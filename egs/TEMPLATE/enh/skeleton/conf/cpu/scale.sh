# The smallest scale (the default of run.sh): a first RESULTS.md in minutes on a 2-core CPU, to see
# the recipe through before spending hours.  40 training utterances (10 for validation when db.sh has
# no CLEAN_VALID), 2 teachers (SNR ranges -5..0 and 5..10 dB), tiny Wave-U-Nets (conf/cpu/*.yaml) for
# 4 epochs.  For real numbers: copy conf/cpu to conf/<name>, raise the counts and the models, and run
# ./run.sh --conf_dir conf/<name>; the paper's sizes are in egs/librispeech/enh/conf/.
scale_opts=(
  --local_data_opts "--max_utts 40"
  --teacher_snrs "-5,0 5,10" --student_snrs "-5,0,5,10" --test_snrs "-5,0,5,10"
  --teacher_mix_per_utt 1 --student_mix_per_utt 2 --valid_mix_per_utt 1 --test_mix_per_utt 4
  --teacher_conf conf/cpu/train_teacher.yaml --student_conf conf/cpu/train_student.yaml
  --kd_conf conf/cpu/train_student_kd.yaml
  --metrics pesq_wb,stoi,si_sdr
)
