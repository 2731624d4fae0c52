"""A classical enhancer without learned parameters: a decision-directed Wiener filter.

``wiener`` (Scalart & Vieira Filho 1996, decision-directed a priori SNR of Ephraim & Malah 1984):

- STFT (``n_fft`` 512, Hann window 400, hop 100, as DCCRN's);
- noise power per bin: the mean power of the ``noise_frames`` quietest frames of the utterance
  (frames ranked by total energy: a minimum-statistics estimate over the whole utterance, not
  just its first frames, which in these mixtures may already hold speech);
- a posteriori SNR ``g = |Y|^2 / N``; a priori SNR
  ``xi_t = alpha |X_{t-1}|^2 / N + (1 - alpha) max(g - 1, 0)`` with ``alpha`` 0.98;
- gain ``G = xi / (1 + xi)`` floored at ``gain_floor`` (-20 dB by default), X = G Y; inverse STFT.

It has no parameters: a recipe makes its model file with ``python -m kdspeech.bin.make_classical
--model wiener --out exp/wiener`` and enhances with it like a trained system.  The frame loop is a
Python loop over frames (about 160 per second: cheap next to the ASR decoders).
"""

import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS


@MODELS.register("wiener")
class WienerFilter(nn.Module):
    def __init__(self, n_fft=512, win_length=400, hop=100, alpha=0.98, gain_floor_db=-20.0,
                 noise_frames=0.1):
        super().__init__()
        if not 0 < hop <= win_length <= n_fft:
            raise KdError(f"wiener: STFT needs 0 < hop <= win_length <= n_fft (got {hop}, {win_length}, {n_fft})")
        if not 0.0 <= alpha < 1.0 or not 0.0 < noise_frames <= 1.0:
            raise KdError(f"wiener: alpha must be in [0, 1) and noise_frames in (0, 1] (got {alpha}, {noise_frames})")
        self.n_fft, self.win_length, self.hop = int(n_fft), int(win_length), int(hop)
        self.alpha, self.noise_frames = float(alpha), float(noise_frames)
        self.floor = 10.0 ** (float(gain_floor_db) / 20.0)
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    def forward(self, wav):
        squeeze = wav.dim() == 1
        x = wav[None] if squeeze else wav
        if x.dim() != 2:
            raise KdError(f"wiener: expected a waveform [B, T], got shape {list(wav.shape)}")
        spec = torch.stft(x, self.n_fft, self.hop, self.win_length, window=self.window, center=True,
                          return_complex=True)                      # [B, F, N]
        pw = spec.real.pow(2) + spec.imag.pow(2)
        frames = pw.shape[-1]
        k = max(1, int(round(self.noise_frames * frames)))
        order = pw.sum(1).argsort(dim=-1)[:, :k]                     # quietest frames
        noise = torch.gather(pw, 2, order[:, None, :].expand(-1, pw.shape[1], -1)).mean(-1) + 1e-10
        post = pw / noise[..., None]
        gains = []
        prev = torch.zeros_like(noise)
        for t in range(frames):
            xi = self.alpha * prev / noise + (1 - self.alpha) * (post[..., t] - 1).clamp(min=0)
            gain = (xi / (1 + xi)).clamp(min=self.floor)
            prev = gain.pow(2) * pw[..., t]
            gains.append(gain)
        out = torch.istft(spec * torch.stack(gains, -1), self.n_fft, self.hop, self.win_length,
                          window=self.window, center=True, length=x.shape[-1])
        return out[0] if squeeze else out
