"""Run an exported model in onnxruntime, compare its outputs with torch's, and time it.

Tolerance: for every output, ``max |onnxruntime - torch| <= rtol * max |torch|`` (the output's
scale; ``rtol`` 1e-4 by default, float32 arithmetic in a different order stays far below it).  The
row reports the largest absolute difference over all outputs and the tolerance of that output.
"""

import numpy as np
import onnxruntime as ort

from kdspeech.models.complexity import median_seconds

DEFAULT_RTOL = 1e-4


def onnx_session(path, num_threads):
    """An onnxruntime CPU session using ``num_threads`` threads (intra-op; inter-op 1, sequential)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def compare_outputs(reference, got, rtol=DEFAULT_RTOL):
    """``reference``: {name: torch tensor}; ``got``: {name: array}.  Returns ``{max_abs_diff, tolerance,
    worst_output, passed}``: the output with the largest difference relative to its tolerance decides."""
    worst = None
    passed = True
    for name, ref in reference.items():
        ref = ref.detach().cpu().numpy()
        out = np.asarray(got[name])
        if out.shape != ref.shape:
            return {"max_abs_diff": float("inf"), "tolerance": float("nan"), "worst_output": name,
                    "passed": False, "reason": f"output {name!r}: shape {out.shape} vs torch {ref.shape}"}
        diff = float(np.max(np.abs(out.astype(np.float64) - ref))) if ref.size else 0.0
        tolerance = rtol * float(np.max(np.abs(ref))) if ref.size else 0.0
        ok = diff <= tolerance
        passed &= ok
        ratio = diff / tolerance if tolerance > 0 else (0.0 if diff == 0 else float("inf"))
        if worst is None or ratio > worst[0]:
            worst = (ratio, {"max_abs_diff": diff, "tolerance": tolerance, "worst_output": name})
    result = dict(worst[1]) if worst else {"max_abs_diff": 0.0, "tolerance": 0.0, "worst_output": None}
    result["passed"] = passed
    if not passed:
        result["reason"] = (f"output {result['worst_output']!r}: max |onnx - torch| {result['max_abs_diff']:.3g} "
                            f"> tolerance {result['tolerance']:.3g} ({rtol:g} x max |torch output|)")
    return result


def check_onnx(path, inputs, reference, num_threads=1, repeats=5, warmup=1, rtol=DEFAULT_RTOL):
    """Run ``path`` on ``inputs`` ({name: tensor}), compare with ``reference`` ({name: tensor}) and time
    it; returns ``compare_outputs``' dict plus ``seconds`` (median of ``repeats``)."""
    session = onnx_session(path, num_threads)
    used = {i.name for i in session.get_inputs()}  # the exporter drops inputs the graph does not use
    feed = {name: value.detach().cpu().numpy() for name, value in inputs.items() if name in used}
    names = [o.name for o in session.get_outputs()]
    result = compare_outputs(reference, dict(zip(names, session.run(names, feed))), rtol)
    result["seconds"] = median_seconds(lambda: session.run(names, feed), repeats, warmup)
    return result
