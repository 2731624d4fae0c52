"""PSM-BiLSTM: a bidirectional LSTM mask estimator trained with the phase-sensitive spectrum
approximation (PSA) of Erdogan, Hershey, Watanabe and Le Roux (ICASSP 2015), one of the baselines of
the SNR-based teachers-student paper (Hao et al. 2020, Table 3).

Why here: the teachers-student recipes compare their time-domain student with a frequency-domain
masking baseline; this model is waveform in, waveform out, so the enhancement task, the trainer,
``kdspeech.bin.enhance`` and scoring treat it like any other model.

Signal path (defaults = paper size):

- STFT (``kdspeech.models.spectral.Stft``): ``n_fft`` 512, ``win_length`` 400, ``hop`` 160 (25 ms / 10 ms
  at 16 kHz), periodic Hann window, centred frames: a T-sample input has ``1 + T // hop`` frames.
- Features: log(|Y| + eps) of the noisy STFT, normalised per utterance and frequency bin to zero mean
  and unit variance over its frames (the input normalisation that mask estimators of this kind use).
- ``layers`` (2) bidirectional LSTM layers of ``hidden`` (256) units per direction, then a linear map
  of the 2 x hidden outputs to one value per frequency bin and a sigmoid: a real mask m in (0, 1).
- Estimate: m |Y| with the noisy phase, inverted with the iSTFT to the input's length.

Training: the ``psa`` loss term (``kdspeech/distill/loss_enh.py``) compares m |Y| with the
phase-sensitive target |S| cos(theta_S - theta_Y), truncated to [0, |Y|] (the range a sigmoid mask
can reach), which is |m Y - S|^2 up to a term the network cannot change.  Erdogan et al. fed
log-mel filterbank features; this model uses the log-magnitude STFT (one front end for every
baseline here) and otherwise keeps the network and the cost.

forward(wav [B, T] or [B, 1, T]) -> {"wav": enhanced waveform of the input's shape,
"mask": [B, n_fft/2+1, frames] in (0, 1)}.  ``kdspeech.bin.deploy`` exports the network between STFT
and iSTFT (``MagnitudeCore``), the STFT staying on the host.

Size: 2,763,521 parameters at the defaults (257 bins, 2 x 256 per direction); the CPU recipe uses
``hidden: 64`` (297,857).
"""

import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS
from kdspeech.models.spectral import MagnitudeCore, SpectralExport, Stft, as_batch


def normalise(feats, eps=1e-5):
    """Zero mean, unit variance of ``[B, F, N]`` features over their N frames, per bin."""
    mean = feats.mean(-1, keepdim=True)
    std = feats.std(-1, keepdim=True, unbiased=False)
    return (feats - mean) / (std + eps)


@MODELS.register("psm_blstm")
class PsmBlstm(SpectralExport, nn.Module):
    core_class = MagnitudeCore   # deploy: the network between STFT and iSTFT

    def __init__(self, n_fft=512, win_length=400, hop=160, window="hann", layers=2, hidden=256,
                 dropout=0.0, eps=1e-8):
        super().__init__()
        if int(layers) < 1 or int(hidden) < 1:
            raise KdError(f"psm_blstm: layers and hidden must be >= 1 (got {layers}, {hidden})")
        self.stft = Stft(n_fft, win_length, hop, window)
        self.eps = float(eps)
        bins = self.stft.n_fft // 2 + 1
        self.blstm = nn.LSTM(bins, int(hidden), num_layers=int(layers), batch_first=True,
                             bidirectional=True, dropout=float(dropout) if int(layers) > 1 else 0.0)
        self.mask_layer = nn.Linear(2 * int(hidden), bins)
        self.emb_dim = 0

    def magnitude_gain(self, mag):
        """``[B, F, N]`` noisy magnitude -> ``[B, F, N]`` mask in (0, 1)."""
        feats = normalise(torch.log(mag + self.eps))
        hidden, _ = self.blstm(feats.transpose(1, 2))          # [B, N, 2H]
        return torch.sigmoid(self.mask_layer(hidden)).transpose(1, 2)

    def forward(self, wav):
        x, unsqueeze = as_batch(wav)
        noisy = self.stft(x)                                     # [B, F, N] complex
        mask = self.magnitude_gain(noisy.abs())
        out = self.stft.inverse(noisy * mask, x.shape[-1])
        return {"wav": out[:, None] if unsqueeze else out, "mask": mask}
