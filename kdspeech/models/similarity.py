"""The similarity sequence of on-the-fly embedding refinement (Serre et al., "Contrastive Knowledge
Distillation for Embedding Refinement in Personalized Speech Enhancement", section II-D).

A reference speaker embedding E (from the enrolment clip) is compared by cosine with the embeddings of
chunks of T' seconds of the mixture taken every T'/2 (50 % overlap), giving ``2 T / T' - 1`` values for
a mixture of T seconds (``chunk_count``); the sequence is brought to the enhancer's frame rate
(``to_frames``), multiplied by a scaling factor alpha and clipped to [0, 1] (``scale_clip``), and acts
as a speaker-activity cue next to the frame-repeated E.

The pure functions are here, apart from any model, so that each is checked on its own; the model that
uses them is ``pse_refine``.  Lengths are in samples: ``chunk`` = T' x sr, ``hop`` = chunk // 2.

Upsampling and padding (``to_frames``): chunk k covers samples ``[k hop, k hop + chunk)`` and its value
is placed at its centre ``c_k = k hop + chunk / 2``; enhancer frame n of F frames over T samples is
placed at the centre of the n-th of F equal parts of the clip, ``t_n = (n + 1/2) T / F`` (the enhancer
is only known by its frame count); the frame's value is the linear interpolation of the chunk values
at ``t_n`` (the upsampling), held at the first value before ``c_0`` and at the last one after
``c_{K-1}`` (the padding: the first half-chunk, and the tail of fewer than ``hop`` samples that no
further chunk fits in).  Interpolated values of a sequence in [0, 1] stay in [0, 1].
"""

import torch
import torch.nn.functional as F

from kdspeech.errors import KdError


def chunk_geometry(chunk_seconds, sr):
    """``(chunk, hop)`` in samples for chunks of ``chunk_seconds`` with 50 % overlap."""
    chunk = int(round(float(chunk_seconds) * int(sr)))
    if chunk < 2:
        raise KdError(f"similarity chunk must be at least 2 samples, not {chunk_seconds} s at {sr} Hz")
    return chunk, chunk // 2


def chunk_count(num_samples, chunk, hop):
    """How many chunks of ``chunk`` samples every ``hop`` fit in ``num_samples``: ``1 + (T - chunk) //
    hop`` (= 2 T / T' - 1 when T is a multiple of T'); a mixture shorter than one chunk is an error."""
    num_samples, chunk, hop = int(num_samples), int(chunk), int(hop)
    if chunk <= 0 or hop <= 0:
        raise KdError(f"similarity: chunk ({chunk}) and hop ({hop}) must be > 0 samples")
    if num_samples < chunk:
        raise KdError(f"similarity: the mixture has {num_samples} samples, shorter than one chunk of "
                      f"{chunk} samples (T'); use longer mixtures or a shorter 'chunk'")
    return 1 + (num_samples - chunk) // hop


def split_chunks(wav, chunk, hop):
    """``[B, T]`` -> ``[B, K, chunk]``: the overlapping chunks, by a gather (exports to ONNX)."""
    if wav.dim() != 2:
        raise KdError(f"similarity: the mixture must be a waveform [B, T], got {tuple(wav.shape)}")
    count = chunk_count(wav.shape[-1], chunk, hop)
    index = (torch.arange(count, device=wav.device)[:, None] * hop
             + torch.arange(chunk, device=wav.device)[None, :])
    return wav[:, index]


def cosine_sequence(chunk_emb, ref_emb, eps=1e-8):
    """Cosine of each chunk embedding ``[B, K, D]`` with the reference ``[B, D]``: ``[B, K]``."""
    if chunk_emb.dim() != 3 or ref_emb.dim() != 2 or chunk_emb.shape[0] != ref_emb.shape[0] \
            or chunk_emb.shape[-1] != ref_emb.shape[-1]:
        raise KdError(f"similarity: chunk embeddings {tuple(chunk_emb.shape)} must be [B, K, D] and the "
                      f"reference {tuple(ref_emb.shape)} [B, D] with the same B and D (the encoder's "
                      "embedding size must be the reference's)")
    return F.cosine_similarity(chunk_emb, ref_emb[:, None, :].to(chunk_emb.dtype), dim=-1, eps=eps)


def to_frames(sim, num_frames, num_samples, chunk, hop):
    """``[B, K]`` chunk values -> ``[B, num_frames]`` (linear interpolation between chunk centres,
    edge values held; the module docstring gives the positions)."""
    count, num_frames = sim.shape[-1], int(num_frames)
    if num_frames < 1:
        raise KdError(f"similarity: the enhancer has {num_frames} frames")
    centres = (torch.arange(num_frames, device=sim.device, dtype=torch.float64) + 0.5) \
        * (float(num_samples) / num_frames)
    position = ((centres - chunk / 2.0) / hop).clamp(0.0, count - 1.0)   # in chunk indices
    left = position.floor().long().clamp(max=count - 1)
    right = (left + 1).clamp(max=count - 1)
    frac = (position - left.to(position.dtype)).to(sim.dtype)
    return sim[:, left] * (1 - frac) + sim[:, right] * frac


def scale_clip(sim, alpha=None):
    """``clip(alpha x sim, 0, 1)``; ``alpha=None``: no scaling, only the clipping."""
    if alpha is not None:
        sim = float(alpha) * sim
    return sim.clamp(0.0, 1.0)

