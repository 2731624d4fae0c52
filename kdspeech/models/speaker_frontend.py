"""Front ends of the speaker encoders (torch modules, no I/O): waveform ``[B, T]`` -> ``[B, F, frames]``.

* ``MfccDeltas``: TinyECAPA's input (Serre et al., section III-A).  ``n_mfcc`` cepstra C0..C(n-1) of
  a log-mel spectrogram (``kdspeech.features.LogMel``); the static part drops C0, the delta and
  delta-delta parts keep all ``n_mfcc``: ``(n_mfcc - 1) + 2 n_mfcc = 3 n_mfcc - 1`` values per frame,
  80 for the paper's 27 (its ``Y in R^{N x (3C-1) x T}``; dropping C0 from the deltas too would give 78).
* ``TaoRuijieFbank``: the front end of TaoRuijie/ECAPA-TDNN: pre-emphasis 0.97, 80-band mel power
  spectrum (512-point FFT, 25 ms Hamming window, 10 ms hop, 20-7600 Hz), ``log(x + 1e-6)``, minus the
  mean over time.  Its sub-module names (``0.flipped_filter``, ``1.spectrogram.window``,
  ``1.mel_scale.fb``) are those of that repository's ``torchfbank``, so its checkpoints load whole.
* ``SpeechBrainFbank``: an 80-band fbank in the manner of SpeechBrain's ``Fbank`` + sentence mean
  normalisation (25 ms Hamming window, 10 ms hop, 0-8000 Hz, 10 log10 power clamped to 80 dB below
  the utterance's maximum).  SpeechBrain's ``embedding_model.ckpt`` holds no front end; this one is
  close to SpeechBrain's but not bit-exact (its own triangular filters), so an imported model's
  embeddings are near, not equal, to SpeechBrain's own.

Every front end also accepts ``[T]``.  Frames are centred: ``1 + T // 160`` per utterance.
"""

import torch
import torch.nn.functional as F
import torchaudio

from kdspeech.features import LogMel

HOP = 160


def _batch(wav, name):
    if wav.dim() == 1:
        return wav.unsqueeze(0), True
    if wav.dim() != 2:
        raise ValueError(f"{name} expects a waveform [B, T] or [T], got {tuple(wav.shape)}")
    return wav, False


class MfccDeltas(torch.nn.Module):
    """``n_mfcc`` MFCCs without C0, plus delta and delta-delta of all ``n_mfcc``: ``3 n_mfcc - 1``."""

    def __init__(self, sr=16000, n_mfcc=27, n_mels=40, n_fft=400, hop=HOP, fmin=20.0, fmax=7600.0,
                 delta_win=5, cmn=False):
        super().__init__()
        if n_mfcc > n_mels:
            raise ValueError(f"n_mfcc={n_mfcc} cannot exceed n_mels={n_mels}")
        self.logmel = LogMel(sr=sr, n_fft=n_fft, hop=hop, n_mels=n_mels, fmin=fmin, fmax=fmax, eps=1e-6)
        self.register_buffer("dct", torchaudio.functional.create_dct(n_mfcc, n_mels, "ortho").T)
        self.delta_win, self.cmn, self.hop = int(delta_win), bool(cmn), int(hop)
        self.dim = 3 * n_mfcc - 1

    def forward(self, wav):
        wav, single = _batch(wav, "MfccDeltas")
        ceps = torch.matmul(self.dct, self.logmel(wav))                    # [B, n_mfcc, frames]
        if self.cmn:
            ceps = ceps - ceps.mean(dim=-1, keepdim=True)
        d1 = deltas(ceps, self.delta_win)
        d2 = deltas(d1, self.delta_win)
        feats = torch.cat([ceps[:, 1:], d1, d2], dim=1)
        return feats[0] if single else feats


def deltas(x, win_length=5):
    """HTK regression deltas over the last axis, edges replicated (``torchaudio``'s ``compute_deltas``),
    written with slices so that it exports to ONNX: ``d_t = sum_n n (x_{t+n} - x_{t-n}) / (2 sum_n n^2)``."""
    n = (int(win_length) - 1) // 2
    if n < 1:
        raise ValueError(f"delta window must be >= 3, not {win_length}")
    length = x.shape[-1]
    padded = torch.cat([x[..., :1].expand(*x.shape[:-1], n), x, x[..., -1:].expand(*x.shape[:-1], n)], dim=-1)
    out = sum(k * (padded[..., n + k:n + k + length] - padded[..., n - k:n - k + length]) for k in range(1, n + 1))
    return out / (2 * sum(k * k for k in range(1, n + 1)))


class PreEmphasis(torch.nn.Module):
    """``y[n] = x[n] - coef x[n-1]``, with ``x[-1]`` taken as ``x[1]`` (reflection), as TaoRuijie's."""

    def __init__(self, coef=0.97):
        super().__init__()
        self.register_buffer("flipped_filter", torch.tensor([[[-coef, 1.0]]]))

    def forward(self, wav):
        return F.conv1d(F.pad(wav.unsqueeze(1), (1, 0), mode="reflect"), self.flipped_filter).squeeze(1)


class TaoRuijieFbank(torch.nn.Sequential):
    """TaoRuijie/ECAPA-TDNN's ``torchfbank`` plus its log and mean normalisation (no SpecAugment)."""

    def __init__(self, sr=16000, n_mels=80):
        super().__init__(
            PreEmphasis(0.97),
            torchaudio.transforms.MelSpectrogram(sample_rate=sr, n_fft=512, win_length=400,
                                                 hop_length=HOP, f_min=20, f_max=7600,
                                                 window_fn=torch.hamming_window, n_mels=n_mels))
        self.hop = HOP

    def forward(self, wav):
        wav, single = _batch(wav, "TaoRuijieFbank")
        with torch.no_grad():
            x = torch.log(super().forward(wav.float()) + 1e-6)
            x = x - x.mean(dim=-1, keepdim=True)
        return x[0] if single else x


class SpeechBrainFbank(torch.nn.Module):
    """80-band log fbank (dB) with sentence mean normalisation, in the manner of SpeechBrain's."""

    def __init__(self, sr=16000, n_mels=80, top_db=80.0):
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sr, n_fft=400, win_length=400, hop_length=HOP, f_min=0.0, f_max=sr / 2,
            window_fn=torch.hamming_window, n_mels=n_mels, pad_mode="constant", mel_scale="htk")
        self.top_db, self.hop = float(top_db), HOP

    def forward(self, wav):
        wav, single = _batch(wav, "SpeechBrainFbank")
        with torch.no_grad():
            x = 10.0 * torch.log10(self.mel(wav.float()).clamp(min=1e-10))
            x = torch.maximum(x, x.amax(dim=(-2, -1), keepdim=True) - self.top_db)
            x = x - x.mean(dim=-1, keepdim=True)
        return x[0] if single else x


def frames_of(num_samples, hop=HOP):
    """Centred frames of a waveform of ``num_samples``: ``1 + num_samples // hop``."""
    return 1 + int(num_samples) // int(hop)
