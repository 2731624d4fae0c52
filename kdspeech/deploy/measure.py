"""One model's deployment row: parameters, MACs, torch CPU time and, on request, the ONNX check.

Every figure is for batch 1 and ``seconds`` of audio at ``sr`` Hz, the inputs of
``kdspeech.deploy.inputs.deploy_inputs`` (a personalized model also gets an enrolment embedding); a
real-time factor (RTF) is compute seconds over audio seconds (median of ``repeats`` timed runs after
one warm-up), with torch's current thread count.
"""

import logging

import torch

from kdspeech.deploy.inputs import deploy_inputs
from kdspeech.deploy.onnx_check import DEFAULT_RTOL, check_onnx
from kdspeech.deploy.onnx_export import export_onnx, named_outputs
from kdspeech.models import count_parameters
from kdspeech.models.complexity import count_macs, cpu_latency, run_forward

log = logging.getLogger(__name__)


def _first_line(err, limit=160):
    """``Type: first line of the message`` without the exporter's graph dump, at most ``limit`` characters."""
    text = (str(err).strip().splitlines() or [""])[0].split("[Caused by")[0].strip()
    text = f"{type(err).__name__}: {text}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def measure_model(name, model, seconds, sr, repeats=5, onnx_path=None, num_threads=1, rtol=DEFAULT_RTOL,
                  emb_dim=None, part=None):
    """The row of one model (a dict; ``onnx_status`` is ``ok``, ``FAIL: <why>`` or absent without ONNX).

    ``part``: which part of a multi-part system the row is (``enhancer``, ``encoder``, ``all``), if any."""
    model.eval()
    inputs = deploy_inputs(model, int(round(seconds * sr)), emb_dim)
    row = {"model": name, "class": type(model).__name__, "parameters": count_parameters(model),
           "inputs": {k: list(v.shape) for k, v in inputs.items()}}
    if part is not None:
        row["part"] = part
    log.info("%s: counting MACs", name)
    macs = count_macs(model, inputs)
    row.update(macs=macs, macs_per_second=macs / seconds)
    log.info("%s: timing torch on %d thread(s), %d repeats", name, num_threads, repeats)
    latency = cpu_latency(model, inputs=inputs, repeats=repeats)
    row.update(latency_ms=1000 * latency, rtf=latency / seconds)
    if onnx_path is None:
        return row
    log.info("%s: exporting to %s", name, onnx_path)
    with torch.no_grad():
        reference = named_outputs(run_forward(model, inputs))
    try:
        exported = export_onnx(model, inputs, onnx_path)
    except Exception as err:  # noqa: BLE001 - any exporter failure is this model's result
        row.update(onnx_file=None, onnx_status=f"FAIL: export: {_first_line(err)}")
        return row
    log.info("%s: checking onnxruntime against torch", name)
    try:
        check = check_onnx(onnx_path, inputs, reference, num_threads, repeats, rtol=rtol)
    except Exception as err:  # noqa: BLE001 - an export onnxruntime cannot run fails the row
        row.update(onnx_file=str(onnx_path), onnx_status=f"FAIL: onnxruntime: {_first_line(err)}")
        return row
    row.update(onnx_file=str(onnx_path), onnx_rewritten=exported["rewritten"], onnx_rtol=rtol,
               onnx_max_abs_diff=check["max_abs_diff"], onnx_tolerance=check["tolerance"],
               onnx_worst_output=check["worst_output"], onnx_rtf=check["seconds"] / seconds,
               onnx_status="ok" if check["passed"] else f"FAIL: {check['reason']}")
    return row
