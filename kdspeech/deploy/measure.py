"""One model's deployment row: parameters, MACs, torch CPU time and, on request, the ONNX check.

Every figure is for batch 1 and ``seconds`` of audio at ``sr`` Hz, the inputs of
``kdspeech.deploy.inputs.deploy_inputs`` (a personalized model also gets an enrolment embedding); a
real-time factor (RTF) is compute seconds over audio seconds (median of ``repeats`` timed runs after
one warm-up), with torch's current thread count.

The ONNX check is made on ``onnx_export.export_target``: the whole forward, or what the model's
``export_module`` hook returns (the network between STFT and iSTFT of an STFT-domain enhancer), run in
torch and in onnxruntime on the same inputs.  The row says which (``onnx_exported``; a hooked export's
status reads ``ok (<what>)``) and onnxruntime's RTF is that module's alone (``onnx_rtf_of``).
"""

import logging

import torch

from kdspeech.deploy.inputs import deploy_inputs
from kdspeech.deploy.onnx_check import DEFAULT_RTOL, check_onnx
from kdspeech.deploy.onnx_export import WHOLE_FORWARD, export_onnx, export_target, named_outputs
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
    row.update(_onnx_row(name, model, inputs, seconds, repeats, onnx_path, num_threads, rtol))
    return row


def _onnx_row(name, model, inputs, seconds, repeats, onnx_path, num_threads, rtol):
    """The ONNX fields of a row: export ``export_target(model, inputs)``, check it, time it."""
    with torch.no_grad():
        try:
            target, target_inputs, what = export_target(model, inputs)
        except Exception as err:  # noqa: BLE001 - a broken hook fails the row
            return {"onnx_file": None, "onnx_status": f"FAIL: export_module: {_first_line(err)}"}
        reference = named_outputs(run_forward(target, target_inputs))
    fields = {"onnx_exported": what}
    if what != WHOLE_FORWARD:
        fields["onnx_inputs"] = {k: list(v.shape) for k, v in target_inputs.items()}
    log.info("%s: exporting (%s) to %s", name, what, onnx_path)
    try:
        exported = export_onnx(target, target_inputs, onnx_path)
    except Exception as err:  # noqa: BLE001 - any exporter failure is this model's result
        return {**fields, "onnx_file": None, "onnx_status": f"FAIL: export: {_first_line(err)}"}
    log.info("%s: checking onnxruntime against torch", name)
    try:
        check = check_onnx(onnx_path, target_inputs, reference, num_threads, repeats, rtol=rtol)
    except Exception as err:  # noqa: BLE001 - an export onnxruntime cannot run fails the row
        return {**fields, "onnx_file": str(onnx_path), "onnx_status": f"FAIL: onnxruntime: {_first_line(err)}"}
    ok = "ok" if what == WHOLE_FORWARD else f"ok ({what})"
    return {**fields, "onnx_file": str(onnx_path), "onnx_rewritten": exported["rewritten"], "onnx_rtol": rtol,
            "onnx_max_abs_diff": check["max_abs_diff"], "onnx_tolerance": check["tolerance"],
            "onnx_worst_output": check["worst_output"], "onnx_rtf": check["seconds"] / seconds,
            "onnx_rtf_of": what, "onnx_status": ok if check["passed"] else f"FAIL: {check['reason']}"}
