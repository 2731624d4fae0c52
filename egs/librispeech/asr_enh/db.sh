# Corpus locations of egs/librispeech/asr_enh (edit for your site; relative paths are from this recipe dir).
# Defaults: the small real subsets in <repo>/../shared/corpora (KDSPEECH_CORPORA overrides).
_kd_corpora=${KDSPEECH_CORPORA:-$(cd "$(dirname "$(readlink -f utils)")/../shared/corpora" 2>/dev/null && pwd)}
LIBRISPEECH=${LIBRISPEECH:-${_kd_corpora}/librispeech}   # LibriSpeech/<subset>/<spk>/<chapter>/*.flac (training audio)
NOISEX92=${NOISEX92:-${_kd_corpora}/noise/noisex92}      # <noise>.wav|.flac (training and test noises)
ASR_CORPORA=${ASR_CORPORA:-${_kd_corpora}/asr}           # <subset>/{text,wav.list,utt2spk}: transcribed test speech
SPEECH_COMMANDS=${SPEECH_COMMANDS:-${_kd_corpora}/speech_commands}   # <word>/<speaker>_nohash_<n>.flac: run.sh step 8 at CPU scale

# What stage 1 reads, in its fingerprint (utils/stage.sh db_input_opts).
data_inputs=("${LIBRISPEECH}" "${NOISEX92}" "${ASR_CORPORA}")
unset _kd_corpora
