"""pDeepFilterNet2: DeepFilterNet2 (Schroeter et al., IWAENC 2022) personalized with a speaker embedding,
as Serre et al. use it (a 16 kHz version of their pDeepFilterNet2: unified encoder, no local-SNR head,
24 ERB bands; 2.23M parameters, 0.33 G MACs per second in their Table I).

The architecture is DeepFilterNet2's released configuration (``df/deepfilternet2.py`` and the
``[deepfilternet]`` section of the pretrained DeepFilterNet2 ``config.ini``: ``conv_ch 64``,
``conv_kernel_inp 3,3``, ``conv_kernel 1,3``, depthwise-separable convolutions, ``emb_hidden_dim 256``,
``emb_num_layers 3``, ``df_hidden_dim 256``, ``df_num_layers 2``, ``linear_groups 8``, ``gru_type
squeeze``, ``enc_concat true``, ``df_gru_skip none``, ``df_output_layer groupedlinear``,
``df_pathway_kernel_size_t 5``, ``df_order 5``, ``df_lookahead 2``, ``conv_lookahead 2``,
``dfop_method df``, ``df_n_iter 1``, ``norm_tau 1``), at 16 kHz:

- STFT: ``n_fft`` = window 320, ``hop`` 160 (20 ms / 10 ms, 50 Hz bins as DeepFilterNet2's 960/480
  at 48 kHz), DeepFilterNet's power-complementary Vorbis window, centred frames with zero padding:
  a T-sample input has ``num_frames(T) = 1 + T // hop`` frames; the iSTFT is trimmed to T samples.
- Features (libDF's, computed here in torch on the STFT scaled by libDF's 2 hop / n_fft^2): the ERB
  feature is the mean power per band of ``kdspeech.models.erb`` (24 bands), in dB, minus its
  exponential running mean (decay ``alpha`` = exp(-hop / (sr norm_tau)) rounded as DeepFilterNet does:
  0.99; initial state -60 to -90 dB over the bands), divided by 40; the complex feature is the first
  ``df_bins`` bins divided by the square root of the running mean of their magnitude (initial state
  0.001 to 0.0001).  Both are shifted ``conv_lookahead`` frames earlier (frame t sees frame t + 2).
- Encoder (one, shared by both stages): ERB branch conv 3x3 (1 -> 64), then three separable 1x3
  convolutions (frequency stride 2, 2, 1: 24 -> 12 -> 6 bands); complex branch separable 3x3 (2 ->
  64), separable 1x3 stride 2 (96 -> 48 bins), flattened and mapped by a grouped linear layer
  (8 groups, ReLU) to the ERB branch's 64 x 6 = 384 features; both are concatenated (768).  Every
  convolution is causal in time, without bias, followed by BatchNorm and ReLU; "separable" is a
  grouped convolution (groups = gcd of the channel counts) followed by a 1x1 convolution.
- Personalization: the speaker embedding ([B, D] on every frame, or frame-wise [B, num_frames(T), D])
  is concatenated to those 768 encoder features on every frame, so the embedding GRU's input grouped
  linear layer takes 768 + D inputs (``emb_dim: 0`` gives DeepFilterNet2 itself).  A grouped linear
  layer splits its input into equal slices; when the input size is not a multiple of the groups
  (768 + 193 for the similarity-refined embedding) the input is zero-padded to the next multiple
  (968: 7 padded inputs, whose 7 x 32 = 224 weights only ever multiply zeros).
- Embedding GRU (DeepFilterNet's SqueezedGRU): grouped linear 768 + D -> 256 (ReLU), GRU 256.
- Stage 1, ERB decoder: SqueezedGRU (grouped linear 256 -> 256 + ReLU, 2-layer GRU 256 with a skip
  connection around it, grouped linear 256 -> 384 + ReLU) reshaped to 64 x 6 bands; separable 1x3
  convolutions and transposed convolutions (stride 2) with 1x1 pathway convolutions from the encoder
  (added) back to 24 bands; a 1x3 convolution + BatchNorm + sigmoid gives the ERB gains, spread to
  the bins (each bin takes its band's gain) and applied to the noisy spectrum.
- Stage 2, deep filtering (``kdspeech.models.deep_filter``): SqueezedGRU (grouped linear 256 -> 256
  + ReLU, 2-layer GRU 256 with skip), grouped linear -> ``df_bins`` x ``df_order`` complex
  coefficients + tanh, plus a pathway from the complex branch's first convolution (separable, 5
  frames x 1 bin kernel, BatchNorm, ReLU); order-5 complex filters over frames t - 2 .. t + 2
  replace the first ``df_bins`` bins of the stage-1 output.
- ``df_bins`` = 96: bins 0..95, 0 to 4.75 kHz, the same cutoff (96 bins of 50 Hz, 4.8 kHz) as
  DeepFilterNet2's ``nb_df`` 96 at 48 kHz, which Serre et al. keep ("all other parameters remain the
  same").

Left out: the local-SNR head (as Serre et al.) and DeepFilterNet2's ``df_fc_a`` (a 257-parameter
linear layer whose output, the DF mixing weight alpha, is only used by the older ``real_unfold`` DF
operator, not by ``dfop_method df``).  Grouped linear weights are initialised like ``nn.Linear`` per
group (uniform, bound 1/sqrt(inputs per group)).

Size at the defaults: 2,260,410 parameters without the embedding (``emb_dim: 0``), 2,266,554 with a
192-dimensional ECAPA embedding (1.6 % above the 2.23M of Serre et al.; this code at DeepFilterNet2's
48 kHz settings, 960/480, 32 bands, comes to 2,321,850, plus 514 for the local-SNR head and df_fc_a:
2.32M, its paper's 2.31M).  MACs (``kdspeech.models.complexity``, 1 s at 16 kHz, 101 frames): 0.356 G
(Serre et al.: 0.33 G), nearly all in the GRUs (0.20 G), the convolutions (0.13 G) and the grouped
linear layers; the deep filter itself is 101 x 96 x 5 complex MACs (0.19 M real).  A CPU-scale model:
``conv_ch: 16, emb_hidden: 64, df_hidden: 64`` (151k parameters with D = 192, 29 M MACs/s).

forward(mix [B, T] or [B, 1, T], enroll_emb [B, D] or [B, F, D]) -> {"out": enhanced waveform, same
shape as mix, "spec": [B, 2, n_fft/2+1, F] (real, imaginary of the enhanced spectrum), "mask": [B,
n_fft/2+1, F] (the stage-1 gains per bin)}.
"""

import math

import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS
from kdspeech.models.dccrn import Stft, as_batch, frame_condition, seeded_example_inputs
from kdspeech.models.deep_filter import deep_filter
from kdspeech.models.erb import erb_filterbank, erb_widths

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


@MODELS.register("pdfnet2")
class PDeepFilterNet2(nn.Module):
    def __init__(self, emb_dim=192, sr=16000, n_fft=320, hop=160, window="vorbis", erb_bands=24,
                 min_band_bins=2, df_bins=96, df_order=5, df_lookahead=2, conv_lookahead=2, conv_ch=64,
                 conv_kernel=(1, 3), conv_kernel_inp=(3, 3), emb_hidden=256, emb_layers=3, df_hidden=256,
                 df_layers=2, lin_groups=8, df_pathway_kernel_t=5, enc_concat=True, norm_tau=1.0):
        super().__init__()
        self.emb_dim, self.df_bins, self.df_order = int(emb_dim), int(df_bins), int(df_order)
        self.df_lookahead, self.conv_lookahead = int(df_lookahead), int(conv_lookahead)
        erb_bands, conv_ch, groups = int(erb_bands), int(conv_ch), int(lin_groups)
        self.stft = Stft(n_fft, n_fft, hop, window)
        bins = self.stft.n_fft // 2 + 1
        problems = []
        if self.emb_dim < 0:
            problems.append(f"emb_dim {emb_dim} < 0")
        if erb_bands % 4:
            problems.append(f"erb_bands {erb_bands} is not a multiple of 4 (two frequency strides of 2)")
        if self.df_bins % 2 or not 0 < self.df_bins <= bins:
            problems.append(f"df_bins {df_bins} must be even and in (0, {bins}]")
        if not 0 <= self.df_lookahead < self.df_order:
            problems.append(f"df_lookahead {df_lookahead} must be in [0, df_order {df_order})")
        if self.conv_lookahead < 0 or int(emb_layers) < 2 or int(df_layers) < 1:
            problems.append(f"conv_lookahead >= 0, emb_layers >= 2 and df_layers >= 1 (got {conv_lookahead}, "
                            f"{emb_layers}, {df_layers})")
        emb_width = conv_ch * erb_bands // 4
        for name, size in (("conv_ch x erb_bands / 4", emb_width), ("emb_hidden", emb_hidden),
                           ("df_hidden", df_hidden),
                           ("df_bins x 2 df_order", self.df_bins * 2 * self.df_order)):
            if int(size) % groups:
                problems.append(f"{name} = {size} is not a multiple of lin_groups {groups}")
        if problems:
            raise KdError("pdfnet2: " + "; ".join(problems))
        widths = erb_widths(sr, self.stft.n_fft, erb_bands, min_band_bins)
        scale = 2 * self.stft.hop / self.stft.n_fft ** 2  # libDF's analysis normalisation
        alpha = norm_alpha(int(sr), self.stft.hop, float(norm_tau))
        self.features = Features(widths, self.df_bins, alpha, scale)
        self.register_buffer("erb_inverse", erb_filterbank(widths)[1], persistent=False)
        self.enc = Encoder(self.df_bins, conv_ch, conv_kernel_inp, conv_kernel, emb_width, int(emb_hidden),
                           self.emb_dim, groups, enc_concat)
        self.erb_dec = ErbDecoder(conv_ch, conv_kernel, int(emb_hidden), emb_width, int(emb_layers) - 1,
                                  groups)
        self.df_dec = DfDecoder(conv_ch, int(emb_hidden), int(df_hidden), int(df_layers), self.df_bins,
                                self.df_order, int(df_pathway_kernel_t), groups)

    def num_frames(self, num_samples):
        """STFT frames (and frames of a frame-wise embedding) for ``num_samples`` samples."""
        return 1 + int(num_samples) // self.stft.hop

    def example_inputs(self, num_samples):
        return seeded_example_inputs("mix", num_samples, self.emb_dim)

    def _ahead(self, feat):
        """Features of frame t + conv_lookahead at frame t (zeros past the end): [B, C, T, F]."""
        shift = min(self.conv_lookahead, feat.shape[2])
        if not shift:
            return feat
        return torch.cat([feat[:, :, shift:], feat.new_zeros(*feat.shape[:2], shift, feat.shape[3])], 2)

    def forward(self, mix, enroll_emb=None):
        x, unsqueeze = as_batch(mix)
        batch, length = x.shape
        spec = self.stft(x).transpose(1, 2)                              # [B, T, F] complex
        frames = spec.shape[1]
        speaker = None
        if self.emb_dim:
            speaker = frame_condition(enroll_emb, batch, frames, self.emb_dim, "pdfnet2").to(x.dtype)
        feat_erb, feat_spec = (self._ahead(f) for f in self.features(spec))
        e0, e1, e2, e3, emb, c0 = self.enc(feat_erb, feat_spec, speaker)
        gains = self.erb_dec(emb, e3, e2, e1, e0)[:, 0] @ self.erb_inverse  # [B, T, F]
        masked = spec * gains
        coefs = self.df_dec(emb, c0).unflatten(-1, (self.df_order, 2))   # [B, T, Fdf, O, 2]
        low = deep_filter(masked[..., :self.df_bins], torch.view_as_complex(coefs.contiguous()),
                          self.df_lookahead)
        est = torch.cat([low, masked[..., self.df_bins:]], -1)
        out = self.stft.inverse(est.transpose(1, 2), length)
        return {"out": out[:, None] if unsqueeze else out,
                "spec": torch.stack([est.real, est.imag], 1).transpose(2, 3),
                "mask": gains.transpose(1, 2)}
