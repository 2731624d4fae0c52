# Corpus locations of egs/shared_speakers/spk (edit for your site; relative paths are from this recipe dir).
# Default: the small real subsets in <repo>/../shared/corpora (KDSPEECH_CORPORA overrides).
_kd_corpora=${KDSPEECH_CORPORA:-$(cd "$(dirname "$(readlink -f utils)")/../shared/corpora" 2>/dev/null && pwd)}
LIBRISPEECH=${LIBRISPEECH:-${_kd_corpora}/librispeech}            # LibriSpeech/{train-clean-100,test-other}/<spk>/<chapter>/*.flac
SPEECH_COMMANDS=${SPEECH_COMMANDS:-${_kd_corpora}/speech_commands}  # <word>/<speaker>_nohash_<n>.flac
AN4=${AN4:-${_kd_corpora}/asr/an4}                                  # utt2spk, wav.list, an4/wav/...
unset _kd_corpora
