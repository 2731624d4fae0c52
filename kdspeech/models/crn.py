"""Convolutional recurrent network (CRN) of Tan & Wang (2018), waveform in, waveform out.

"A Convolutional Recurrent Neural Network for Real-Time Speech Enhancement" (Interspeech 2018): the
STFT magnitude of 20 ms frames with a 10 ms hop (161 bins at 16 kHz) goes through an encoder of
``len(channels)`` causal Conv2d blocks (kernel 2 frames x 3 bins, stride 1 x 2, BatchNorm, ELU), the
encoder output (channels x remaining bins per frame) through ``lstm_layers`` LSTM layers, and a
mirrored decoder of ConvTranspose2d blocks, each fed the decoder output concatenated with the skip
output of its encoder mirror.  The last block outputs one channel with softplus: the estimated clean
magnitude, combined with the noisy phase and inverted with istft to the input's length.  The paper
size (defaults) has 17.6M parameters.  Wrapping the STFT inside the model lets the waveform
enhancement task, the trainer, ``kdspeech.bin.enhance`` and scoring treat it like any other model;
``kdspeech.bin.deploy`` exports the network between STFT and iSTFT (``MagnitudeCore``), the STFT
(periodic Hann window of ``n_fft``, edges mirrored as torch.stft's default) staying on the host.
"""

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.models import MODELS
from kdspeech.models.spectral import MagnitudeCore, SpectralExport, Stft


class CausalConv(nn.Module):
    """Conv2d over [B, C, time, freq] that sees only the current and past frames."""

    def __init__(self, c_in, c_out, time_kernel, freq_kernel, freq_stride):
        super().__init__()
        self.time_pad = time_kernel - 1
        self.conv = nn.Conv2d(c_in, c_out, (time_kernel, freq_kernel), stride=(1, freq_stride))
        self.norm = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return F.elu(self.norm(self.conv(F.pad(x, (0, 0, self.time_pad, 0)))))


class CausalDeconv(nn.Module):
    """ConvTranspose2d that upsamples frequency to a given size and keeps the frame count."""

    def __init__(self, c_in, c_out, time_kernel, freq_kernel, freq_stride, last):
        super().__init__()
        self.time_kernel = time_kernel
        self.deconv = nn.ConvTranspose2d(c_in, c_out, (time_kernel, freq_kernel), stride=(1, freq_stride))
        self.norm = None if last else nn.BatchNorm2d(c_out)

    def forward(self, x, freq_size):
        frames = x.shape[2]
        y = self.deconv(x, output_size=(frames + self.time_kernel - 1, freq_size))
        y = y[:, :, :frames]  # drop the frames that depend on the future
        return F.softplus(y) if self.norm is None else F.elu(self.norm(y))


@MODELS.register("crn")
class CRN(SpectralExport, nn.Module):
    core_class = MagnitudeCore   # deploy: the network between STFT and iSTFT

    def __init__(self, n_fft=320, hop=160, channels=(16, 32, 64, 128, 256), time_kernel=2,
                 freq_kernel=3, freq_stride=2, lstm_layers=2, lstm_hidden=None):
        super().__init__()
        self.n_fft, self.hop = int(n_fft), int(hop)
        channels = [int(c) for c in channels]
        bins = self.n_fft // 2 + 1
        for _ in channels:
            bins = (bins - freq_kernel) // freq_stride + 1
            if bins < 1:
                raise ValueError(f"n_fft={n_fft} has too few bins for {len(channels)} stride-{freq_stride} layers")
        features = channels[-1] * bins
        self.encoder = nn.ModuleList()
        c_in = 1
        for c in channels:
            self.encoder.append(CausalConv(c_in, c, time_kernel, freq_kernel, freq_stride))
            c_in = c
        hidden = int(lstm_hidden or features)
        self.lstm = nn.LSTM(features, hidden, num_layers=lstm_layers, batch_first=True)
        self.project = nn.Linear(hidden, features) if hidden != features else nn.Identity()
        outs = list(reversed(channels[:-1])) + [1]
        self.decoder = nn.ModuleList(
            CausalDeconv(2 * c, o, time_kernel, freq_kernel, freq_stride, last=(i == len(outs) - 1))
            for i, (c, o) in enumerate(zip(reversed(channels), outs)))
        self.stft = Stft(self.n_fft, self.n_fft, self.hop, "hann", pad_mode="reflect")
        self.emb_dim = 0

    def enhance_magnitude(self, mag):
        """[B, T, F] noisy magnitude -> [B, T, F] estimated clean magnitude."""
        x = mag.unsqueeze(1)
        skips, sizes = [], []
        for block in self.encoder:
            sizes.append(x.shape[-1])
            x = block(x)
            skips.append(x)
        b, c, t, f = x.shape
        y, _ = self.lstm(x.permute(0, 2, 1, 3).reshape(b, t, c * f))
        x = self.project(y).reshape(b, t, c, f).permute(0, 2, 1, 3)
        for block, skip, size in zip(self.decoder, reversed(skips), reversed(sizes)):
            x = block(torch.cat([x, skip], dim=1), size)
        return x.squeeze(1)

    def magnitude_gain(self, mag):
        """``[B, bins, frames]`` noisy magnitude -> the real gain that makes it the estimated magnitude."""
        est = self.enhance_magnitude(mag.transpose(1, 2)).transpose(1, 2)
        return est / mag.clamp_min(1e-8)

    def forward(self, wav):
        """``wav``: [B, T] (or [B, 1, T]) noisy waveform -> enhanced waveform of the same shape
        (the estimated magnitude with the noisy phase)."""
        squeeze = wav.dim() == 2
        x = wav if squeeze else wav.squeeze(1)
        spec = self.stft(x)
        out = self.stft.inverse(spec * self.magnitude_gain(spec.abs()), x.shape[-1])
        return out if squeeze else out.unsqueeze(1)
