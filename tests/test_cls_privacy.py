"""Privacy stage: WER per microphone rate with each ASR backend (deployment is tested in test_deploy.py)."""

import json

import pytest

from kdspeech.bin import privacy_wer
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError


def two_clear_utterances(corpora, data):
    src = corpora / "asr" / "speechbrain"
    utts = ["spk1_snt1", "spk1_snt5"]  # decoded almost perfectly at 16 kHz (corpora README)
    text = dict(l.split(" ", 1) for l in (src / "text").read_text().splitlines())
    wavs = dict(l.split(" ", 1) for l in (src / "wav.list").read_text().splitlines())
    write_kv(data / "wav.scp", {u: str(src / wavs[u]) for u in utts})
    write_kv(data / "text", {u: text[u] for u in utts})
    return data


def test_speech_at_1khz_is_much_less_intelligible(corpora, tmp_path):
    pytest.importorskip("pocketsphinx")
    data = two_clear_utterances(corpora, tmp_path / "speech")
    privacy_wer.main(["--data", str(data), "--rates", "16000 1000", "--out_dir", str(tmp_path / "out")])
    result = json.loads((tmp_path / "out" / "wer.json").read_text())
    assert list(result["backends"]) == ["pocketsphinx"] and result["rates"] == [16000, 1000]
    wer = result["backends"]["pocketsphinx"]["speech"]
    assert wer["16000"]["wer"] < 0.3 and wer["1000"]["wer"] > 0.6 and wer["1000"]["num_utts"] == 2
    assert (tmp_path / "out" / "pocketsphinx" / "hyp_speech_1000.txt").read_text().count("\n") == 2


def test_both_backends_decode_the_same_views(corpora, tmp_path):
    pytest.importorskip("pocketsphinx")
    pytest.importorskip("moonshine_voice")
    data = two_clear_utterances(corpora, tmp_path / "speech")
    privacy_wer.main(["--data", str(data), "--rates", "16000 1000", "--asr_backends", "pocketsphinx moonshine",
                      "--out_dir", str(tmp_path / "out")])
    result = json.loads((tmp_path / "out" / "wer.json").read_text())["backends"]
    assert set(result) == {"pocketsphinx", "moonshine"}
    for backend in result:
        wer = result[backend]["speech"]
        # same reference words for both; intelligible at 16 kHz, not at 1 kHz
        assert wer["16000"]["words"] == result["pocketsphinx"]["speech"]["16000"]["words"]
        assert wer["16000"]["wer"] < 0.3 < wer["1000"]["wer"], (backend, wer)
        hyps = (tmp_path / "out" / backend / "hyp_speech_16000.txt").read_text().splitlines()
        assert [h.split(" ")[0] for h in hyps] == ["spk1_snt1", "spk1_snt5"]


def test_unknown_or_repeated_backend_fails_before_decoding(tmp_path):
    with pytest.raises(KdError, match="distinct"):
        privacy_wer.main(["--data", str(tmp_path), "--asr_backends", "pocketsphinx pocketsphinx",
                          "--out_dir", str(tmp_path / "out")])
    with pytest.raises(KdError):
        privacy_wer.main(["--data", str(tmp_path), "--asr_backends", "nosuch", "--out_dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()
