"""Streaming DCCRN / DCCRN-CL / pDCCRN (``kdspeech.models.dccrn``): layers on [B, 2C, freq, time].

Every convolution of the model is causal in time (there is no look-ahead option) and the complex
LSTMs are unidirectional, so it always streams.  Zero-padded STFT: delay ``(lag - 1) hop + n_fft/2``
(456 samples = 28.5 ms at the defaults n_fft 512, hop 100).  With ``emb_dim`` > 0 (pDCCRN, Serre et
al.'s baseline) the stream takes ``enroll_emb [B, emb_dim]``, fixed, or per step (``step(..., emb=)``,
the on-the-fly refinement).  State: per (transposed) convolution the last ``kernel_time - 1`` input
frames, the LSTMs' (h, c) of the real and imaginary parts.  A transposed convolution computes only
the output frame the stream keeps, as a matrix product (``deconv_frames``).  ``hops_per_step``
k: a steady step runs its k frames through every (transposed) convolution and the LSTMs' input
products at once (``deconv_frames``, ``lstm_frames``; a frame-wise ``emb`` serves the step's k
frames); latency ``delay + (k - 1) hop``.
"""

from functools import partial

import torch

from kdspeech.models.streaming.base import check_emb, lstm_frames, pick_emb
from kdspeech.models.streaming.spectral import SpectralStream, deconv_frames


class DccrnStream(SpectralStream):
    def __init__(self, model, enroll_emb=None, sample_rate=16000, frame_wise=False, hops_per_step=1):
        super().__init__(model, model.stft, sample_rate, hops_per_step, win=model.stft.win_length,
                         channels=",".join(str(2 * layer[0].real.out_channels) for layer in model.encoder),
                         emb_dim=model.emb_dim, masking=model.masking)
        self.enroll_emb = check_emb(self.name, model.emb_dim, enroll_emb, frame_wise)
        self.kt = model.encoder[0][0].real.kernel_size[1]

    def init_net_state(self, batch):
        model = self.model
        state, size, c_in, sizes = {}, model.stft.n_fft // 2, 2, []
        for i, layer in enumerate(model.encoder):
            conv = layer[0].real
            sizes.append(size)
            state[f"enc{i}"] = torch.zeros(batch, c_in, size, self.kt - 1)
            size = (size + 2 * conv.padding[0] - conv.kernel_size[0]) // conv.stride[0] + 1
            c_in = 2 * conv.out_channels
        for i, (layer, size_in) in enumerate(zip(model.decoder, [size] + list(reversed(sizes))[:-1])):
            deconv = layer[0] if isinstance(layer, torch.nn.Sequential) else layer
            state[f"dec{i}"] = torch.zeros(batch, 2 * deconv.real.in_channels, size_in, self.kt - 1)
        for i, layer in enumerate(model.lstm):
            state[f"lstm{i}"] = torch.zeros(4, 1, 2 * batch, layer.real.hidden_size)  # (h, c) of L_r, L_i
        return state

    @staticmethod
    def _lstm_step(layer, x, hc):
        xr, xi = torch.chunk(x, 2, -1)
        both = torch.cat([xr, xi], 0)
        yr, hr, cr = lstm_frames(layer.real, both, hc[0], hc[1])
        yi, hi, ci = lstm_frames(layer.imag, both, hc[2], hc[3])
        rr, ri = torch.chunk(yr, 2, 0)
        ir, ii = torch.chunk(yi, 2, 0)
        out_r, out_i = rr - ii, ri + ir
        if layer.proj is not None:
            out_r, out_i = layer.proj_r(out_r), layer.proj_i(out_i)
        return torch.cat([out_r, out_i], -1), torch.stack([hr, cr, hi, ci])

    def frames(self, spec, net, m, emb, end):
        from kdspeech.models.complex_nn import _apply_pair, complex_cat
        model = self.model
        x = torch.stack([spec.real[..., 1:], spec.imag[..., 1:]], 1).transpose(2, 3)  # [B, 2, F-1, n]
        n = x.shape[-1]
        new, skips = {}, []
        for i, layer in enumerate(model.encoder):
            conv = layer[0]
            inp = torch.cat([net[f"enc{i}"], x], -1)
            x = layer[2](layer[1](_apply_pair(conv.real, conv.imag, inp)))
            new[f"enc{i}"] = inp[..., n:]
            skips.append(x)
        b, c, f, _ = x.shape
        seq = x.permute(0, 3, 1, 2).reshape(b, n, c * f)
        if model.emb_dim:
            speaker = pick_emb(self, emb, b, n).to(seq.dtype)
            real, imag = seq.chunk(2, -1)
            seq = torch.cat([real, speaker, imag, speaker], -1)
        for i, layer in enumerate(model.lstm):
            seq, new[f"lstm{i}"] = self._lstm_step(layer, seq, net[f"lstm{i}"])
        x = seq.reshape(b, n, c, f).permute(0, 2, 3, 1)
        for i, (layer, skip) in enumerate(zip(model.decoder, reversed(skips))):
            seqential = isinstance(layer, torch.nn.Sequential)
            deconv = layer[0] if seqential else layer
            inp = torch.cat([net[f"dec{i}"], complex_cat([x, skip])], -1)
            x = _apply_pair(partial(deconv_frames, deconv.real, time_axis=3),
                            partial(deconv_frames, deconv.imag, time_axis=3), inp)
            if seqential:
                x = layer[2](layer[1](x))
            new[f"dec{i}"] = inp[..., n:]
        mask = torch.complex(x[:, 0].transpose(1, 2), x[:, 1].transpose(1, 2))       # [B, n, F-1]
        mask = torch.cat([torch.zeros_like(mask[..., :1]), mask], -1)
        if model.masking == "E":
            mag = mask.abs()
            est = spec * (torch.tanh(mag) * mask / (mag + 1e-8))
        elif model.masking == "C":
            est = spec * mask
        else:
            est = torch.complex(spec.real * mask.real, spec.imag * mask.imag)
        return est, new
