# Paper scale (Hao et al.): 950 training utterances, 20 mixtures each per teacher set (19,000),
# 25 for the student set (23,750), 100 test utterances x 9 SNRs x (5 seen + 4 unseen noises) = 8,100.
scale_opts=(
  --local_data_opts "--num_train 950 --num_valid 50 --num_test 100"
  --teacher_mix_per_utt 20 --student_mix_per_utt 25 --valid_mix_per_utt 5
  --test_mix_per_utt 45 --test_unseen_mix_per_utt 36
  --teacher_conf conf/train_teacher.yaml --student_conf conf/train_student.yaml
  --kd_conf conf/train_student_kd.yaml --baselines "crn psm_blstm wavenet_denoise"
)
