"""Export a model to ONNX with torch.onnx's TorchScript exporter (``dynamo=False``).

The default exporter of torch 2.11 (``dynamo=True``) needs the ``onnxscript`` package; the TorchScript
exporter needs only ``onnx`` and works offline.  Opset 17 (the first with an STFT operator).  The
graph is traced at the example's shapes: the export is for that input length (batch 1); shape-dependent
Python code in a forward (padding to a multiple, say) is frozen at that length.

Inputs keep their keyword names (``wav``, ``enroll_emb``); outputs are named by ``named_outputs``: a
tensor output is ``output``, a dict output keeps its keys (``wav``, ``emb``), a tuple is ``output0``...
An input and an output may not share a name (ONNX would rename the input).

What is exported (``export_target``): the model's forward, unless the model implements the export hook
``export_module(inputs)`` (the ``kdspeech.bin.deploy`` docstring describes it), which returns the
module to export instead, its inputs and what it is, e.g. the network between an STFT and an iSTFT
that the host computes (complex tensors have no ONNX export).
"""

import os
import sys
import warnings
from contextlib import contextmanager

import torch
from torch import nn

from kdspeech.atomic import atomic_path
from kdspeech.deploy.onnx_rewrites import exportable_copy

OPSET = 17


def named_outputs(out):
    """A forward's output as ``{name: tensor}`` (the ONNX output names)."""
    if isinstance(out, torch.Tensor):
        return {"output": out}
    if isinstance(out, dict):
        bad = [k for k, v in out.items() if not isinstance(v, torch.Tensor)]
        if bad:
            raise TypeError(f"output entries {bad} are not tensors")
        return dict(out)
    if isinstance(out, (tuple, list)):
        return {f"output{i}": v for i, v in enumerate(out)}
    raise TypeError(f"cannot export an output of type {type(out).__name__}")


WHOLE_FORWARD = "whole forward"


def export_target(model, inputs):
    """``(module, inputs, what)`` to export for ``model`` called on ``inputs``: ``model.export_module(
    inputs)`` when the model has that hook and it returns a triple (``None`` from the hook: no part to
    export instead), else ``(model, inputs, WHOLE_FORWARD)``."""
    hook = getattr(model, "export_module", None)
    target = hook(inputs) if callable(hook) else None
    if target is None:
        return model, inputs, WHOLE_FORWARD
    if not (isinstance(target, tuple) and len(target) == 3 and isinstance(target[0], nn.Module)
            and isinstance(target[1], dict) and isinstance(target[2], str) and target[2]):
        raise TypeError(f"{type(model).__name__}.export_module must return (module, {{name: tensor}}, "
                        f"description) or None, not {type(target).__name__}")
    return target


class _Positional(nn.Module):
    """Calls ``model(**{name: tensor})`` from positional tensors and returns the outputs as a tuple."""

    def __init__(self, model, input_names, output_names):
        super().__init__()
        self.model, self.input_names, self.output_names = model, list(input_names), list(output_names)

    def forward(self, *tensors):
        outputs = named_outputs(self.model(**dict(zip(self.input_names, tensors))))
        return tuple(outputs[name] for name in self.output_names)


@contextmanager
def _native_output_silenced():
    """File descriptors 1 and 2 to /dev/null: the exporter's C++ log prints the whole graph when it
    fails (torch 2.11 turns that log on whatever ``verbose`` says); the exception says what went wrong."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    try:
        with open(os.devnull, "w") as null:
            for fd in saved:
                os.dup2(null.fileno(), fd)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                for fd, copy in saved.items():
                    os.dup2(copy, fd)
    finally:
        for copy in saved.values():
            os.close(copy)


def export_onnx(model, inputs, path):
    """Write ``model`` (called as ``model(**inputs)``) to ``path`` atomically; returns
    ``{"inputs": [...], "outputs": [...], "rewritten": [...]}``."""
    bad = [k for k, v in inputs.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise TypeError(f"inputs {bad} are not tensors")
    model, rewritten = exportable_copy(model)
    model.eval()
    with torch.no_grad():
        output_names = list(named_outputs(model(**inputs)))
    clash = sorted(set(output_names) & set(inputs))
    if clash:
        raise ValueError(f"inputs and outputs share the names {clash}: ONNX would rename the inputs")
    wrapper = _Positional(model, inputs, output_names).eval()
    with atomic_path(path) as tmp, warnings.catch_warnings(), torch.no_grad(), _native_output_silenced():
        warnings.simplefilter("ignore")  # the exporter's deprecation and constant-folding notes
        torch.onnx.export(wrapper, tuple(inputs.values()), str(tmp), dynamo=False, opset_version=OPSET,
                          input_names=list(inputs), output_names=output_names, do_constant_folding=True,
                          verbose=False)
    return {"inputs": list(inputs), "outputs": output_names, "rewritten": rewritten}
