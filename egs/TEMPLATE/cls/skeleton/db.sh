# Where your clips are (relative paths are from this recipe dir); local/data.sh reads this folder:
# one subfolder per class (<folder>/<class>/.../*.wav|.flac...), any rate, mono.
CLIPS=${CLIPS:-/path/to/clips}
# What stage 1 reads, in its fingerprint: another path, or a clip added, removed or replaced, re-runs
# stage 1 and everything after it.
data_inputs=("${CLIPS}")
