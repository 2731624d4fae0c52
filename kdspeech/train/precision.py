"""Mixed precision of the trainer (``trainer.precision: fp32 | bf16 | fp16 | auto``) and the parts kept in fp32.

``bf16`` and ``fp16`` run the forward passes (student, frozen networks, teachers) under
``torch.autocast`` on the training device: matrix products and convolutions in the low precision,
what torch's autocast lists as fp32 ops in fp32.  ``fp16`` is for CUDA only (the CPU has no fast
fp16 kernels, and fp16 gradients underflow without scaling); it comes with a ``torch.amp.GradScaler``
(``make_scaler``) whose state is saved in the training checkpoint and restored on resume; a step the
scaler skips (inf/NaN in the scaled gradients, the scale then halved) is counted and logged.  ``bf16``
has fp32's exponent range and needs no scaler.

The numerically delicate parts stay in fp32 whatever the precision, each with autocast switched off
and its low-precision inputs cast up (``to_fp32``, ``fp32_region``):

- every loss term, hence the temperature softmax and KL of logit distillation, SI-SNR, the spectral and
  embedding losses: the trainer computes the weighted sum of the terms in ``fp32_losses``
  (kdspeech.train.trainer);
- the STFT and iSTFT of the spectral models (``kdspeech.models.spectral.Stft``) and the complex masks of
  DCCRN (``kdspeech.models.dccrn``): torch has no bf16 complex tensors (a DCCRN under plain bf16
  autocast fails with "Expected both inputs to be Half, Float or Double tensors but got BFloat16");
- the task's metrics (PESQ, F1, EER...): the evaluation runs outside autocast.

``auto`` is resolved once, when the training starts (``resolve_precision``), from facts that do not
change during a run and are the same on every rank: on CUDA, ``bf16`` where the GPU supports it
(``torch.cuda.is_bf16_supported()``: Ampere and later), else ``fp32``; on the CPU, the preference
the model's class declares (``cpu_precision``, ``fp32`` where it declares none), and ``fp32`` on a CPU
without native bf16 arithmetic (AVX512-BF16 or AMX, as oneDNN reports it), where bf16 is emulated and
slower for every model.  The preferences come from ``benchmarks/bench_precision.py`` (bf16 / fp32 step
time on a 2-core Xeon with AMX, torch 2.11, indicative: the machine was shared): ``bf16`` for
``waveunet`` (0.47-0.69), ``dccrn`` (0.67; pDCCRN 0.72), ``conformer_enh`` (0.72) and
``wavenet_denoise`` (0.86); every other model stays ``fp32`` (tiny_ecapa 1.04-1.12, resnet38 1.12,
cnn14 1.17, mobilenetv2 1.19, pse_refine 1.26, pdfnet2 1.28, crn 1.52, e3net 2.19, psm_blstm 3.25;
models not measured: fp32).  No step time is measured at run time: a run's precision, hence its
numbers and its checkpoints' run key, must not depend on the load of the machine.  The resolved value
replaces ``auto`` in the run's config.yaml and run key and is logged.
"""

import functools
from contextlib import contextmanager, nullcontext

import torch

from kdspeech.errors import KdError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
CHOICES = (*PRECISIONS, "auto")   # what trainer.precision may say; auto is resolved at start-up


def check_precision(precision, device, where=None):
    """A KdError naming ``trainer.precision`` and its allowed values for an unknown precision, or for
    fp16 on a device without CUDA (before any data is read)."""
    if not isinstance(precision, str) or precision not in CHOICES:
        raise KdError(f"trainer.precision must be one of {', '.join(CHOICES)}, not {precision!r}",
                      path=where)
    if precision == "fp16" and torch.device(device).type != "cuda":
        raise KdError("trainer.precision: fp16 needs a CUDA device (the training runs on "
                      f"{torch.device(device).type}); use bf16 or fp32 (allowed: {', '.join(CHOICES)})",
                      path=where)


def cpu_has_bf16():
    """Whether this CPU does bf16 arithmetic natively (AVX512-BF16 / AMX, as oneDNN reports it)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision, device, model=None):
    """``(precision, why)``: ``precision`` itself unless it is ``auto``, which becomes ``bf16`` or
    ``fp32`` by the rule of the module docstring (the device's type and bf16 support, the model class's
    ``cpu_precision``); ``why`` says what decided it (None for a precision given as it is)."""
    if precision != "auto":
        return precision, None
    kind = torch.device(device).type
    if kind == "cuda":
        supported = torch.cuda.is_bf16_supported()
        return ("bf16", "CUDA with bf16 support") if supported else ("fp32", "CUDA without bf16 support")
    module = getattr(model, "module", model)    # DistributedDataParallel wraps the model
    name = type(module).__name__ if module is not None else "the model"
    preferred = getattr(module, "cpu_precision", "fp32")
    if preferred not in ("fp32", "bf16"):
        raise KdError(f"{name}.cpu_precision must be fp32 or bf16, not {preferred!r}")
    if preferred == "bf16" and not cpu_has_bf16():
        return "fp32", f"{name} prefers bf16 on the CPU, but this CPU has no native bf16 arithmetic"
    return preferred, f"{name} declares cpu_precision {preferred} (measured: benchmarks/bench_precision.py)"


def autocast(device, precision):
    """The context of a forward pass under ``precision`` (no autocast for fp32)."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def make_scaler(device, precision):
    """The gradient scaler of fp16 (None for fp32 and bf16)."""
    if precision != "fp16":
        return None
    return torch.amp.GradScaler(torch.device(device).type)


def to_fp32(value):
    """``value`` with every half / bfloat16 tensor in it (dicts, lists, tuples) cast to fp32 (complex
    halves to complex64); anything else as it is."""
    if torch.is_tensor(value):
        if value.dtype in (torch.float16, torch.bfloat16):
            return value.float()
        return value.to(torch.complex64) if value.dtype == torch.complex32 else value
    if isinstance(value, dict):
        return {k: to_fp32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_fp32(v) for v in value)
    return value


def _device_type(values):
    for value in values:
        if torch.is_tensor(value):
            return value.device.type
    return "cpu"


@contextmanager
def full_precision(device_type):
    """Autocast switched off on ``device_type`` for the block (a no-op where it is off already)."""
    if torch.is_autocast_enabled(device_type):
        with torch.autocast(device_type, enabled=False):
            yield
    else:
        yield


def fp32_region(fn):
    """Decorator: under autocast, ``fn`` runs with autocast off and its half / bfloat16 tensor arguments
    cast to fp32 (outside autocast it runs as it is, at no cost)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        device_type = _device_type(list(args) + list(kwargs.values()))
        if not torch.is_autocast_enabled(device_type):
            return fn(*args, **kwargs)
        with torch.autocast(device_type, enabled=False):
            return fn(*to_fp32(args), **to_fp32(kwargs))
    return wrapper


def fp32_losses(total_loss, terms, out, batch, teacher_outs):
    """``total_loss(terms, out, batch, teacher_outs)`` in fp32: autocast off, every output cast up.
    Loss terms (temperature softmax and KL, SI-SNR, spectral losses) are where low precision hurts most:
    a bf16 softmax at T = 4 or a bf16 energy ratio loses the differences the gradient is made of."""
    device_type = _device_type(list(out.values()) if isinstance(out, dict) else [out])
    with full_precision(device_type):
        return total_loss(terms, to_fp32(out), batch, to_fp32(teacher_outs))
