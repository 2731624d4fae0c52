# Corpus locations of egs/timit/enh (edit for your site).  TIMIT is LDC93S1 (licensed, no download):
# TIMIT=<folder holding TRAIN/ and TEST/> (either case; NIST SPHERE .WAV, or .wav/.flac conversions).
_kd_corpora=${KDSPEECH_CORPORA:-$(cd "$(dirname "$(readlink -f utils)")/../shared/corpora" 2>/dev/null && pwd)}
TIMIT=${TIMIT:-/export/corpora/LDC/LDC93S1/timit/TIMIT}
NOISEX92=${NOISEX92:-${_kd_corpora}/noise/noisex92}        # <noise>.wav|.flac (babble, factory1, ...)
CHIME4_NOISE=${CHIME4_NOISE:-${_kd_corpora}/noise/nonspeech}  # unseen noises (CHiME-4 backgrounds: BUS CAF PED STR)
unset _kd_corpora
# What stage 1 reads, in its fingerprint (folders by their files' names, sizes and times): another path,
# or an added, removed or replaced file re-runs stage 1 and everything after it.
data_inputs=("${TIMIT}" "${NOISEX92}" "${CHIME4_NOISE}")
