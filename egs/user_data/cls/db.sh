# Your data: a CSV with header path,label,fold or path,label,participant (see README.md).
user_csv=${KDSPEECH_USER_CSV:-my_clips.csv}
# The folder holding your clips ("": the CSV's folder), for stage 1's fingerprint only: stage 1 re-runs
# (and everything after it) when the CSV's content changes, or a file under this folder is added,
# removed or replaced (names, sizes and modification times are compared; nothing is read).  Set it
# when the CSV lists clips elsewhere by absolute paths.
user_audio=${KDSPEECH_USER_AUDIO:-}
data_inputs=("${user_csv}" "${user_audio:-$(dirname -- "${user_csv}")}")
