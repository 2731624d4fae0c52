"""The streaming step exported to ONNX (kdspeech.deploy.stream_onnx) and the latency table of
``kdspeech.bin.deploy --streaming`` (kdspeech.deploy.stream_measure).

Parity: 3 s of real speech (LibriSpeech) streamed hop by hop through torch and through the export in
onnxruntime, from the first hop (the warm-up steps included, as tensor operations in the graph);
from the model's delay on (the samples before it precede the signal) ``max |onnxruntime - torch|``
must stay within 1e-4 x ``max |torch|`` (measured: CRN 1.7e-5, DCCRN 6e-7, E3Net 1.7e-7 of it; float32 DFT
products in place of the FFT, and the random CRN's gains on near-silent bins magnify their
rounding).  Small CRN, DCCRN and E3Net configurations with random weights, one thread.
"""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from kdspeech.bin import deploy
from kdspeech.deploy.stream_onnx import (OrtStream, Pair, ComplexAsPairs, StepGraph, check_stream_onnx,
                                         export_stream_onnx, flatten_state)
from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.models.streaming import stream_model
from kdspeech.train.checkpoint import atomic_save
from test_streaming import one_thread  # noqa: F401 (the autouse fixture: one torch thread)

SR = 16000
CONFS = {"crn": {"channels": [8, 16, 32], "lstm_layers": 2, "lstm_hidden": 64},
         "dccrn": {"channels": [8, 16, 32], "lstm_units": 32},
         # its first steps zero only the output samples before the signal: gated sample by sample
         "e3net": {"filters": 64, "fusion_dim": 32, "blocks": 2, "ffn_dim": 64, "lstm_units": 24, "emb_dim": 0}}
FLAC = "librispeech/LibriSpeech/train-clean-100/909/131041/909-131041-0000.flac"


def speech(corpora, seconds, hop):
    x, sr = sf.read(str(corpora / FLAC), dtype="float32")
    assert sr == SR
    n = int(seconds * SR) // hop * hop
    return torch.from_numpy(x[SR // 2:SR // 2 + n])[None]


@pytest.mark.parametrize("name", list(CONFS))
def test_exported_step_streams_a_file_as_torch_does(name, corpora, tmp_path):
    torch.manual_seed(0)
    stream = stream_model(build_model(name, CONFS[name]).eval())
    wav = speech(corpora, 3.0, stream.hop)
    path = tmp_path / f"{name}.onnx"
    exported = export_stream_onnx(stream, path, sr=SR)
    paths = [p for p, _ in flatten_state(stream.init_state(1))]
    assert exported["inputs"] == ["chunk"] + [f"state.{p}" for p in paths]
    assert exported["outputs"] == ["out"] + [f"next.{p}" for p in paths]
    assert exported["metadata"]["hop"] == stream.hop and exported["metadata"]["delay"] == stream.delay

    check = check_stream_onnx(stream, path, wav)
    print(f"{name}: {check['hops']} hops, delay {stream.delay}, max |onnxruntime - torch| {check['max_abs_diff']:.3g} "
          f"= {check['relative']:.2g} x max |torch| ({check['scale']:.3g})")
    assert check["passed"] and check["relative"] < 1e-4
    # the warm-up is in the graph: the hops before the first frame are zeros there as in torch
    ort = OrtStream(path)
    assert ort.meta["tag"] == str(stream.init_state(1)["tag"])
    ort.init_state()
    with torch.inference_mode():
        first, _ = stream.run(wav[:, :stream.hop * 4])
    got = np.concatenate([ort.step(wav[:, i:i + stream.hop].numpy()) for i in range(0, stream.hop * 4, stream.hop)], -1)
    assert np.array_equal(got == 0, first.numpy() == 0)
    # another model's stream is not this export's: the check fails and says by how much
    other = stream_model(build_model(name, CONFS[name]).eval())
    wrong = check_stream_onnx(other, path, wav[:, :stream.hop * 40])
    assert not wrong["passed"] and "tolerance" in wrong["reason"]


def test_complex_pairs_match_torch_fft():
    generator = torch.Generator().manual_seed(0)
    for n in (320, 321):
        x = torch.randn(2, n, generator=generator)
        with ComplexAsPairs():
            spec = torch.fft.rfft(x, n=n)
            back = torch.fft.irfft(spec * torch.full((n // 2 + 1,), 0.5), n=n)
            ri = torch.view_as_real(spec)
        ref = torch.fft.rfft(x)
        assert isinstance(spec, Pair)
        assert torch.allclose(spec.real, ref.real, atol=1e-4) and torch.allclose(spec.imag, ref.imag, atol=1e-4)
        assert torch.allclose(back, 0.5 * x, atol=1e-5)
        assert torch.allclose(ri, torch.view_as_real(ref), atol=1e-4)
    with ComplexAsPairs(), pytest.raises(KdError, match="no rule for"):
        torch.exp(torch.fft.rfft(torch.ones(8)))


class Drifting:
    """A stream whose warm-up no counter marks: the export must refuse it."""

    hop, delay, name = 4, 0, "Drifting"

    def init_state(self, batch=1):
        return {"tag": "drifting", "acc": torch.zeros(batch, self.hop)}

    def step(self, chunk, state):
        self.calls = getattr(self, "calls", 0) + 1
        out = chunk if self.calls > 2 else torch.zeros_like(chunk)
        return out, {**state, "acc": state["acc"] + chunk}


def test_warm_up_without_a_counter_is_refused():
    with pytest.raises(KdError, match="no step counter"):
        StepGraph(Drifting())


def test_deploy_streaming_latency_table(tmp_path):
    models = []
    for name, conf in (("crn", CONFS["crn"]), ("waveunet", {"num_layers": 1, "base_channels": 2, "growth": 1,
                                                              "num_decimations": 1})):
        path = tmp_path / f"{name}.pth"
        atomic_save({"model_name": name, "model_conf": conf, "model": build_model(name, conf).state_dict()}, path)
        models.append(str(path))
    out = tmp_path / "deploy"
    assert deploy.main(["--models", *models, "--streaming", "--stream_seconds", "0.5", "--repeats", "1",
                        "--out_dir", str(out)]) == 0
    report = json.loads((out / "deploy.json").read_text())
    crn, waveunet = report["streaming"]
    assert crn["stream_status"] == "ok" and crn["hop_ms"] == 10 and crn["latency_ms"] == 20
    assert crn["onnx_max_abs_diff"] <= crn["onnx_tolerance"]
    for key in ("torch_hop_mean_ms", "torch_hop_p99_ms", "torch_rtf", "onnx_hop_mean_ms", "onnx_hop_p99_ms",
                "onnx_rtf", "state_numel", "state_bytes", "parameters", "macs_per_second", "stream_over_offline"):
        assert crn[key] > 0, key
    assert waveunet["stream_status"] == "cannot stream" and "non-causal" in waveunet["stream_error"]
    md = (out / "deploy.md").read_text()
    assert "algorithmic latency (ms)" in md and "| 20.00 |" in md and "Cannot stream: WaveUNet cannot stream" in md
    assert len(list((out / "onnx").glob("*.stream.onnx"))) == 1
    assert (out / "deploy_streaming.tsv").read_text().count("\n") == 3
