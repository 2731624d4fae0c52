"""Building blocks of pDeepFilterNet2 (``kdspeech.models.pdfnet2``): libDF's feature normalisation,
DeepFilterNet2's grouped linear layers and squeezed GRUs, the feature extractor, the unified encoder
and the two decoders (ERB gains, deep-filter coefficients), and the deep filter in real arithmetic.
Shapes and the release configuration they follow are described in ``kdspeech.models.pdfnet2``.
"""

import math

import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models.erb import erb_filterbank


MEAN_NORM_INIT = (-60.0, -90.0)   # dB, first and last ERB band (libDF)
UNIT_NORM_INIT = (0.001, 0.0001)  # first and last deep-filtered bin (libDF)


def norm_alpha(sr, hop, tau):
    """DeepFilterNet's feature-normalisation decay exp(-hop / (sr tau)), rounded to 3 decimals (more
    if that rounds to 1)."""
    exact = math.exp(-hop / (sr * tau))
    precision, alpha = 3, 1.0
    while alpha >= 1.0:
        alpha = round(exact, precision)
        precision += 1
    return alpha


def exp_smooth(x, alpha, init, block=64):
    """``s_t = alpha s_(t-1) + (1 - alpha) x_t`` over dim 1 of ``x [B, T, K]`` from ``s_(-1) = init [K]``;
    returns ``s [B, T, K]``.  Computed a block of frames at a time with a cumulative sum: in a block
    that starts in state s0, ``s_t = alpha^(t+1) s0 + (1 - alpha) alpha^t sum_(k<=t) alpha^(-k) x_k``
    (blocks short enough that alpha^(-k) stays below 1e4)."""
    alpha = float(alpha)
    if not 0 < alpha < 1:
        raise KdError(f"exp_smooth: alpha must be in (0, 1), not {alpha}")
    length = max(1, min(int(block), int(math.log(1e4) / -math.log(alpha)) + 1, x.shape[1]))
    k = torch.arange(length, device=x.device, dtype=x.dtype)
    grow, decay = alpha ** -k, alpha ** k
    state = init.to(x.dtype).expand(x.shape[0], x.shape[2])
    out = []
    for start in range(0, x.shape[1], length):
        chunk = x[:, start:start + length]
        n = chunk.shape[1]
        acc = torch.cumsum(chunk * grow[:n, None], 1)
        smooth = (alpha * decay[:n, None]) * state[:, None] + (1 - alpha) * decay[:n, None] * acc
        out.append(smooth)
        state = smooth[:, -1]
    return torch.cat(out, 1)


class GroupedLinear(nn.Module):
    """DeepFilterNet's GroupedLinearEinsum: the input's last axis cut into ``groups`` equal slices,
    slice g mapped by its own ``[in/groups, out/groups]`` weight (no bias); the outputs concatenated.
    An input size that is not a multiple of ``groups`` is zero-padded to the next multiple."""

    def __init__(self, in_features, out_features, groups):
        super().__init__()
        self.in_features, self.groups = int(in_features), int(groups)
        if self.groups < 1 or int(out_features) % self.groups:
            raise KdError(f"grouped linear: {out_features} outputs are not divisible into {groups} groups")
        self.pad = -self.in_features % self.groups
        size_in = (self.in_features + self.pad) // self.groups
        bound = 1.0 / math.sqrt(size_in)
        self.weight = nn.Parameter(torch.empty(self.groups, size_in, int(out_features) // self.groups)
                                   .uniform_(-bound, bound))

    def forward(self, x):
        if self.pad:
            x = nn.functional.pad(x, (0, self.pad))
        x = x.unflatten(-1, (self.groups, -1))
        return torch.einsum("btgi,gih->btgh", x, self.weight).flatten(-2)


class SqueezedGRU(nn.Module):
    """DeepFilterNet's SqueezedGRU: grouped linear + ReLU, GRU (``skip``: plus its input), optional
    grouped linear + ReLU to ``out_features``; ``[B, T, in] -> [B, T, hidden or out]``."""

    def __init__(self, in_features, hidden, out_features=None, layers=1, groups=8, skip=False):
        super().__init__()
        self.linear_in = nn.Sequential(GroupedLinear(in_features, hidden, groups), nn.ReLU())
        self.gru = nn.GRU(hidden, hidden, num_layers=int(layers), batch_first=True)
        self.skip = bool(skip)
        self.linear_out = None
        if out_features is not None:
            self.linear_out = nn.Sequential(GroupedLinear(hidden, out_features, groups), nn.ReLU())

    def forward(self, x):
        x = self.linear_in(x)
        y = self.gru(x)[0]
        if self.skip:
            y = y + x
        return y if self.linear_out is None else self.linear_out(y)


def conv_block(c_in, c_out, kernel, fstride=1, act=nn.ReLU, transposed=False):
    """DeepFilterNet's Conv2dNormAct / ConvTranspose2dNormAct on ``[B, C, T, F]``: causal in time (kt - 1
    frames of left padding), ``kf // 2`` bins of padding, stride ``fstride`` in frequency, no bias;
    separable (grouped by gcd(c_in, c_out), then a 1x1 convolution) unless that is 1 group or a 1x1
    kernel; BatchNorm; activation."""
    kt, kf = (int(k) for k in kernel)
    if kf % 2 == 0:
        raise KdError(f"pdfnet2: frequency kernel sizes must be odd, not {kf}")
    groups = math.gcd(c_in, c_out)
    if kt * kf == 1:
        groups = 1
    layers = [nn.ConstantPad2d((0, 0, kt - 1, 0), 0.0)] if kt > 1 else []
    if transposed:
        layers.append(nn.ConvTranspose2d(c_in, c_out, (kt, kf), stride=(1, fstride),
                                         padding=(kt - 1, kf // 2), output_padding=(0, fstride - 1),
                                         groups=groups, bias=False))
    else:
        layers.append(nn.Conv2d(c_in, c_out, (kt, kf), stride=(1, fstride), padding=(0, kf // 2),
                                groups=groups, bias=False))
    if groups > 1:
        layers.append(nn.Conv2d(c_out, c_out, 1, bias=False))
    layers += [nn.BatchNorm2d(c_out), act()]
    return nn.Sequential(*layers)


class Features(nn.Module):
    """libDF's normalised ERB and complex features of a complex spectrum ``[B, T, F]`` (module docstring):
    ``([B, 1, T, bands], [B, 2, T, df_bins])``."""

    def __init__(self, widths, df_bins, alpha, scale):
        super().__init__()
        self.df_bins, self.alpha, self.scale = int(df_bins), float(alpha), float(scale)
        self.register_buffer("erb_fb", erb_filterbank(widths)[0], persistent=False)
        self.register_buffer("erb_init", torch.linspace(*MEAN_NORM_INIT, len(widths)), persistent=False)
        self.register_buffer("unit_init", torch.linspace(*UNIT_NORM_INIT, self.df_bins), persistent=False)

    def forward(self, spec):
        spec = spec * self.scale
        power = spec.real.square() + spec.imag.square()
        erb_db = 10 * torch.log10(power @ self.erb_fb + 1e-10)
        feat_erb = (erb_db - exp_smooth(erb_db, self.alpha, self.erb_init)) / 40
        magnitude = power[..., :self.df_bins].clamp_min(1e-14).sqrt()
        low = spec[..., :self.df_bins] / exp_smooth(magnitude, self.alpha, self.unit_init).sqrt()
        return feat_erb[:, None], torch.stack([low.real, low.imag], 1)

    def from_parts(self, real, imag):
        """The same features of a spectrum given as its real and imaginary parts ``[B, T, F]`` (no
        complex tensors: what an ONNX export can take)."""
        real, imag = real * self.scale, imag * self.scale
        power = real.square() + imag.square()
        erb_db = 10 * torch.log10(power @ self.erb_fb + 1e-10)
        feat_erb = (erb_db - exp_smooth(erb_db, self.alpha, self.erb_init)) / 40
        magnitude = power[..., :self.df_bins].clamp_min(1e-14).sqrt()
        norm = exp_smooth(magnitude, self.alpha, self.unit_init).sqrt()
        low_re, low_im = real[..., :self.df_bins] / norm, imag[..., :self.df_bins] / norm
        return feat_erb[:, None], torch.stack([low_re, low_im], 1)


class Encoder(nn.Module):
    def __init__(self, df_bins, ch, kernel_inp, kernel, emb_width, emb_hidden, emb_dim, groups, concat):
        super().__init__()
        self.erb_conv0 = conv_block(1, ch, kernel_inp)
        self.erb_conv1 = conv_block(ch, ch, kernel, fstride=2)
        self.erb_conv2 = conv_block(ch, ch, kernel, fstride=2)
        self.erb_conv3 = conv_block(ch, ch, kernel)
        self.df_conv0 = conv_block(2, ch, kernel_inp)
        self.df_conv1 = conv_block(ch, ch, kernel, fstride=2)
        self.df_fc_emb = nn.Sequential(GroupedLinear(ch * (df_bins // 2), emb_width, groups), nn.ReLU())
        self.concat = bool(concat)
        gru_in = (2 if self.concat else 1) * emb_width + emb_dim
        self.emb_gru = SqueezedGRU(gru_in, emb_hidden, groups=groups)

    def forward(self, feat_erb, feat_spec, speaker=None):
        e0 = self.erb_conv0(feat_erb)                                   # [B, C, T, E]
        e1 = self.erb_conv1(e0)                                         # [B, C, T, E/2]
        e2 = self.erb_conv2(e1)                                         # [B, C, T, E/4]
        e3 = self.erb_conv3(e2)                                         # [B, C, T, E/4]
        c0 = self.df_conv0(feat_spec)                                   # [B, C, T, Fdf]
        c1 = self.df_conv1(c0)                                          # [B, C, T, Fdf/2]
        cemb = self.df_fc_emb(c1.permute(0, 2, 3, 1).flatten(2))        # [B, T, C E/4]
        emb = e3.permute(0, 2, 3, 1).flatten(2)                         # [B, T, C E/4]
        emb = torch.cat([emb, cemb], -1) if self.concat else emb + cemb
        if speaker is not None:
            emb = torch.cat([emb, speaker], -1)
        return e0, e1, e2, e3, self.emb_gru(emb), c0


class ErbDecoder(nn.Module):
    def __init__(self, ch, kernel, emb_hidden, emb_width, layers, groups):
        super().__init__()
        self.emb_gru = SqueezedGRU(emb_hidden, emb_hidden, emb_width, layers=layers, groups=groups, skip=True)
        self.conv3p = conv_block(ch, ch, (1, 1))
        self.convt3 = conv_block(ch, ch, kernel)
        self.conv2p = conv_block(ch, ch, (1, 1))
        self.convt2 = conv_block(ch, ch, kernel, fstride=2, transposed=True)
        self.conv1p = conv_block(ch, ch, (1, 1))
        self.convt1 = conv_block(ch, ch, kernel, fstride=2, transposed=True)
        self.conv0p = conv_block(ch, ch, (1, 1))
        self.conv0_out = conv_block(ch, 1, kernel, act=nn.Sigmoid)

    def forward(self, emb, e3, e2, e1, e0):
        b, _, t, bands = e3.shape
        emb = self.emb_gru(emb).view(b, t, bands, -1).permute(0, 3, 1, 2)  # [B, C, T, E/4]
        e3 = self.convt3(self.conv3p(e3) + emb)
        e2 = self.convt2(self.conv2p(e2) + e3)
        e1 = self.convt1(self.conv1p(e1) + e2)
        return self.conv0_out(self.conv0p(e0) + e1)                      # [B, 1, T, E]


class DfDecoder(nn.Module):
    def __init__(self, ch, emb_hidden, df_hidden, layers, df_bins, order, pathway_kt, groups):
        super().__init__()
        self.df_bins = int(df_bins)
        self.df_convp = conv_block(ch, 2 * order, (pathway_kt, 1))
        self.df_gru = SqueezedGRU(emb_hidden, df_hidden, layers=layers, groups=groups, skip=True)
        self.df_out = nn.Sequential(GroupedLinear(df_hidden, self.df_bins * 2 * order, groups), nn.Tanh())

    def forward(self, emb, c0):
        b, t, _ = emb.shape
        pathway = self.df_convp(c0).permute(0, 2, 3, 1)                 # [B, T, Fdf, 2 O]
        return self.df_out(self.df_gru(emb)).view(b, t, self.df_bins, -1) + pathway


def deep_filter_parts(real, imag, coefs, lookahead):
    """``deep_filter`` on real and imaginary parts: spectrum ``real, imag [B, T, F]``, coefficients
    ``[B, T, F, O, 2]`` (real, imaginary) -> ``(real, imag)`` of the filtered ``[B, T, F]``.  The taps
    are gathered by slicing a zero-padded copy (no ``unfold``), each complex product written out:
    ``(a + ib)(c + id) = (ac - bd) + i(ad + bc)``."""
    order, frames = coefs.shape[-2], real.shape[1]
    pad = (0, 0, order - 1 - int(lookahead), int(lookahead))

    def taps(x):  # [B, T, F] -> [B, T, F, O]: tap n of frame t is frame t + n - (O - 1 - lookahead)
        padded = nn.functional.pad(x, pad)
        return torch.stack([padded[:, n:n + frames] for n in range(order)], -1)

    a, b = taps(real), taps(imag)
    c, d = coefs[..., 0], coefs[..., 1]
    return (a * c - b * d).sum(-1), (a * d + b * c).sum(-1)
