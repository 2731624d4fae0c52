# Where your corpus is (relative paths are from this recipe dir); local/data.sh reads these folders.
# Speech folders: one subfolder per speaker (<folder>/<speaker>/.../*.wav|.flac...), at least two
# utterances per speaker (one becomes the enrolment clip); any rate, mono.
SPEECH_TRAIN=${SPEECH_TRAIN:-/path/to/speech/train}   # target (and interfering) speakers for training
SPEECH_TEST=${SPEECH_TEST:-/path/to/speech/test}      # unseen speakers: the synthetic test set
NOISE_TRAIN=${NOISE_TRAIN:-/path/to/noise/train}      # noises of training and validation mixtures
NOISE_TEST=${NOISE_TEST:-/path/to/noise/test}         # unseen noises of the test mixtures
RIRS=${RIRS:-/path/to/rirs}                           # room impulse responses (../shared/corpora/rirs has 4)
# What stage 1 reads, in its fingerprint: another path, or a file added, removed or replaced, re-runs
# stage 1 and everything after it.
data_inputs=("${SPEECH_TRAIN}" "${SPEECH_TEST}" "${NOISE_TRAIN}" "${NOISE_TEST}" "${RIRS}")
