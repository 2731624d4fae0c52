# Your data: a CSV with header path,label,fold or path,label,participant (see README.md).
user_csv=${KDSPEECH_USER_CSV:-my_clips.csv}
