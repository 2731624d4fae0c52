# The paper's scale (Serre et al. III-B): a fixed 50-hour validation set of 10 s mixtures from 15 % of
# the DNS5 source files; the DNS5 blind test set (both tracks) for testing; alpha swept as in Fig. 3.
scale_opts=(
  --valid_mixtures 18000 --mix_seconds 10
  --train_jobs 1 --nj 16
  --alpha_sweep "1 2 3 4 5 6 8 10"
)
