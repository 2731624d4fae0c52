"""TinyECAPA (Serre et al., "Contrastive Knowledge Distillation for Embedding Refinement in
Personalized Speech Enhancement", sections II-A and III-A): a 149k-parameter speaker encoder.

Input: 80 values per frame, 26 MFCCs (C1..C26 of 27) + delta + delta-delta of the 27
(``speaker_frontend.MfccDeltas``), computed inside the model from a 16 kHz waveform ``[B, T]``; a
precomputed feature tensor ``[B, frames, 80]`` is used as it is.

Three blocks, each: depthwise Conv1d (kernel k, 'same' padding) -> pointwise Conv1d -> BatchNorm ->
PReLU (one slope) -> Squeeze-Excitation (time mean -> Linear c->s -> ReLU -> Linear s->c -> sigmoid
-> channel gate); output channels [80, 128, 192], kernels [3, 5, 7], SE channels [20, 32, 48]; no
residual shortcuts.  Temporal pooling: mean and standard deviation over time, concatenated (384);
projection: Linear 384 -> d_E and BatchNorm.  With d_E = 192: 148,871 parameters (74,567 in the
blocks, 74,304 in the projection), the paper's "150k".

Chunked embeddings (``chunk: 1.0``, seconds; the paper's T'): the embedding of every window of
``chunk`` seconds with 50 % overlap, ``emb_chunks`` ``[B, n, d_E]`` with ``n = 2 T / T' - 1`` for a
clip of T seconds (``chunk_bounds``); ``emb`` is then the mean of the unit-normalised chunk
embeddings, so ``emb_j . E_i`` with a unit teacher embedding ``E_i`` is the paper's S_ij.

* ``chunk_mode: pool`` (default; the paper's ``M = f_enc(Y)``): the blocks run once over the whole
  clip and only the pooling is windowed, so a chunk's frames see up to 6 frames of context outside
  it (kernels 3, 5, 7) and the SE gates see the whole clip.  Costs the same as one clip.
* ``chunk_mode: split``: every window is encoded on its own (frames unfolded into a batch of
  windows): each chunk embedding equals the model's embedding of that window's features alone.

Without ``chunk``, ``emb`` is the projection of the statistics of all frames.
"""

import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS
from kdspeech.models.speaker_frontend import MfccDeltas

STD_EPS = 1e-5


def chunk_bounds(n_frames, chunk_frames, hop_frames):
    """``[(start, end)]`` frame windows of ``chunk_frames`` every ``hop_frames`` that fit in
    ``n_frames``: ``1 + (n_frames - chunk_frames) // hop_frames`` of them; a sequence shorter than
    one chunk is one window of all its frames."""
    n_frames, chunk_frames, hop_frames = int(n_frames), int(chunk_frames), int(hop_frames)
    if chunk_frames <= 0 or hop_frames <= 0:
        raise KdError(f"chunk ({chunk_frames} frames) and hop ({hop_frames} frames) must be > 0")
    if n_frames <= chunk_frames:
        return [(0, n_frames)]
    count = 1 + (n_frames - chunk_frames) // hop_frames
    return [(i * hop_frames, i * hop_frames + chunk_frames) for i in range(count)]


def _windows(x, bounds):
    """``x[..., frames]`` -> ``[..., n, L]``: the frames of each (equal-length) window, by a gather
    (``Tensor.unfold`` does not export to ONNX)."""
    starts = torch.tensor([s for s, _ in bounds], device=x.device)
    index = starts[:, None] + torch.arange(bounds[0][1] - bounds[0][0], device=x.device)
    return x[..., index]


def mean_std(x, dim=-1):
    """Mean and (population) standard deviation over ``dim``, concatenated on the channel axis 1."""
    mean = x.mean(dim=dim)
    var = (x - mean.unsqueeze(dim)).pow(2).mean(dim=dim)
    return torch.cat([mean, var.clamp(min=STD_EPS).sqrt()], dim=1)


class SqueezeExcite(nn.Module):
    """Channel gates from the time mean: ``x * sigmoid(W2 relu(W1 mean_t x))``."""

    def __init__(self, channels, se_channels):
        super().__init__()
        self.squeeze = nn.Linear(channels, se_channels)
        self.excite = nn.Linear(se_channels, channels)

    def forward(self, x):
        gate = torch.sigmoid(self.excite(torch.relu(self.squeeze(x.mean(dim=-1)))))
        return x * gate.unsqueeze(-1)


class SeparableBlock(nn.Module):
    """Depthwise conv -> pointwise conv -> BatchNorm -> PReLU -> Squeeze-Excitation."""

    def __init__(self, in_channels, out_channels, kernel, se_channels):
        super().__init__()
        if kernel % 2 != 1:
            raise KdError(f"tiny_ecapa: kernels must be odd ('same' padding), not {kernel}")
        self.depthwise = nn.Conv1d(in_channels, in_channels, kernel, padding=kernel // 2,
                                   groups=in_channels)
        self.pointwise = nn.Conv1d(in_channels, out_channels, 1)
        self.bn = nn.BatchNorm1d(out_channels)
        self.act = nn.PReLU()
        self.se = SqueezeExcite(out_channels, se_channels)

    def forward(self, x):
        return self.se(self.act(self.bn(self.pointwise(self.depthwise(x)))))


@MODELS.register("tiny_ecapa")
class TinyEcapa(nn.Module):
    def __init__(self, emb_dim=192, channels=(80, 128, 192), kernels=(3, 5, 7),
                 se_channels=(20, 32, 48), n_mfcc=27, n_mels=40, sr=16000, cmn=False,
                 chunk=None, chunk_mode="pool"):
        super().__init__()
        if not (len(channels) == len(kernels) == len(se_channels)):
            raise KdError(f"tiny_ecapa: channels {list(channels)}, kernels {list(kernels)} and "
                          f"se_channels {list(se_channels)} must have one entry per block")
        if chunk_mode not in ("pool", "split"):
            raise KdError(f"tiny_ecapa: chunk_mode must be pool or split, not {chunk_mode!r}")
        self.frontend = MfccDeltas(sr=sr, n_mfcc=n_mfcc, n_mels=n_mels, cmn=cmn)
        self.in_dim = self.frontend.dim
        ins = [self.in_dim, *channels[:-1]]
        self.blocks = nn.Sequential(*[SeparableBlock(i, o, k, s)
                                      for i, o, k, s in zip(ins, channels, kernels, se_channels)])
        self.fc = nn.Linear(2 * channels[-1], emb_dim)
        self.bn = nn.BatchNorm1d(emb_dim)
        self.emb_dim, self.sr = int(emb_dim), int(sr)
        self.chunk_mode = chunk_mode
        self.chunk_frames = None
        if chunk is not None:
            frames = round(float(chunk) * sr / self.frontend.hop)
            if frames < 2:
                raise KdError(f"tiny_ecapa: chunk {chunk} s is shorter than two frames")
            self.chunk_frames, self.chunk_hop = frames, frames // 2

    def features(self, wav):
        """``[B, 80, frames]`` from a waveform ``[B, T]`` or from features ``[B, frames, 80]``."""
        if wav.dim() == 3:
            if wav.shape[-1] != self.in_dim:
                raise KdError(f"tiny_ecapa: precomputed features must be [B, frames, {self.in_dim}], "
                              f"got {tuple(wav.shape)}")
            return wav.transpose(1, 2).float()
        if wav.dim() != 2:
            raise KdError(f"tiny_ecapa: input must be a waveform [B, T] or features "
                          f"[B, frames, {self.in_dim}], got {tuple(wav.shape)}")
        return self.frontend(wav.float())

    def project(self, stats):
        return self.bn(self.fc(stats))

    def forward(self, wav):
        feats = self.features(wav)
        if self.chunk_frames is None:
            return {"emb": self.project(mean_std(self.blocks(feats)))}
        bounds = chunk_bounds(feats.shape[-1], self.chunk_frames, self.chunk_hop)
        length, n = bounds[0][1] - bounds[0][0], len(bounds)
        batch = feats.shape[0]
        if self.chunk_mode == "split":
            windows = _windows(feats, bounds)                                  # [B, F, n, L]
            windows = windows.permute(0, 2, 1, 3).reshape(batch * n, feats.shape[1], length)
            stats = mean_std(self.blocks(windows))                            # [B n, 2C]
        else:
            hidden = self.blocks(feats)
            windows = _windows(hidden, bounds)                                 # [B, C, n, L]
            stats = mean_std(windows).permute(0, 2, 1).reshape(batch * n, -1)
        chunks = self.project(stats).reshape(batch, n, self.emb_dim)
        emb = nn.functional.normalize(chunks, dim=-1).mean(dim=1)
        return {"emb": emb, "emb_chunks": chunks}
