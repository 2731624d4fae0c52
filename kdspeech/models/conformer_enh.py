"""Conformer enhancement model (a teacher): STFT front end, Conformer blocks, mask or complex mapping.

Blocks follow Gulati et al. (Interspeech 2020) as in ESPnet's Conformer separator: macaron
feed-forward halves around relative-position multi-head self-attention and a convolution module,

    x = x + 1/2 FFN(LN(x));  x = x + MHSA_rel(LN(x));  x = x + Conv(LN(x));  x = x + 1/2 FFN(LN(x));
    x = LN(x)

with FFN = Linear(d, units) - Swish - Dropout - Linear(units, d), and Conv = pointwise Conv1d(d, 2d)
- GLU - depthwise Conv1d(kernel) - BatchNorm - Swish - pointwise Conv1d(d, d).  The attention is
Transformer-XL style (Dai et al. 2019, ESPnet's ``rel_selfattn``): sinusoidal embeddings of the
relative positions T-1 ... -(T-1), a bias-free projection of them, and learned biases u, v per head:
score(i, j) = ((q_i + u) . k_j + (q_i + v) . p_{i-j}) / sqrt(d_head).

Front end: the same STFT as DCCRN by default (512 / 400 / 100, sqrt-Hann, centred) so that the
``spec`` output has DCCRN's layout and frames and frame-level distillation compares like with like.
Input layer: Linear(features, d) - LayerNorm - Dropout - ReLU (ESPnet's ``linear`` input layer).

``output: mask`` (default, ESPnet's separator): features are the noisy magnitude |Y| (F bins), the
network gives a ReLU magnitude mask m (F bins), and S = m * Y (noisy phase).  ``output: mapping``:
features are (Re Y, Im Y) (2F), the network gives (Re S, Im S) directly (complex spectral mapping).

forward(wav [B, T]) -> {"wav": [B, T], "spec": [B, 2, F, frames], "mask": [B, F, frames]} ("mask"
only in mask mode).

Size: the defaults are ESPnet's separator defaults (d 384, 4 heads, 6 blocks, 1536 units, kernel 7)
for one output: 21,522,305 parameters (per block 3,553,920; ESPnet's two-speaker separator adds a
second output layer, 98,945, giving 21.6M).  ``conformer_enh_tiny``-style configs for CPU runs simply
set smaller sizes (e.g. d 64, 2 heads, 2 blocks, 128 units: see tests/test_conformer_enh.py).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS
from kdspeech.models.spectral import SpectralExport, Stft, as_batch, complex_of

OUTPUTS = ("mask", "mapping")


def rel_positions(length, dim, device=None, dtype=None):
    """Sinusoidal embeddings ``[2T-1, dim]`` of relative positions T-1, T-2, ..., -(T-1) (row n is
    position T-1-n): sin at even and cos at odd columns, frequencies 10000^(-2k/dim)."""
    pos = torch.arange(length - 1, -length, -1, device=device, dtype=torch.float32)
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    emb = torch.zeros(2 * length - 1, dim, device=device)
    emb[:, 0::2] = torch.sin(pos[:, None] * freq)
    emb[:, 1::2] = torch.cos(pos[:, None] * freq)
    return emb if dtype is None else emb.to(dtype)


def rel_shift(scores):
    """``[..., T, 2T-1]`` scores against relative positions (column n = position T-1-n) ->
    ``[..., T, T]`` with entry (i, j) = column T-1-i+j, the position i - j."""
    length = scores.shape[-2]
    i = torch.arange(length, device=scores.device)
    index = (length - 1 - i)[:, None] + i[None, :]
    return scores.gather(-1, index.expand(*scores.shape[:-2], length, length))


class RelPositionAttention(nn.Module):
    """Multi-head self-attention with relative positions (see the module docstring)."""

    def __init__(self, dim, heads, dropout=0.0):
        super().__init__()
        if dim % heads:
            raise KdError(f"conformer_enh: attention size {dim} is not a multiple of {heads} heads")
        self.heads, self.d_head = heads, dim // heads
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))
        self.pos = nn.Linear(dim, dim, bias=False)
        self.bias_u = nn.Parameter(torch.zeros(heads, self.d_head))
        self.bias_v = nn.Parameter(torch.zeros(heads, self.d_head))
        nn.init.xavier_uniform_(self.bias_u)
        nn.init.xavier_uniform_(self.bias_v)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, pos_emb, mask=None):
        """``mask`` [B, T] (True: a frame of the utterance): padded frames are never attended to."""
        b, t, _ = x.shape
        h, d = self.heads, self.d_head
        q = self.q(x).view(b, t, h, d)
        k = self.k(x).view(b, t, h, d).transpose(1, 2)  # [B, H, T, d]
        v = self.v(x).view(b, t, h, d).transpose(1, 2)
        p = self.pos(pos_emb).view(-1, h, d).transpose(0, 1)  # [H, 2T-1, d]
        content = torch.matmul((q + self.bias_u).transpose(1, 2), k.transpose(-2, -1))  # [B, H, T, T]
        position = rel_shift(torch.matmul((q + self.bias_v).transpose(1, 2), p.transpose(-2, -1)))
        scores = (content + position) / math.sqrt(d)
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        weights = self.dropout(torch.softmax(scores, dim=-1))
        out = torch.matmul(weights, v).transpose(1, 2).reshape(b, t, h * d)
        return self.out(out)


class FeedForward(nn.Module):
    def __init__(self, dim, units, dropout):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, units), nn.SiLU(), nn.Dropout(dropout), nn.Linear(units, dim))

    def forward(self, x):
        return self.net(x)


class ConvModule(nn.Module):
    """Pointwise (2d) - GLU - depthwise (kernel, 'same' padding) - BatchNorm - Swish - pointwise."""

    def __init__(self, dim, kernel):
        super().__init__()
        if kernel % 2 == 0:
            raise KdError(f"conformer_enh: the convolution kernel must be odd, not {kernel}")
        self.pointwise1 = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.BatchNorm1d(dim)
        self.pointwise2 = nn.Conv1d(dim, dim, 1)

    def forward(self, x, mask=None):  # [B, T, D]; mask [B, T]: padded frames are zeroed before the conv
        y = F.glu(self.pointwise1(x.transpose(1, 2)), dim=1)
        if mask is not None:
            y = y.masked_fill(~mask[:, None, :], 0.0)
        y = F.silu(self.norm(self.depthwise(y)))
        return self.pointwise2(y).transpose(1, 2)


class ConformerBlock(nn.Module):
    def __init__(self, dim, heads, units, kernel, dropout=0.1, attention_dropout=0.1):
        super().__init__()
        self.ff1, self.ff2 = FeedForward(dim, units, dropout), FeedForward(dim, units, dropout)
        self.attn = RelPositionAttention(dim, heads, attention_dropout)
        self.conv = ConvModule(dim, kernel)
        self.norm_ff1, self.norm_attn, self.norm_conv, self.norm_ff2, self.norm_out = (
            nn.LayerNorm(dim) for _ in range(5))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, pos_emb, mask=None):
        """``mask`` [B, T] (True: a frame of the utterance) for padded batches (the ASR encoder)."""
        x = x + 0.5 * self.dropout(self.ff1(self.norm_ff1(x)))
        x = x + self.dropout(self.attn(self.norm_attn(x), pos_emb, mask))
        x = x + self.dropout(self.conv(self.norm_conv(x), mask))
        x = x + 0.5 * self.dropout(self.ff2(self.norm_ff2(x)))
        return self.norm_out(x)


@MODELS.register("conformer_enh")
class ConformerEnh(SpectralExport, nn.Module):
    emb_dim = 0   # not personalized (the export hook asks)
    cpu_precision = "bf16"   # trainer.precision auto on a CPU with bf16: step 0.72 of fp32 (bench_precision)
    def __init__(self, n_fft=512, win_length=400, hop=100, window="sqrt_hann", dim=384, heads=4,
                 layers=6, units=1536, kernel=7, dropout=0.1, attention_dropout=0.1, output="mask"):
        super().__init__()
        if output not in OUTPUTS:
            raise KdError(f"conformer_enh: output must be one of {', '.join(OUTPUTS)}, not {output!r}")
        self.stft = Stft(n_fft, win_length, hop, window)
        self.output = output
        self.bins = self.stft.n_fft // 2 + 1
        width = self.bins if output == "mask" else 2 * self.bins
        self.dim = int(dim)
        self.input = nn.Sequential(nn.Linear(width, self.dim), nn.LayerNorm(self.dim), nn.Dropout(dropout),
                                   nn.ReLU())
        self.blocks = nn.ModuleList(ConformerBlock(self.dim, int(heads), int(units), int(kernel), dropout,
                                                   attention_dropout) for _ in range(int(layers)))
        self.head = nn.Linear(self.dim, width)

    def body(self, feats):
        """Input layer, Conformer blocks and head: ``feats [B, T, in]`` -> ``[B, width, T]``."""
        h = self.input(feats)
        pos_emb = rel_positions(h.shape[1], self.dim, h.device, h.dtype)
        for block in self.blocks:
            h = block(h, pos_emb)
        return self.head(h).transpose(1, 2)

    def forward(self, wav):
        x, unsqueeze = as_batch(wav)
        length = x.shape[-1]
        noisy = self.stft(x)  # [B, F, T]
        if self.output == "mask":
            feats = noisy.abs().transpose(1, 2)
        else:
            feats = torch.cat([noisy.real, noisy.imag], 1).transpose(1, 2)
        y = self.body(feats)  # [B, width, T]
        outs = {}
        if self.output == "mask":
            mask = F.relu(y)
            est = noisy * mask
        else:
            est = complex_of(y[:, :self.bins], y[:, self.bins:])  # fp32 under autocast
        out_wav = self.stft.inverse(est, length)
        outs["wav"] = out_wav[:, None] if unsqueeze else out_wav
        outs["spec"] = torch.stack([est.real, est.imag], 1)
        if self.output == "mask":
            outs["mask"] = mask
        return outs


class SpectralCore(nn.Module):
    """The network of a ``ConformerEnh`` between its STFT and iSTFT without complex tensors (deployment,
    ``kdspeech.models.spectral.SpectralExport``): ``noisy [B, 2, bins, T]`` (real, imaginary) ->
    ``{"spec": [B, 2, bins, T], "mask": [B, bins, T]}`` (mask output) or ``{"spec"}`` (mapping)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, noisy):
        m, real, imag = self.model, noisy[:, 0], noisy[:, 1]
        if m.output == "mask":
            y = m.body(torch.sqrt(real * real + imag * imag).transpose(1, 2))
            mask = F.relu(y)
            return {"spec": torch.stack([real * mask, imag * mask], 1), "mask": mask}
        y = m.body(torch.cat([real, imag], 1).transpose(1, 2))
        return {"spec": torch.stack([y[:, :m.bins], y[:, m.bins:]], 1)}


ConformerEnh.core_class = SpectralCore   # defined after the model, whose body it runs
