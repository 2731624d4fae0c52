# CPU scale, runnable on the shared/corpora subset in ~25 min on 2 cores: 200 training utterances
# (cut to 3 s, about TIMIT's length) x 2 mixtures per teacher set (400) and student set (400),
# 20 validation utterances x 2, 20 test utterances (10 unseen speakers) x 9 SNRs per noise condition.
scale_opts=(
  --local_data_opts "--num_train 200 --num_valid 20 --num_test 20 --max_seconds 3"
  --teacher_mix_per_utt 2 --student_mix_per_utt 2 --valid_mix_per_utt 2
  --test_mix_per_utt 9 --test_unseen_mix_per_utt 9
  --teacher_conf conf/cpu/train_teacher.yaml --student_conf conf/cpu/train_student.yaml
  --kd_conf conf/cpu/train_student_kd.yaml --baselines "crn psm_blstm wavenet_denoise"
  --results results/cpu/RESULTS.md --results_dir results/cpu   # tables quoted in ./RESULTS.md
)
