"""Deep filtering (Schroeter et al., DeepFilterNet): a complex FIR filter over time per frequency bin.

For a complex spectrum ``X [B, T, F]`` and coefficients ``C [B, T, F, O]`` (filter order O, look-ahead
l frames), the filtered spectrum is

    Y[b, t, f] = sum_{n=0}^{O-1} C[b, t, f, n] X[b, t + n - (O - 1 - l), f]

with zeros outside the sequence: tap ``O - 1 - l`` is the current frame, the l taps after it the
future frames, the ones before it the past frames (DeepFilterNet's ``multiframe.DF``, its
``dfop_method: df``).  It is one two-operand complex ``einsum``, which ``kdspeech.models.complexity``
counts as 4 real MACs per tap and bin.
"""

import torch
import torch.nn.functional as F

from kdspeech.errors import KdError


def deep_filter(spec, coefs, lookahead=0):
    """``spec`` complex ``[B, T, F]``, ``coefs`` complex ``[B, T, F, O]`` -> complex ``[B, T, F]``."""
    if not (spec.is_complex() and coefs.is_complex()) or spec.dim() != 3 or coefs.dim() != 4 \
            or coefs.shape[:3] != spec.shape:
        raise KdError(f"deep_filter: needs a complex spectrum [B, T, F] and complex coefficients "
                      f"[B, T, F, O], got {list(spec.shape)} and {list(coefs.shape)}")
    order, lookahead = coefs.shape[-1], int(lookahead)
    if not 0 <= lookahead < order:
        raise KdError(f"deep_filter: look-ahead {lookahead} must be in [0, order {order})")
    padded = F.pad(torch.view_as_real(spec), (0, 0, 0, 0, order - 1 - lookahead, lookahead))
    frames = torch.view_as_complex(padded.contiguous()).unfold(1, order, 1)  # [B, T, F, O]
    return torch.einsum("btfn,btfn->btf", frames, coefs)
