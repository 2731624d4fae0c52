"""DCCRN (Hu et al., "DCCRN: Deep Complex Convolution Recurrent Network for Phase-Aware Speech
Enhancement", Interspeech 2020), the DCCRN-CL variant: complex encoder/decoder, complex LSTM.

Signal path (defaults = the published DCCRN-CL):

- STFT: ``n_fft`` 512, ``win_length`` 400, ``hop`` 100 (25 ms / 6.25 ms at 16 kHz), a square-root
  periodic Hann window (the authors' ``hanning ** 0.5``; ``window: hann`` gives a plain periodic
  Hann), centred frames with zero padding, so a T-sample input has ``1 + T // hop`` frames and any
  length works; the iSTFT is trimmed back to T samples.  The DC bin is dropped before the network
  (256 bins from 257) and gets a zero mask.
- Encoder: ``len(channels)`` complex Conv2d layers over [B, 2C, freq, time] (kernel 5 bins x 2
  frames, stride 2 in frequency, causal in time), each followed by complex batch norm (or real
  BatchNorm2d over the 2C channels, the authors' default code path, with ``complex_bn: false``) and
  PReLU.  ``channels`` count real + imaginary channels, as the paper does: 32-64-128-256-256-256 is
  16-32-64-128-128-128 complex channels, each layer two real Conv2d of half the size.
- Complex LSTM: ``lstm_layers`` layers of ``lstm_units`` (real + imaginary: 256 = two real LSTMs of
  128) on the flattened encoder output (channels x remaining bins); the last layer projects back to
  that size with a linear map per real/imaginary part.
- Decoder: mirrored complex ConvTranspose2d layers (kernel 5 x 2, stride 2 in frequency), each fed
  the previous output concatenated with its encoder mirror's output (complex concatenation); BN and
  PReLU on all but the last, which outputs one complex channel: the mask M.  Time is kept causal (the
  first T frames of the transposed convolution), where the authors' code keeps frames 1..T (one
  frame of look-ahead per decoder layer); the parameter count is the same.
- "E" mask (polar): S = tanh(|M|) * exp(i angle M) * Y, i.e. the magnitude is bounded and the phase
  rotated.  ``masking: C`` (complex multiplication) and ``R`` (real and imaginary separately) are
  the paper's other two modes.

forward(wav [B, T], enroll_emb=None) -> {"wav": [B, T], "spec": [B, 2, n_fft/2+1, frames] (real,
imaginary of the estimate), "mask": [B, 2, n_fft/2+1, frames] (the effective complex mask)}; a
[B, 1, T] input gives a [B, 1, T] "wav".  ``num_frames(T)`` = 1 + T // hop.

pDCCRN (Eskimez et al. 2022, "Personalized speech enhancement: new models and comprehensive
evaluation"): with ``emb_dim`` D > 0 the target speaker's embedding ``enroll_emb`` ([B, D], used on
every frame, or frame-wise [B, num_frames(T), D]) is concatenated to the input of the first complex
LSTM layer on every frame.  A complex LSTM layer splits its input into real and imaginary halves (two
real LSTMs, each seeing one half), so the embedding is appended to both halves: [x_r, e, x_i, e], and
each real LSTM of that layer gets D more inputs (2 x 4 x lstm_units/2 x D more weights: 196,608 for
D = 192 and the published 256 units, 3,868,525 parameters in all with complex batch norm).  With
``emb_dim: 0`` (the default) the model is plain DCCRN and an ``enroll_emb`` given to it is ignored
(as before the option existed, when the batch's embedding was simply not passed).

Deployment: ``spectral_core()`` (``SpectralCore``) is the network between the STFT and the iSTFT with
real-valued inputs and outputs (the noisy spectrum [B, 2, n_fft/2+1, frames] and the embedding in,
the estimate and the mask out), sharing this model's weights; ``analysis`` / ``synthesis`` are the
host's STFT and iSTFT; ``export_module`` is the hook ``kdspeech.bin.deploy`` exports to ONNX.

Size: the published configuration has 3,671,053 parameters with the authors' real BatchNorm2d and
3,671,917 with complex batch norm (5 instead of 2x2 parameters per complex channel, 864 more); the
paper reports 3.7M.  The output waveform is not clamped to [-1, 1] (the authors' code clamps it,
which stops the gradient of clipped samples).
"""

import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS
from kdspeech.train.precision import fp32_region
from kdspeech.models.spectral import SpectralExport, Stft, as_batch, frame_condition, seeded_example_inputs
from kdspeech.models.complex_nn import (ComplexBatchNorm, ComplexConv2d, ComplexConvTranspose2d,
                                        ComplexLSTM, complex_cat)

MASKING = ("E", "C", "R")


@MODELS.register("dccrn")
class DCCRN(SpectralExport, nn.Module):
    main_input = "wav"
    cpu_precision = "bf16"   # precision auto on a CPU with bf16: step 0.67 of fp32, pDCCRN 0.72 (bench_precision)
    def __init__(self, n_fft=512, win_length=400, hop=100, window="sqrt_hann",
                 channels=(32, 64, 128, 256, 256, 256), kernel_freq=5, kernel_time=2,
                 lstm_layers=2, lstm_units=256, masking="E", complex_bn=True, emb_dim=0):
        super().__init__()
        if int(emb_dim) < 0:
            raise KdError(f"dccrn: emb_dim must be >= 0 (0: no speaker embedding), not {emb_dim}")
        self.emb_dim = int(emb_dim)
        if masking not in MASKING:
            raise KdError(f"dccrn: masking must be one of {', '.join(MASKING)}, not {masking!r}")
        channels = [int(c) for c in channels]
        if not channels or any(c % 2 for c in channels) or int(lstm_units) % 2:
            raise KdError(f"dccrn: channels and lstm_units count real + imaginary parts and must be even "
                          f"(channels {channels}, lstm_units {lstm_units})")
        self.stft = Stft(n_fft, win_length, hop, window)
        self.masking = masking
        bins = self.stft.n_fft // 2  # the DC bin is left out
        if bins % (2 ** len(channels)):
            raise KdError(f"dccrn: n_fft/2 = {bins} bins must halve {len(channels)} times evenly")
        pad = kernel_freq // 2
        sizes = [2] + channels

        def norm(c):
            return ComplexBatchNorm(c) if complex_bn else nn.BatchNorm2d(c)

        self.encoder = nn.ModuleList(
            nn.Sequential(ComplexConv2d(c_in, c_out, (kernel_freq, kernel_time), stride=(2, 1),
                                        padding=(pad, 0), causal_time=True), norm(c_out), nn.PReLU())
            for c_in, c_out in zip(sizes[:-1], sizes[1:]))
        self.bins_out = bins // 2 ** len(channels)
        features = channels[-1] * self.bins_out  # real + imaginary
        layers = []
        for i in range(int(lstm_layers)):
            last = i == int(lstm_layers) - 1
            size_in = features + 2 * self.emb_dim if i == 0 else int(lstm_units)  # [x_r, e, x_i, e]
            layers.append(ComplexLSTM(size_in, int(lstm_units), projection=features if last else None))
        self.lstm = nn.Sequential(*layers)
        self.decoder = nn.ModuleList()
        for i in range(len(channels), 0, -1):
            c_in, c_out = 2 * sizes[i], sizes[i - 1]
            deconv = ComplexConvTranspose2d(c_in, c_out, (kernel_freq, kernel_time), stride=(2, 1),
                                            padding=(pad, 0), output_padding=(1, 0), causal_time=True)
            self.decoder.append(nn.Sequential(deconv, norm(c_out), nn.PReLU()) if i > 1 else deconv)

    def num_frames(self, num_samples):
        """Frames of the STFT (and of a frame-wise embedding) for ``num_samples`` samples."""
        return 1 + int(num_samples) // self.stft.hop

    def example_inputs(self, num_samples):
        return seeded_example_inputs("wav", num_samples, self.emb_dim)

    def network(self, feats, enroll_emb=None):
        """Encoder, complex LSTM and decoder: ``feats [B, 2, F-1, frames]`` (real, imaginary of the bins
        above DC) -> the mask's real and imaginary parts ``[B, 2, F-1, frames]`` (real-valued)."""
        skips = []
        out = feats
        for layer in self.encoder:
            out = layer(out)
            skips.append(out)
        b, c, f, t = out.shape
        seq = out.permute(0, 3, 1, 2)  # [B, T, 2C, F]: real channels then imaginary channels
        seq = seq.reshape(b, t, c * f)
        if self.emb_dim:
            emb = frame_condition(enroll_emb, b, t, self.emb_dim, "dccrn").to(seq.dtype)
            real, imag = seq.chunk(2, -1)
            seq = torch.cat([real, emb, imag, emb], -1)
        seq = self.lstm(seq).reshape(b, t, c, f).permute(0, 2, 3, 1)
        out = seq
        for layer, skip in zip(self.decoder, reversed(skips)):
            out = layer(complex_cat([out, skip]))
        return out

    def forward(self, wav, enroll_emb=None):
        x, unsqueeze = as_batch(wav)
        length = x.shape[-1]
        noisy = self.stft(x)  # [B, F, frames] complex
        feats = torch.cat([noisy.real[:, None, 1:], noisy.imag[:, None, 1:]], 1)  # [B, 2, F-1, frames]
        return self._masked(noisy, self.network(feats, enroll_emb), length, unsqueeze)

    @fp32_region  # the complex mask and the iSTFT in fp32 under autocast (torch has no bf16 complex)
    def _masked(self, noisy, out, length, unsqueeze):
        """The network's mask ``out`` applied to the complex ``noisy``, and the iSTFT: the outputs."""
        mask = torch.complex(out[:, 0], out[:, 1])
        mask = torch.cat([torch.zeros_like(mask[:, :1]), mask], 1)  # the DC bin
        if self.masking == "E":
            mag = mask.abs()
            mask = torch.tanh(mag) * mask / (mag + 1e-8)
            est = noisy * mask
        elif self.masking == "C":
            est = noisy * mask
        else:
            est = torch.complex(noisy.real * mask.real, noisy.imag * mask.imag)
        out_wav = self.stft.inverse(est, length)
        return {"wav": out_wav[:, None] if unsqueeze else out_wav,
                "spec": torch.stack([est.real, est.imag], 1),
                "mask": torch.stack([mask.real, mask.imag], 1)}


class SpectralCore(nn.Module):
    """The network of a ``DCCRN`` between its STFT and its iSTFT, without complex tensors:
    ``forward(noisy [B, 2, n_fft/2+1, frames], enroll_emb [B, D] or [B, frames, D] or None)`` ->
    ``{"spec": estimate, "mask": effective mask}`` (both [B, 2, n_fft/2+1, frames], the layout of the
    model's own outputs): the model's ``network`` (its own weights), the DC bin's zero mask and the
    masking mode written out on (real, imaginary) pairs, ``(a + ib)(c + id) = (ac - bd) + i(ad + bc)``."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, noisy, enroll_emb=None):
        if noisy.dim() != 4 or noisy.shape[1] != 2:
            raise KdError(f"dccrn core: noisy must be [B, 2, bins, frames] (real, imaginary), got "
                          f"{list(noisy.shape)}")
        out = self.model.network(noisy[:, :, 1:], enroll_emb)
        mask = torch.cat([torch.zeros_like(out[:, :, :1]), out], 2)  # the DC bin
        m_re, m_im, y_re, y_im = mask[:, 0], mask[:, 1], noisy[:, 0], noisy[:, 1]
        if self.model.masking == "E":
            mag = (m_re.square() + m_im.square()).sqrt()
            scale = torch.tanh(mag) / (mag + 1e-8)
            m_re, m_im = m_re * scale, m_im * scale
        if self.model.masking == "R":
            est = (y_re * m_re, y_im * m_im)
        else:
            est = (y_re * m_re - y_im * m_im, y_re * m_im + y_im * m_re)
        return {"spec": torch.stack(est, 1), "mask": torch.stack([m_re, m_im], 1)}


DCCRN.core_class = SpectralCore   # defined after the model, whose methods it calls
