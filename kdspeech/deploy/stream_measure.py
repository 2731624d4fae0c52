"""Streaming latency of one model: the row of the deploy report's streaming table
(``kdspeech.bin.deploy --streaming``) and the figures of ``benchmarks/bench_streaming.py``.

The model streams through its adapter (``kdspeech.models.streaming.stream_model``; a model that cannot
stream gets a row saying why).  Batch 1, ``seconds`` of seeded noise at ``sr`` cut to whole hops (the
model's first deploy input; a personalized model's enrolment embedding goes to its adapter):

- ``hops`` k (``hops_per_step`` of the adapter; None: the adapter's default of one, and no
  ``hops_per_step`` in the row): each step takes k hops, its k frames batched;
- algorithmic latency: the adapter's ``latency`` in ms, its ``delay`` (window + look-ahead: the output
  trails the input by that much with infinitely fast compute) plus the (k - 1) hops a step waits for; a
  live stream adds one hop of buffering and the compute;
- compute per hop: wall-clock time of each ``step`` (divided by k) after ``WARMUP_HOPS`` untimed hops, in torch
  (inference mode, torch's current thread count) and in onnxruntime (the export of
  ``kdspeech.deploy.stream_onnx``, ``num_threads`` threads, the state fed back by the host); mean and
  99th percentile; real-time factor = mean compute per step / step duration (k hops);
- state: its elements (``state_numel``) and bytes; parameters; MACs of one steady-state step
  (``kdspeech.models.complexity.count_macs``, FFTs not counted; with periodic work, the mean step of a
  period; per hop: a step's over k) and per second of audio;
- the ONNX stream checked against the torch stream (``stream_onnx.compare_streams``: the waveform
  from the delay on, or every chunk embedding a TinyECAPA stream emitted); a step the export does not
  take (its KdError) leaves the row torch only, ``ok (torch only: <why>)``, while an exporter or
  onnxruntime failure or a difference past the tolerance is ``FAIL: <why>``;
- the stream's total time over the audio (every hop, torch and onnxruntime) against one offline
  forward of the same audio in torch (median of ``repeats``): ``stream_over_offline``,
  ``onnx_stream_over_offline``.
"""

import logging
import time

import numpy as np
import torch
from torch import nn

from kdspeech.deploy.inputs import deploy_inputs
from kdspeech.errors import KdError
from kdspeech.models import count_parameters
from kdspeech.models.complexity import count_macs, median_seconds, run_forward

log = logging.getLogger(__name__)

WARMUP_HOPS = 25


def open_stream(model, inputs, hops=None):
    """The adapter of ``model`` (eval mode); a personalized model's ``enroll_emb`` from ``inputs``;
    ``hops``: its ``hops_per_step`` (None: the adapter's default)."""
    from kdspeech.models.streaming import stream_model
    model.eval()
    extra = {"enroll_emb": inputs["enroll_emb"]} if "enroll_emb" in inputs else {}
    if hops is not None:
        extra["hops_per_step"] = hops
    return stream_model(model, **extra)


def stream_audio(model, stream, seconds, sr, emb_dim=None):
    """``[1, T]`` seeded noise, ``T`` the whole steps in ``seconds`` (at least ``WARMUP_HOPS + 1`` hops,
    one step past them, and for a stream with periodic work ``max(4, 2 + k) period`` hops: its first
    window completes after about 2 periods, and ``step_macs`` counts the last ``period`` steps of k
    hops, so that the timed and counted steps include its periodic work)."""
    k = stream.hops
    hops = max(int(round(seconds * sr)) // stream.hop, WARMUP_HOPS + 1, _warm_hops(stream) + k,
               max(4, 2 + k) * stream.period if stream.period > 1 else 0)
    hops += -hops % k
    inputs = deploy_inputs(model, hops * stream.hop, emb_dim)
    return next(iter(inputs.values()))[:, :hops * stream.hop].float()


def _warm_hops(stream):
    """The untimed hops: ``WARMUP_HOPS`` rounded up to whole steps."""
    return -(-WARMUP_HOPS // stream.hops) * stream.hops


def torch_stream_timed(stream, wav):
    """``(output, seconds per step)`` of streaming ``wav`` through torch (steps of ``step_size``):
    output ``[1, T]`` for a waveform stream, ``[1, K, D]`` (the K embeddings the steps emitted) for a
    chunk embedding stream."""
    state = stream.init_state(1)
    outs, times = [], []
    with torch.inference_mode():
        for start in range(0, wav.shape[-1], stream.step_size):
            chunk = wav[:, start:start + stream.step_size]
            t0 = time.perf_counter()
            out, state = stream.step(chunk, state)
            times.append(time.perf_counter() - t0)
            outs.append(out)
    waveform = all(tuple(o.shape) == (1, stream.step_size) for o in outs)
    return torch.cat(outs, -1 if waveform else 1).numpy(), np.asarray(times)


def ort_stream_timed(ort_stream, wav):
    """``(output, seconds per step)`` of streaming ``wav`` through an ``OrtStream`` (the output as
    ``torch_stream_timed``'s)."""
    wav = np.asarray(wav, np.float32)
    ort_stream.init_state()
    outs, times = [], []
    for start in range(0, wav.shape[-1], ort_stream.step_size):
        chunk = wav[:, start:start + ort_stream.step_size]
        t0 = time.perf_counter()
        outs.append(ort_stream.step(chunk))
        times.append(time.perf_counter() - t0)
    if not isinstance(outs[0], tuple):
        return np.concatenate(outs, -1), np.asarray(times)
    ready = [out[:, None] for out, flag in outs if int(flag[0])]    # chunk embeddings: those emitted
    dim = outs[0][0].shape[-1]
    return (np.concatenate(ready, 1) if ready else np.zeros((1, 0, dim), np.float32)), np.asarray(times)


def hop_figures(times, hop_s, prefix, hops=1):
    """``{prefix}_hop_mean_ms``, ``_hop_p99_ms`` and ``_rtf`` of per-step seconds of steps of ``hops``
    hops, per hop (a step's time over ``hops``), after ``WARMUP_HOPS`` hops of whole steps."""
    skip = -(-WARMUP_HOPS // hops)
    timed = (times[skip:] if len(times) > skip else times) / hops
    mean = float(np.mean(timed))
    return {f"{prefix}_hop_mean_ms": 1000 * mean, f"{prefix}_hop_p99_ms": 1000 * float(np.percentile(timed, 99)),
            f"{prefix}_rtf": mean / hop_s}


class _OneStep(nn.Module):
    """One step of ``stream`` from a fixed state, as a module (for ``count_macs``)."""

    def __init__(self, stream, state):
        super().__init__()
        self.stream, self.state = stream, state
        self.net = getattr(stream, "model", None)

    def forward(self, chunk):
        return self.stream.step(chunk, self.state)[0]


def step_macs(stream, wav):
    """MACs of one hop: a step after ``WARMUP_HOPS`` hops of ``wav`` (whole steps: a steady state) over
    its ``hops``; for a stream with periodic work the mean over the last ``period`` steps of ``wav`` (k
    whole cycles of ``period`` hops: k of those hops do that work)."""
    steps, size = stream.period, stream.step_size
    warm = _warm_hops(stream) * stream.hop if steps == 1 else (wav.shape[-1] // size - steps) * size
    with torch.inference_mode():
        _, state = stream.run(wav[:, :warm])
    total = 0
    for start in range(warm, warm + steps * size, size):
        chunk = wav[:, start:start + size]
        total += count_macs(_OneStep(stream, state).eval(), {"chunk": chunk})
        with torch.inference_mode():
            _, state = stream.step(chunk, state)
    return total / steps / stream.hops


def state_bytes(state):
    from kdspeech.deploy.stream_onnx import flatten_state
    return sum(t.numel() * t.element_size() for _, t in flatten_state(state))


def offline_seconds(model, wav, inputs, repeats):
    """Median seconds of one offline forward of ``wav`` (the model's other inputs from ``inputs``)."""
    from kdspeech.models.complexity import first_input_name
    inputs = {**inputs, first_input_name(model): wav}
    with torch.inference_mode():
        return median_seconds(lambda: run_forward(model, inputs), repeats, 1)


def measure_stream(name, model, seconds, sr, onnx_path=None, num_threads=1, rtol=None, emb_dim=None, repeats=3,
                   hops=None):
    """The streaming row of one model (a dict; ``stream_status``: ``ok``, ``FAIL: <why>`` or ``cannot
    stream``, then ``stream_error`` says why).  ``onnx_path`` None: torch only.  ``hops``: hops per step
    (the row's ``hops_per_step``; None: one, and no such key)."""
    from kdspeech.deploy.measure import _first_line
    from kdspeech.deploy.stream_onnx import OrtStream, compare_streams, export_stream_onnx
    from kdspeech.models.streaming import state_numel

    model.eval()
    row = {"model": name, "class": type(model).__name__}
    if hops is not None:
        row["hops_per_step"] = int(hops)
    inputs = deploy_inputs(model, sr, emb_dim)
    try:
        stream = open_stream(model, inputs, hops)
    except KdError as err:
        return {**row, "stream_status": "cannot stream", "stream_error": str(err)}
    hop_s = stream.hop / sr
    wav = stream_audio(model, stream, seconds, sr, emb_dim)
    state = stream.init_state(1)
    row.update(sr=sr, hop=stream.hop, hop_ms=1000 * hop_s, delay=stream.delay,
               latency_ms=1000 * stream.latency / sr, state_numel=state_numel(state), state_bytes=state_bytes(state),
               parameters=count_parameters(model), seconds=wav.shape[-1] / sr)
    macs = step_macs(stream, wav)
    row.update(macs_per_hop=macs, macs_per_second=macs / hop_s)
    log.info("%s: streaming %d hops through torch", name, wav.shape[-1] // stream.hop)
    reference, times = torch_stream_timed(stream, wav)
    row.update(hop_figures(times, hop_s, "torch", stream.hops))
    row.update(torch_total_s=float(np.sum(times)), stream_status="ok")
    try:
        offline = offline_seconds(model, wav, inputs, repeats)
    except KdError as err:   # e.g. a model that needs more audio than the stream was given
        log.warning("%s: no offline time for %d samples: %s", name, wav.shape[-1], err)
        offline = None
    else:
        row.update(offline_total_s=offline, stream_over_offline=row["torch_total_s"] / offline)
    if onnx_path is None:
        return row
    log.info("%s: exporting the streaming step to %s", name, onnx_path)
    try:
        export_stream_onnx(stream, onnx_path, sr=sr)
    except KdError as err:   # a step whose structure the export does not take (stream_onnx says which)
        return {**row, "onnx_file": None, "stream_status": f"ok (torch only: {err})"}
    except Exception as err:  # noqa: BLE001 - any exporter failure is this model's result
        return {**row, "onnx_file": None, "stream_status": f"FAIL: export: {_first_line(err)}"}
    try:
        got, times = ort_stream_timed(OrtStream(onnx_path, num_threads), wav.numpy())
    except Exception as err:  # noqa: BLE001 - an export onnxruntime cannot run fails the row
        return {**row, "onnx_file": str(onnx_path), "stream_status": f"FAIL: onnxruntime: {_first_line(err)}"}
    row.update(hop_figures(times, hop_s, "onnx", stream.hops))
    row["onnx_total_s"] = float(np.sum(times))
    if offline:
        row["onnx_stream_over_offline"] = row["onnx_total_s"] / offline
    check = compare_streams(reference, got, 0 if reference.ndim == 3 else stream.delay, rtol)   # [1, K, D]: all
    row.update(onnx_file=str(onnx_path), onnx_max_abs_diff=check["max_abs_diff"], onnx_tolerance=check["tolerance"],
               onnx_relative_diff=check["relative"])
    if not check["passed"]:
        row["stream_status"] = f"FAIL: {check.get('reason') or 'the torch stream is all zeros'}"
    return row
