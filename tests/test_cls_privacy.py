"""Privacy stage (pocketsphinx WER per microphone rate) and deployment stage (parameters, MACs, latency)."""

import json

import pytest

from kdspeech.bin import deploy_cls, privacy_wer
from kdspeech.data.datadir import write_kv
from kdspeech.models import build_model, count_parameters
from kdspeech.train.checkpoint import atomic_save


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


def test_deploy_counts_parameters_and_macs(tmp_path):
    conf = {"num_classes": 5, "width": 0.125}
    model = build_model("mobilenetv2", conf)
    atomic_save({"model_name": "mobilenetv2", "model_conf": conf, "model": model.state_dict()}, tmp_path / "m.pth")
    deploy_cls.main(["--models", str(tmp_path / "m.pth"), "--duration", "1", "--repeats", "1",
                     "--out_dir", str(tmp_path / "d")])
    row = json.loads((tmp_path / "d" / "deploy.json").read_text())["models"][0]
    assert row["parameters"] == count_parameters(model)
    # the last layer alone: fc_transfer (emb -> 5) once per clip
    assert row["macs"] > model.fc_transfer.in_features * 5 and row["latency_ms"] > 0
    assert (tmp_path / "d" / "deploy.tsv").read_text().startswith("model\tparameters\tMACs")
