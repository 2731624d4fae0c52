# Corpus location of egs/chime4/asr_enh (CHiME-4 is licensed: point CHIME4 at your copy's CHiME3 folder,
# the one holding data/audio/16kHz/{isolated,isolated_ext} and data/transcriptions).
CHIME4=${CHIME4:-/data/CHiME4/CHiME3}
# What stage 1 reads, in its fingerprint (utils/stage.sh db_input_opts).
data_inputs=("${CHIME4}/data/transcriptions")
