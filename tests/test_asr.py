"""ASR backend registry: pocketsphinx on real speech, with its own LM and with one built from text."""

import pytest

from kdspeech.asr import backend_names, build_backend
from kdspeech.asr.lm import build_arpa_lm, transcripts
from kdspeech.data.audio import load_audio
from kdspeech.errors import KdError
from kdspeech.metrics.transcript import corpus_rate, word_errors

# decoded with few errors by the bundled model (../shared/corpora/README.md lists its hypotheses)
EASY = ["spk1_snt1", "spk1_snt5"]
# decoded badly by the bundled model: "sarah thin sheet from the yellow pad", "man the code ..."
HARD = ["spk2_snt3", "spk2_snt4"]


def speechbrain(corpora):
    src = corpora / "asr" / "speechbrain"
    text = dict(line.split(" ", 1) for line in (src / "text").read_text().splitlines())
    wavs = dict(line.split(" ", 1) for line in (src / "wav.list").read_text().splitlines())
    return src, text, wavs


def decode_wer(asr, src, text, wavs, utts):
    errors, words = [], []
    for utt in utts:
        x, sr = load_audio(src / wavs[utt], utt=utt)
        e, n = word_errors(text[utt], asr.transcribe(x, sr))
        errors.append(e)
        words.append(n)
    return corpus_rate(errors, words)


def test_registry_lists_pocketsphinx_and_rejects_unknown_names_and_options():
    assert "pocketsphinx" in backend_names()
    with pytest.raises(KdError, match="unknown ASR backend 'whisper'.*pocketsphinx"):
        build_backend("whisper")
    with pytest.raises(KdError, match="has no option 'beam'"):
        build_backend("pocketsphinx", {"beam": 3})


def test_pocketsphinx_transcribes_real_speech(corpora):
    pytest.importorskip("pocketsphinx")
    src, text, wavs = speechbrain(corpora)
    asr = build_backend("pocketsphinx")
    x, sr = load_audio(src / wavs["spk1_snt5"])
    assert asr.transcribe(x, sr) == "sunday is the best part of the week"
    # another rate is resampled to the model's 16 kHz, not refused
    from kdspeech.data.resample import resample

    assert asr.transcribe(resample(x, sr, 8000), 8000).split()[-2:] == ["the", "week"]
    assert decode_wer(asr, src, text, wavs, EASY) < 0.15


def test_a_language_model_from_the_recipe_text_lowers_wer(corpora, tmp_path):
    pytest.importorskip("pocketsphinx")
    src, text, wavs = speechbrain(corpora)
    lm = build_arpa_lm(src / "text", tmp_path / "lm" / "lm.arpa")
    arpa = lm.read_text()
    assert "\\data\\" in arpa and "<s>" in arpa and " sunday " in arpa.replace("\t", " ")
    default = decode_wer(build_backend("pocketsphinx"), src, text, wavs, HARD)
    own = decode_wer(build_backend("pocketsphinx", {"lm": str(lm)}), src, text, wavs, HARD)
    assert default > 0.2 and own < default / 2, (default, own)  # measured: 4/15 and 0/15


def test_lm_is_rebuilt_only_when_its_text_changes(tmp_path):
    pytest.importorskip("pocketsphinx")
    text = tmp_path / "text"
    text.write_text("u1 THE CAT SAT\nu2 THE DOG RAN\nu3\n")
    assert transcripts(text) == ["the cat sat", "the dog ran"]
    lm = build_arpa_lm(text, tmp_path / "lm.arpa")
    first = lm.stat().st_mtime_ns
    build_arpa_lm(text, tmp_path / "lm.arpa")
    assert lm.stat().st_mtime_ns == first  # same text: reused
    text.write_text("u1 THE CAT RAN\n")
    build_arpa_lm(text, tmp_path / "lm.arpa")
    assert "ran" in lm.read_text() and "dog" not in lm.read_text()
    (tmp_path / "empty").write_text("u1\n")
    with pytest.raises(KdError, match="empty: no transcripts"):
        build_arpa_lm(tmp_path / "empty", tmp_path / "lm2.arpa")
