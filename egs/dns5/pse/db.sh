# Corpus locations of egs/dns5/pse (edit for your site; relative paths are from this recipe dir).
# The ICASSP 2023 DNS Challenge (DNS5) data, unpacked from its download scripts
# (https://github.com/microsoft/DNS-Challenge):
DNS5_ROOT=${DNS5_ROOT:-/data/DNS5/datasets_fullband}   # clean_fullband/<collection>/, noise_fullband/, impulse_responses/
DNS5_BLIND=${DNS5_BLIND:-/data/DNS5/V5_BlindTestSet}   # Track1_Headset/{noisy,enrol}/, Track2_Speakerphone/{noisy,enrol}/
DNS5_SPEECH=${DNS5_SPEECH:-read_speech}                # clean_fullband collections used for training (comma-separated)
DNS5_SPEAKER_REGEX=${DNS5_SPEAKER_REGEX:-'^([^_]+)'}   # first group: the speaker in a blind-test file name

# CPU scale (./run.sh --data shared): the small real subsets in <repo>/../shared/corpora
# (KDSPEECH_CORPORA overrides).
_kd_corpora=${KDSPEECH_CORPORA:-$(cd "$(dirname "$(readlink -f utils)")/../shared/corpora" 2>/dev/null && pwd)}
LIBRISPEECH=${LIBRISPEECH:-${_kd_corpora}/librispeech}   # LibriSpeech/{train-clean-100,test-other}/<spk>/<chapter>/*.flac
NOISE=${NOISE:-${_kd_corpora}/noise}                     # noisex92/*.flac, nonspeech/n<k>.flac
RIRS=${RIRS:-${_kd_corpora}/rirs}                        # rir<k>.flac
unset _kd_corpora

# What stage 1 reads, in its fingerprint (utils/stage.sh db_input_opts).
data_inputs=("${DNS5_ROOT}" "${DNS5_BLIND}" "${LIBRISPEECH}" "${NOISE}" "${RIRS}")
