# CPU scale on the ../shared/corpora subsets (2 cores, about an hour in all; see RESULTS.md): 4 s
# validation and test mixtures, two trainings at a time with one thread each.
scale_opts=(
  --valid_mixtures 40 --test_mixtures 60 --mix_seconds 4
  --train_jobs 2 --nj 2
  --alpha_sweep "1 2 4 6 8"
)
