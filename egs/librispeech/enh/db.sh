# Corpus locations of egs/librispeech/enh (edit for your site; relative paths are from this recipe dir).
# The default points at the small real subsets in <repo>/../shared/corpora (KDSPEECH_CORPORA overrides):
# 351 LibriSpeech utterances, NOISEX-92 excerpts and 100 nonspeech sounds.  With the full corpus,
# set LIBRISPEECH to the folder holding (or receiving) LibriSpeech/ and stage 1 downloads what is missing.
_kd_corpora=${KDSPEECH_CORPORA:-$(cd "$(dirname "$(readlink -f utils)")/../shared/corpora" 2>/dev/null && pwd)}
LIBRISPEECH=${LIBRISPEECH:-${_kd_corpora}/librispeech}     # contains LibriSpeech/<subset>/<spk>/<chapter>/*.flac
NOISEX92=${NOISEX92:-${_kd_corpora}/noise/noisex92}        # <noise>.wav|.flac (babble, factory1, ...)
CHIME4_NOISE=${CHIME4_NOISE:-${_kd_corpora}/noise/nonspeech}  # unseen noises (CHiME-4 backgrounds: BUS CAF PED STR)
unset _kd_corpora
# What stage 1 reads, in its fingerprint (folders by their files' names, sizes and times): another path,
# or an added, removed or replaced file re-runs stage 1 and everything after it.
data_inputs=("${LIBRISPEECH}" "${NOISEX92}" "${CHIME4_NOISE}")
