# Where your corpus is (relative paths are from this recipe dir); local/data.sh reads these folders.
# Every audio file under a folder is one utterance (.wav .flac .ogg ...; any rate, mono).
CLEAN_TRAIN=${CLEAN_TRAIN:-/path/to/clean/train}   # clean speech for training (one folder per speaker: --spk_from dir)
CLEAN_VALID=${CLEAN_VALID:-}                       # clean speech for validation ("": taken from CLEAN_TRAIN)
CLEAN_TEST=${CLEAN_TEST:-/path/to/clean/test}      # clean speech of the test mixtures (unseen speakers)
NOISE_TRAIN=${NOISE_TRAIN:-/path/to/noise/train}   # noises of training, validation and the seen-noise test set
NOISE_TEST=${NOISE_TEST:-/path/to/noise/test}      # unseen noises: the test_unseen set only
# What stage 1 reads, in its fingerprint: another path, or a file added, removed or replaced under one
# of these folders, re-runs stage 1 and everything after it.
data_inputs=("${CLEAN_TRAIN}" ${CLEAN_VALID:+"${CLEAN_VALID}"} "${CLEAN_TEST}" "${NOISE_TRAIN}" "${NOISE_TEST}")
