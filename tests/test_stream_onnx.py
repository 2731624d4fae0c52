"""The streaming step exported to ONNX (kdspeech.deploy.stream_onnx) and the latency table of
``kdspeech.bin.deploy --streaming`` (kdspeech.deploy.stream_measure).

Parity: 3 s of real speech (LibriSpeech) streamed hop by hop through torch and through the export in
onnxruntime, from the first hop (the warm-up steps included, as tensor operations in the graph);
from the model's delay on (the samples before it precede the signal) ``max |onnxruntime - torch|``
must stay within 1e-4 x ``max |torch|`` (measured: CRN 1.7e-5, DCCRN 6e-7, E3Net 1.7e-7 of it; float32 DFT
products in place of the FFT, and the random CRN's gains on near-silent bins magnify their
rounding).  Small CRN, DCCRN and E3Net configurations with random weights, one thread; the same
(and pDeepFilterNet2) with 4 hops a step (kdspeech.deploy.stream_hops), and the table's hops column.
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


HOPS_CONFS = {**CONFS, "pdfnet2": {"conv_ch": 8, "emb_hidden": 32, "df_hidden": 32, "erb_bands": 16,
                                    "df_bins": 32, "emb_dim": 0}}


@pytest.mark.parametrize("name", list(HOPS_CONFS))
def test_exported_k_hop_step_streams_a_file_as_torch_does(name, corpora, tmp_path):
    """4 hops a step (kdspeech.deploy.stream_hops): chunk and out of 4 hops, the state of the one-hop
    export, an If between the batched steady step and the warm-up hop by hop; over 3 s of speech it
    equals the torch stream from the delay on (as the one-hop export does), the warm-up's zeros
    included."""
    import onnx
    torch.manual_seed(0)
    model = build_model(name, HOPS_CONFS[name]).eval()
    stream = stream_model(model, hops_per_step=4)
    wav = speech(corpora, 3.0, stream.hop)
    path = tmp_path / f"{name}.onnx"
    exported = export_stream_onnx(stream, path, sr=SR)
    paths = [p for p, _ in flatten_state(stream.init_state(1))]
    assert exported["outputs"] == ["out"] + [f"next.{p}" for p in paths]
    assert exported["metadata"]["hops"] == 4 and exported["metadata"]["hop"] == stream.hop
    graph = onnx.load(str(path)).graph
    assert [n.op_type for n in graph.node] == ["GreaterOrEqual", "If"]
    assert [i.name for i in graph.input] == ["chunk"] + [f"state.{p}" for p in paths]
    assert graph.input[0].type.tensor_type.shape.dim[1].dim_value == 4 * stream.hop
    check = check_stream_onnx(stream, path, wav)
    print(f"{name}, 4 hops a step: max |onnxruntime - torch| {check['max_abs_diff']:.3g} = {check['relative']:.2g} "
          f"x max |torch|")
    assert check["passed"] and check["relative"] < 1e-4
    ort = OrtStream(path)
    assert ort.step_size == 4 * stream.hop
    with torch.inference_mode():
        first, _ = stream_model(model).run(wav[:, :stream.hop * 8])    # the one-hop torch stream
    got = np.concatenate([ort.step(wav[:, i:i + 4 * stream.hop].numpy()) for i in (0, 4 * stream.hop)], -1)
    assert np.array_equal(got == 0, first.numpy() == 0)
    with pytest.raises(ValueError, match="reshape"):
        ort.step(wav[:, :stream.hop].numpy())     # one hop is not a step of this export


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


def test_deploy_streaming_hops_column(tmp_path):
    """``--stream_hops 1,2``: a row per k with a ``hops / step`` column, the latency of k = 2 one hop
    more, the k = 2 step exported and checked; a bad list is named."""
    path = tmp_path / "crn.pth"
    atomic_save({"model_name": "crn", "model_conf": CONFS["crn"],
                 "model": build_model("crn", CONFS["crn"]).state_dict()}, path)
    out = tmp_path / "deploy"
    assert deploy.main(["--models", str(path), "--streaming", "--stream_seconds", "0.5", "--repeats", "1",
                        "--stream_hops", "1,2", "--out_dir", str(out)]) == 0
    one, two = json.loads((out / "deploy.json").read_text())["streaming"]
    assert (one["hops_per_step"], two["hops_per_step"]) == (1, 2)
    assert one["latency_ms"] == 20 and two["latency_ms"] == 30
    assert two["stream_status"] == "ok" and two["onnx_max_abs_diff"] <= two["onnx_tolerance"]
    assert two["onnx_hop_mean_ms"] > 0 and two["macs_per_second"] == pytest.approx(one["macs_per_second"], rel=0.01)
    md = (out / "deploy.md").read_text()
    assert "| hops / step |" in md and "| 10 | 2 | 30.00 |" in md and "k hops per step" in md
    assert (out / "deploy_streaming.tsv").read_text().splitlines()[0].split("\t")[:3] == ["model", "hop_ms",
                                                                                        "hops_per_step"]
    names = sorted(p.name for p in (out / "onnx").glob("*.stream*.onnx"))
    assert len(names) == 2 and names[0].endswith("crn.pth.stream.k2.onnx") and names[1].endswith("crn.pth.stream.onnx")
    with pytest.raises(KdError, match="--stream_hops must be positive integers"):
        deploy.main(["--models", str(path), "--streaming", "--stream_hops", "1,0", "--out_dir", str(out)])
