"""Streaming CRN (``kdspeech.models.crn``): layers on [B, C, time, freq], one frame a step (k frames
with ``hops_per_step``).

Causal: every (transposed) convolution is causal in time and the LSTM is unidirectional.  The STFT
mirrors its edges (torch.stft's "reflect"), so the stream waits one more hop for frame 0 (delay 320
samples = 20 ms at the defaults n_fft 320, hop 160, 160 of them the mirrored edge's price).  State:
per (transposed) convolution the last ``time_kernel - 1`` input frames, and the LSTMs' (h, c).  A
transposed convolution computes only the output frame the stream keeps, as a matrix product
(``deconv_frames``).  ``hops_per_step`` k: a steady step runs its k frames through every
convolution, the LSTM's input products and the projection at once (``deconv_frames``,
``lstm_frames``); latency ``delay + (k - 1) hop``.
"""

import torch
import torch.nn.functional as F

from kdspeech.models.streaming.base import lstm_frames
from kdspeech.models.streaming.spectral import SpectralStream, causal_conv_step, deconv_frames


class CrnStream(SpectralStream):
    def __init__(self, model, sample_rate=16000, hops_per_step=1):
        super().__init__(model, model.stft, sample_rate, hops_per_step,
                         channels=",".join(str(b.conv.out_channels) for b in model.encoder))
        self.kt = model.encoder[0].time_pad + 1

    def init_net_state(self, batch):
        model = self.model
        state, size, c_in, sizes = {}, model.n_fft // 2 + 1, 1, []
        for i, block in enumerate(model.encoder):
            sizes.append(size)
            state[f"enc{i}"] = torch.zeros(batch, c_in, self.kt - 1, size)
            conv = block.conv
            size = (size - conv.kernel_size[1]) // conv.stride[1] + 1
            c_in = conv.out_channels
        for i, (block, size_in) in enumerate(zip(model.decoder, [size] + list(reversed(sizes))[:-1])):
            state[f"dec{i}"] = torch.zeros(batch, block.deconv.in_channels, block.time_kernel - 1, size_in)
        lstm = model.lstm
        state["lstm"] = torch.zeros(2, lstm.num_layers, batch, lstm.hidden_size)
        return state

    def frames(self, spec, net, m, emb, end):
        model = self.model
        mag = spec.abs()
        x = mag[:, None]  # [B, 1, n frames, F]
        new, skips, sizes = {}, [], []
        for i, block in enumerate(model.encoder):
            sizes.append(x.shape[-1])
            y, new[f"enc{i}"] = causal_conv_step(block.conv, net[f"enc{i}"], x, 2)
            x = F.elu(block.norm(y))
            skips.append(x)
        b, c, n, f = x.shape
        seq = x.permute(0, 2, 1, 3).reshape(b, n, c * f)
        y, h, cell = lstm_frames(model.lstm, seq, net["lstm"][0], net["lstm"][1])
        new["lstm"] = torch.stack([h, cell])
        x = model.project(y).reshape(b, n, c, f).permute(0, 2, 1, 3)
        for i, (block, skip, size) in enumerate(zip(model.decoder, reversed(skips), reversed(sizes))):
            inp = torch.cat([net[f"dec{i}"], torch.cat([x, skip], 1)], 2)
            y = deconv_frames(block.deconv, inp, 2, freq_size=size)
            x = F.softplus(y) if block.norm is None else F.elu(block.norm(y))
            new[f"dec{i}"] = inp[:, :, n:]
        gain = x[:, 0] / mag.clamp_min(1e-8)
        return spec * gain, new
