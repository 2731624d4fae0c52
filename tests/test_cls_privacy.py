"""Privacy stage: pocketsphinx WER per microphone rate (deployment is tested in test_deploy.py)."""

import json

import pytest

from kdspeech.bin import privacy_wer
from kdspeech.data.datadir import write_kv


def test_speech_at_1khz_is_much_less_intelligible(corpora, tmp_path):
    pytest.importorskip("pocketsphinx")
    src = corpora / "asr" / "speechbrain"
    utts = ["spk1_snt1", "spk1_snt5"]  # decoded almost perfectly at 16 kHz (corpora README)
    text = dict(l.split(" ", 1) for l in (src / "text").read_text().splitlines())
    wavs = dict(l.split(" ", 1) for l in (src / "wav.list").read_text().splitlines())
    data = tmp_path / "speech"
    write_kv(data / "wav.scp", {u: str(src / wavs[u]) for u in utts})
    write_kv(data / "text", {u: text[u] for u in utts})
    privacy_wer.main(["--data", str(data), "--rates", "16000 1000", "--out_dir", str(tmp_path / "out")])
    wer = json.loads((tmp_path / "out" / "wer.json").read_text())["speech"]
    assert wer["16000"]["wer"] < 0.3 and wer["1000"]["wer"] > 0.6 and wer["1000"]["num_utts"] == 2
    assert (tmp_path / "out" / "hyp_speech_1000.txt").read_text().count("\n") == 2
