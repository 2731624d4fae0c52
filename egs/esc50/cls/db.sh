# Corpus location: the ESC-50 dir holding meta/esc50.csv and audio/ (the download stage puts the
# official archive under downloads/ESC-50-master).  KDSPEECH_ESC50 overrides, e.g. the shared subset:
#   KDSPEECH_ESC50=../../../../shared/corpora/esc50 ./run.sh --conf_dir conf/cpu ...
esc50=${KDSPEECH_ESC50:-downloads/ESC-50-master}
# Speech with transcripts for the privacy stage (folders with text + wav.list, or Kaldi data dirs).
corpora=${KDSPEECH_CORPORA:-../../../../shared/corpora}
privacy_speech="${corpora}/asr/an4 ${corpora}/asr/speechbrain"
# What stage 1 reads, in its fingerprint (a file by content, a folder by its files' names, sizes and
# times): a changed CSV, an added or replaced clip or another esc50 path re-runs stage 1 and what follows.
data_inputs=("${esc50}/meta/esc50.csv" "${esc50}/audio")
