"""Front-ends as torch modules (no I/O): log-mel spectrogram and MFCC with deltas.

Both map ``[B, T]`` (or ``[T]``) float waveforms to ``[B, F, frames]`` (``[F, frames]``), with
``frames = 1 + T // hop`` (centred frames).  Each item is computed on its own: unlike
``torchaudio.transforms.MFCC`` (whose ``top_db`` clamp is taken over the whole batch), the features of
an utterance do not depend on what else is in the batch.

Defaults for 16 kHz follow PANNs' 32 ms / 10 ms framing scaled to 16 kHz: 512-point FFT, hop 160,
64 mel bands from 50 Hz to 8 kHz, Slaney mel scale and area normalisation (librosa's defaults, as
PANNs uses).
"""

import torch
import torchaudio


class LogMel(torch.nn.Module):
    """Natural log of the mel power spectrogram, ``log(mel + eps)`` (``win_length``: a Hann window
    shorter than ``n_fft``, zero-padded to it; default ``n_fft``)."""

    def __init__(self, sr=16000, n_fft=512, hop=160, n_mels=64, fmin=50.0, fmax=None,
                 eps=1e-10, mel_scale="slaney", win_length=None):
        super().__init__()
        self.sr, self.hop, self.n_mels, self.eps = sr, hop, n_mels, eps
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sr, n_fft=n_fft, win_length=win_length or n_fft, hop_length=hop, f_min=fmin,
            f_max=fmax if fmax is not None else sr / 2, n_mels=n_mels, power=2.0, center=True,
            pad_mode="reflect", norm="slaney" if mel_scale == "slaney" else None,
            mel_scale=mel_scale)

    def forward(self, wav):
        if wav.dim() not in (1, 2):
            raise ValueError(f"LogMel expects [B, T] or [T] audio, got {tuple(wav.shape)}")
        return torch.log(self.mel(wav.float()) + self.eps)


class MFCC(torch.nn.Module):
    """MFCCs (DCT-II of a log-mel spectrogram), optionally without C0 and with deltas appended.

    Defaults: 28 cepstra, C0 dropped (it mostly tracks loudness) -> 27, plus their deltas -> 54.
    """

    def __init__(self, sr=16000, n_mfcc=28, drop_c0=True, deltas=True, n_mels=40, n_fft=512,
                 hop=160, fmin=20.0, fmax=None, delta_win=5):
        super().__init__()
        if n_mfcc > n_mels:
            raise ValueError(f"n_mfcc={n_mfcc} cannot exceed n_mels={n_mels}")
        self.logmel = LogMel(sr=sr, n_fft=n_fft, hop=hop, n_mels=n_mels, fmin=fmin, fmax=fmax,
                             eps=1e-6)
        # create_dct returns [n_mels, n_mfcc]; store it transposed for [B, n_mels, frames] input.
        self.register_buffer("dct", torchaudio.functional.create_dct(n_mfcc, n_mels, "ortho").T)
        self.drop_c0, self.deltas, self.delta_win = drop_c0, deltas, delta_win
        self.dim = (n_mfcc - int(drop_c0)) * (2 if deltas else 1)

    def forward(self, wav):
        ceps = torch.matmul(self.dct, self.logmel(wav))
        if self.drop_c0:
            ceps = ceps[..., 1:, :]
        if self.deltas:
            delta = torchaudio.functional.compute_deltas(ceps, win_length=self.delta_win)
            ceps = torch.cat([ceps, delta], dim=-2)
        return ceps
