# Corpus location: the ESC-50 dir holding meta/esc50.csv and audio/ (the download stage puts the
# official archive under downloads/ESC-50-master).  KDSPEECH_ESC50 overrides, e.g. the shared subset:
#   KDSPEECH_ESC50=../../../../shared/corpora/esc50 ./run.sh --conf_dir conf/cpu ...
esc50=${KDSPEECH_ESC50:-downloads/ESC-50-master}
# Speech with transcripts for the privacy stage (folders with text + wav.list, or Kaldi data dirs).
corpora=${KDSPEECH_CORPORA:-../../../../shared/corpora}
privacy_speech="${corpora}/asr/an4 ${corpora}/asr/speechbrain"
