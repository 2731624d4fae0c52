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

Deployment as DeepFilterNet deploys it (its enc / erb_dec / df_dec ONNX graphs, STFT and iSTFT in host
code): ``spectral_core()`` is the network between the STFT and the iSTFT as a module with real-valued
inputs and outputs (``SpectralCore``: the noisy spectrum as real and imaginary parts [B, 2,
n_fft/2+1, F] and the embedding in, the enhanced spectrum and the gains out; the deep filter written with real
arithmetic), sharing this model's sub-modules; ``analysis(mix)`` and ``synthesis(spec, T)`` are the
host's STFT and iSTFT, so ``synthesis(core(analysis(mix), emb)["spec"], T)`` is ``forward``'s "out"
(to float rounding).  ``export_module(inputs)`` is the hook ``kdspeech.bin.deploy`` exports and checks
in ONNX instead of the complex-valued forward.
"""


import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS
from kdspeech.models.spectral import SpectralExport, Stft, as_batch, frame_condition, seeded_example_inputs
from kdspeech.models.deep_filter import deep_filter
from kdspeech.models.erb import erb_filterbank, erb_widths
from kdspeech.models.pdfnet2_blocks import DfDecoder, Encoder, ErbDecoder, Features, deep_filter_parts, norm_alpha

class SpectralCore(nn.Module):
    """The network of a ``PDeepFilterNet2`` between its STFT and its iSTFT, without complex tensors:
    ``forward(noisy [B, 2, n_fft/2+1, F], enroll_emb [B, D] or [B, F, D])`` -> ``{"spec": enhanced
    [B, 2, n_fft/2+1, F], "mask": stage-1 gains [B, n_fft/2+1, F]}`` (the layout of the model's own
    "spec" and "mask" outputs).  It runs the model's own sub-modules (not copies): features, encoder,
    ERB decoder and gains, DF decoder and the deep filter on (real, imaginary) pairs."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, noisy, enroll_emb=None):
        m = self.model
        if noisy.dim() != 4 or noisy.shape[1] != 2:
            raise KdError(f"pdfnet2 core: noisy must be [B, 2, bins, frames] (real, imaginary), got "
                          f"{list(noisy.shape)}")
        real, imag = noisy[:, 0].transpose(1, 2), noisy[:, 1].transpose(1, 2)  # [B, T, F]
        batch, frames = real.shape[:2]
        speaker = None
        if m.emb_dim:
            speaker = frame_condition(enroll_emb, batch, frames, m.emb_dim, "pdfnet2").to(real.dtype)
        feat_erb, feat_spec = (m._ahead(f) for f in m.features.from_parts(real, imag))
        e0, e1, e2, e3, emb, c0 = m.enc(feat_erb, feat_spec, speaker)
        gains = m.erb_dec(emb, e3, e2, e1, e0)[:, 0] @ m.erb_inverse         # [B, T, F]
        real, imag = real * gains, imag * gains
        coefs = m.df_dec(emb, c0).unflatten(-1, (m.df_order, 2))             # [B, T, Fdf, O, 2]
        low_re, low_im = deep_filter_parts(real[..., :m.df_bins], imag[..., :m.df_bins], coefs,
                                           m.df_lookahead)
        real = torch.cat([low_re, real[..., m.df_bins:]], -1)
        imag = torch.cat([low_im, imag[..., m.df_bins:]], -1)
        return {"spec": torch.stack([real, imag], 1).transpose(2, 3), "mask": gains.transpose(1, 2)}


@MODELS.register("pdfnet2")
class PDeepFilterNet2(SpectralExport, nn.Module):
    main_input, core_class = "mix", SpectralCore
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
