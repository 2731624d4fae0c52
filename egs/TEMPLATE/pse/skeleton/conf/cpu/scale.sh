# The smallest scale (the default of run.sh): a first RESULTS.md on a 2-core CPU without waiting
# hours.  8 validation and 8 test mixtures of 2 s, trainings of 2 epochs of 32 on-the-fly mixtures
# (conf/cpu/train_*.yaml: the widths of egs/dns5/pse/conf/cpu), two at a time.  For real numbers: copy
# conf/cpu to conf/<name>, raise the counts and epochs, and run ./run.sh --conf_dir conf/<name>.
scale_opts=(
  --valid_mixtures 8 --test_mixtures 8 --mix_seconds 2
  --train_jobs 2 --nj 2 --deploy false
)
