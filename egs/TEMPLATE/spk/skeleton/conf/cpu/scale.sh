# The smallest scale (the default of run.sh): a first RESULTS.md in minutes on a 2-core CPU.  At most
# 6 utterances per speaker; TinyECAPA (conf/cpu/train_*.yaml) for 4 epochs of 1.5 s crops.  For real
# numbers: copy conf/cpu to conf/<name>, raise the counts and epochs (egs/shared_speakers/spk/conf has
# the paper's CPU-scale settings), and run ./run.sh --conf_dir conf/<name>.
scale_opts=(
  --local_data_opts "--max_per_spk 6"
  --nj 2
)
