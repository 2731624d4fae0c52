# Where your corpus is (relative paths are from this recipe dir); local/data.sh reads these folders.
# One subfolder per speaker (<folder>/<speaker>/.../*.wav|.flac...), any rate, mono.
SPK_TRAIN=${SPK_TRAIN:-/path/to/speakers/train}   # speakers to train on
SPK_VALID=${SPK_VALID:-}                          # other speakers, for model selection by EER ("": taken from SPK_TRAIN)
SPK_TEST=${SPK_TEST:-/path/to/speakers/test}      # unseen speakers: the test trials
# What stage 1 reads, in its fingerprint: another path, or a file added, removed or replaced, re-runs
# stage 1 and everything after it.
data_inputs=("${SPK_TRAIN}" ${SPK_VALID:+"${SPK_VALID}"} "${SPK_TEST}")
