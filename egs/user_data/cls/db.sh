# Your data: a CSV with header path,label,fold or path,label,participant (see README.md).
user_csv=${KDSPEECH_USER_CSV:-my_clips.csv}
# Stage 1's fingerprint: the CSV (its content and resolved path) and every clip it lists (by content:
# read once, then a stat while size and time are those recorded), wherever the clips lie.  Stage 1 re-runs (and
# everything after it) when a row changes, or a listed clip is replaced; nothing else (not the recipe's
# own data/, dump/, exp/ beside a CSV kept in the recipe's folder) counts.
data_lists=("${user_csv}")
