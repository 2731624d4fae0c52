"""ONNX export of the streams with periodic work (kdspeech.deploy.stream_periodic): TinyECAPA's chunk
embeddings and pse_refine's on-the-fly refinement, the periodic part an ONNX ``If``.

Parity, as the other streaming exports (test_stream_onnx): a whole file streamed hop by hop through
torch and through onnxruntime from the first hop; ``max |onnxruntime - torch| <= 1e-4 x max |torch|``
over every chunk embedding (TinyECAPA, 3 s of LibriSpeech speech) or over the waveform from the delay
on (pse_refine, 3 s of noise whose tilt changes, so that the similarity moves inside (0, 1)).
Measured: TinyECAPA 9e-8, pse_refine with E3Net 4.2e-7, pDFNet2 3.5e-7 of the output's peak (pDCCRN,
not in the test: 5.8e-7); with 3 hops a step E3Net 4.5e-7, pDFNet2 3.5e-7 (pDCCRN 5.5e-7).
Small random models, one thread.
"""

import numpy as np
import onnx
import pytest
import torch

from kdspeech.deploy.stream_measure import measure_stream
from kdspeech.deploy.stream_onnx import OrtStream, check_stream_onnx, export_stream_onnx, flatten_state
from kdspeech.errors import KdError
from kdspeech.models.streaming import stream_model
from kdspeech.models.tiny_ecapa import TinyEcapa
from test_stream_onnx import speech
from test_streaming import one_thread  # noqa: F401 (the autouse fixture: one torch thread)
from test_streaming_pse import refine_model, signal

ECAPA = {"emb_dim": 16, "channels": (16, 16, 24), "se_channels": (4, 4, 6), "chunk": 1.0, "chunk_mode": "split"}


def _if_nodes(path):
    return [n for n in onnx.load(str(path)).graph.node if n.op_type == "If"]


def test_tiny_ecapa_chunk_embeddings_export(corpora, tmp_path):
    torch.manual_seed(0)
    stream = stream_model(TinyEcapa(**ECAPA).eval())
    wav = speech(corpora, 3.0, stream.hop)
    path = tmp_path / "ecapa.stream.onnx"
    exported = export_stream_onnx(stream, path, sr=16000)
    paths = [p for p, _ in flatten_state(stream.init_state(1))]
    assert exported["inputs"] == ["chunk"] + [f"state.{p}" for p in paths]
    assert exported["outputs"] == ["out", "ready"] + [f"next.{p}" for p in paths]
    assert len(_if_nodes(path)) == 1          # the blocks run only in the steps that complete a window
    check = check_stream_onnx(stream, path, wav)
    print(f"tiny_ecapa: max |onnxruntime - torch| {check['max_abs_diff']:.3g} = {check['relative']:.2g} x "
          f"max |torch| over the chunk embeddings")
    assert check["passed"] and check["relative"] < 1e-4
    # the same steps emit: 5 windows (1 s every 0.5 s, the last one 50 ms after 3 s is not complete)
    ort, state, emitted = OrtStream(path), stream.init_state(1), []
    ort.init_state()
    with torch.inference_mode():
        for i in range(0, wav.shape[-1], stream.hop):
            out, state = stream.step(wav[:, i:i + stream.hop], state)
            emb, ready = ort.step(wav[:, i:i + stream.hop].numpy())
            assert int(ready[0]) == out.shape[1]
            assert int(ready[0]) or not np.any(emb)
            emitted.append(out.shape[1])
    assert sum(emitted) == 4


@pytest.mark.parametrize("enhancer,hops", [("e3net", 1), ("pdfnet2", 1), ("e3net", 3), ("pdfnet2", 3)])
def test_pse_refine_stream_export(tmp_path, enhancer, hops):
    """k = 3 hops a step: the windows complete at the step's first, last and middle hop (hops 100,
    150, 200); the step is If(enhancer steady: batched, else hop by hop), each branch with its own
    periodic If."""
    model = refine_model(tmp_path, enhancer)
    wav, emb = signal(model, 3)
    stream = stream_model(model, enroll_emb=emb, hops_per_step=hops)
    wav = wav[:, :wav.shape[-1] // stream.hop * stream.hop]
    path = tmp_path / "pse.stream.onnx"
    export_stream_onnx(stream, path, sr=16000)
    ifs = _if_nodes(path)
    assert len(ifs) == 1          # the encoder runs every 50th hop only
    if hops > 1:
        assert ifs[0].name == "hops"
        for branch in ifs[0].attribute:
            assert [n.op_type for n in branch.g.node].count("If") == 1
    check = check_stream_onnx(stream, path, wav)
    print(f"pse_refine ({enhancer}, {hops} hops a step): max |onnxruntime - torch| {check['max_abs_diff']:.3g} = "
          f"{check['relative']:.2g} x max |torch|")
    assert check["passed"] and check["relative"] < 1e-4
    # the refined similarity moved (the check covers the refinement, not a constant s)
    ort = OrtStream(path)
    ort.run(wav.numpy())
    cosine = dict(zip([i.name for i in ort.inputs], ort.state))["state.cosine"]
    with torch.inference_mode():
        _, state = stream.run(wav)
    assert 0 < abs(float(cosine[0])) < 1 and abs(float(cosine[0]) - float(state["cosine"][0])) < 1e-5


def test_periodic_exports_refuse_what_they_do_not_take(tmp_path):
    model = refine_model(tmp_path, "e3net")
    stream = stream_model(model, enroll_emb=signal(model, 1)[1], hops_per_step=51)
    with pytest.raises(KdError, match="at most 50 hops a step"):
        export_stream_onnx(stream, tmp_path / "pse.stream.onnx")
    with pytest.raises(KdError, match="chunk embeddings takes one hop a step"):
        export_stream_onnx(stream_model(TinyEcapa(**ECAPA).eval(), hops_per_step=2), tmp_path / "ecapa.onnx")


def test_latency_rows_of_periodic_streams_run_onnxruntime(tmp_path):
    """The rows run onnxruntime, over at least 4 periods (the first window ends after about 2), and
    their MACs per step are a period's mean: the encoder's pass over each window included."""
    torch.manual_seed(0)
    model = refine_model(tmp_path, "e3net")
    rows = {}
    for name, net, emb_dim in (("ecapa", TinyEcapa(**ECAPA).eval(), None), ("pse", model, model.emb_dim)):
        row = rows[name] = measure_stream(name, net, 1.2, 16000, tmp_path / f"{name}.stream.onnx", repeats=1,
                                          emb_dim=emb_dim)
        assert row["stream_status"] == "ok", row["stream_status"]
        assert row["onnx_hop_p99_ms"] > 0 and row["onnx_max_abs_diff"] <= row["onnx_tolerance"]
        assert row["seconds"] == 2.0                              # 4 periods of 50 hops
    enhancer = measure_stream("enhancer", model.enhancer, 0.5, 16000, repeats=1, emb_dim=model.emb_dim + 1)
    assert rows["pse"]["macs_per_hop"] > 1.2 * enhancer["macs_per_hop"]
    # 8 hops a step: 10 periods (2 before the first window, 8 counted), 504 hops (whole steps), the k-hop export
    row = measure_stream("pse", model, 1.2, 16000, tmp_path / "pse.stream.k8.onnx", repeats=1, emb_dim=model.emb_dim,
                         hops=8)
    assert row["stream_status"] == "ok", row["stream_status"]
    assert row["seconds"] == 5.04 and row["hops_per_step"] == 8 and row["onnx_max_abs_diff"] <= row["onnx_tolerance"]
    assert row["macs_per_hop"] > 1.2 * enhancer["macs_per_hop"]
