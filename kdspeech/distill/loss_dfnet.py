"""Loss terms of DeepFilterNet2-style personalized enhancement (pDeepFilterNet2, pDCCRN).

All three compare the model's enhanced waveform (``student_key``; default the primary output, the
``out`` of the personalized enhancers) with the clean target ``batch["target"]``, both ``[B, T]``,
through STFTs computed here: a periodic Hann window of ``win_ms`` (n_fft = the window unless ``n_fft``
is given), hop ``hop_ms``, frames centred with zero padding of n_fft/2 on both sides (torch.stft
``center=True, pad_mode="constant"``), scaled by 1/sqrt(n_fft) (``normalized``, as DeepFilterNet's loss
STFT).  Compression with exponent c: |X|^c and the compressed complex spectrum |X|^c e^{j angle X},
computed as ``(|X|^2 + eps^2)^(c/2)`` and ``X (|X|^2 + eps^2)^((c-1)/2)`` so that the gradient stays
finite at |X| = 0.  "mean" is over examples, frames and frequency bins.

* ``df_spectral`` (DeepFilterNet2's spectral loss, its code's SpectralLoss): 20 ms / 10 ms at 16 kHz,

      L = factor_magnitude mean (|Y|^c - |S|^c)^2
        + factor_complex   mean over real and imaginary parts of (Y_c - S_c)^2

  (the complex term averages the 2 x bins real numbers, i.e. half the mean squared complex error).
* ``mr_stft`` (its MultiResSpecLoss): the same two terms, summed over windows of ``windows_ms``
  (5, 10, 20, 40 ms), each with hop = window / 4.
* ``over_suppression`` (pDeepFilterNet2's L_OS, Eskimez et al. 2022's asymmetric loss): only the
  bins where the estimate's compressed magnitude is below the clean one are penalised,
  ``L = mean relu(|S|^c - |Y|^c)^2`` (20 ms / 10 ms).

pDeepFilterNet2 (Serre et al.; lambdas of their section III-B, c = 0.3)::

    loss:
      - {name: df_spectral, weight: 1000}
      - {name: mr_stft, weight: 500}
      - {name: over_suppression, weight: 500}

pDCCRN (Eskimez et al., "Personalized speech enhancement: new models and comprehensive evaluation"):
the power-law compressed phase-aware loss alpha mean(|S|^p - |Y|^p)^2 + (1 - alpha) mean |S_c - Y_c|^2
(p = 0.3, the complex term per bin) plus beta times the asymmetric loss.  Per bin |d|^2 is twice the
mean over real and imaginary parts, so it is ``df_spectral`` with ``factor_magnitude: alpha,
factor_complex: 2 (1 - alpha)`` (alpha = 0.5: 0.5 and 1.0) and ``over_suppression`` with weight beta.
"""

import torch

from kdspeech.distill.losses import LOSSES, LossTerm
from kdspeech.errors import KdError

EPS = 1e-12


def stft(wav, win, hop, n_fft=None, normalized=True):
    """Complex STFT ``[B, n_fft/2 + 1, 1 + T // hop]`` of ``[B, T]`` (see the module docstring)."""
    n_fft = int(n_fft or win)
    if not 0 < win <= n_fft or hop <= 0:
        raise KdError(f"stft: window {win}, hop {hop} and n_fft {n_fft} must satisfy 0 < window <= n_fft, "
                      "hop > 0")
    window = torch.hann_window(int(win), periodic=True, device=wav.device, dtype=wav.dtype)
    return torch.stft(wav, n_fft, hop_length=int(hop), win_length=int(win), window=window, center=True,
                      pad_mode="constant", normalized=bool(normalized), return_complex=True)


def compress(spec, c, eps=EPS):
    """``(|X|^c, |X|^c e^{j angle X})`` of a complex spectrum."""
    power = spec.real.pow(2) + spec.imag.pow(2) + eps * eps
    return power.pow(c / 2), spec * power.pow((c - 1) / 2)


def spectral_terms(estimate, target, c, eps=EPS):
    """``(mean (|Y|^c - |S|^c)^2, mean over real/imag of (Y_c - S_c)^2)`` of two complex spectra."""
    mag_y, y_c = compress(estimate, c, eps)
    mag_s, s_c = compress(target, c, eps)
    magnitude = (mag_y - mag_s).pow(2).mean()
    complex_ = torch.view_as_real(y_c - s_c).pow(2).mean()
    return magnitude, complex_


class WaveformSpectralTerm(LossTerm):
    """Base: the student's waveform and the target, checked, as ``[B, T]`` float tensors."""

    reads_target = True
    time_dim = -1

    def __init__(self, c=0.3, sr=16000, normalized=True, eps=EPS, **keys):
        super().__init__(**keys)
        if not 0 < float(c) <= 1:
            raise KdError(f"{self.label}: compression exponent c must be in (0, 1], not {c}")
        self.c, self.sr, self.normalized, self.eps = float(c), int(sr), bool(normalized), float(eps)

    @property
    def label(self):
        return getattr(type(self), "name", type(self).__name__)

    def samples(self, ms, what):
        n = int(round(float(ms) * self.sr / 1000))
        if n < 1:
            raise KdError(f"{self.label}: {what} of {ms} ms is less than one sample at {self.sr} Hz")
        return n

    def pair(self, out, batch):
        y, s = self.student(out), self.target(batch)
        if y.shape != s.shape:
            raise KdError(f"{self.label}: enhanced output {list(y.shape)} and target {list(s.shape)} differ")
        y, s = y.reshape(-1, y.shape[-1]).float(), s.reshape(-1, s.shape[-1]).float()
        return y, s


@LOSSES.register("df_spectral")
class DfSpectral(WaveformSpectralTerm):
    """DeepFilterNet2's compressed spectral loss (module docstring), 20 ms window and 10 ms hop."""

    name = "df_spectral"

    def __init__(self, factor_magnitude=1.0, factor_complex=1.0, win_ms=20.0, hop_ms=10.0, n_fft=None,
                 **options):
        super().__init__(**options)
        self.f_m, self.f_c = float(factor_magnitude), float(factor_complex)
        self.win, self.hop = self.samples(win_ms, "window"), self.samples(hop_ms, "hop")
        self.n_fft = int(n_fft) if n_fft else self.win

    def forward(self, out, batch, teacher_outs):
        y, s = self.pair(out, batch)
        spec = [stft(x, self.win, self.hop, self.n_fft, self.normalized) for x in (y, s)]
        magnitude, complex_ = spectral_terms(*spec, self.c, self.eps)
        return self.f_m * magnitude + self.f_c * complex_


@LOSSES.register("mr_stft")
class MultiResolutionStft(WaveformSpectralTerm):
    """DeepFilterNet2's multi-resolution spectral loss: ``df_spectral``'s two terms summed over STFTs
    with windows ``windows_ms`` (n_fft = window) and hop = window / 4."""

    name = "mr_stft"

    def __init__(self, windows_ms=(5, 10, 20, 40), factor_magnitude=1.0, factor_complex=1.0, **options):
        super().__init__(**options)
        if not windows_ms:
            raise KdError("mr_stft: windows_ms must list at least one window length (ms)")
        self.wins = [self.samples(ms, "window") for ms in windows_ms]
        for win in self.wins:
            if win < 4:
                raise KdError(f"mr_stft: a window of {win} samples is too short for a hop of window / 4")
        self.f_m, self.f_c = float(factor_magnitude), float(factor_complex)

    def forward(self, out, batch, teacher_outs):
        y, s = self.pair(out, batch)
        total = y.new_zeros(())
        for win in self.wins:
            spec = [stft(x, win, win // 4, win, self.normalized) for x in (y, s)]
            magnitude, complex_ = spectral_terms(*spec, self.c, self.eps)
            total = total + self.f_m * magnitude + self.f_c * complex_
        return total


@LOSSES.register("over_suppression")
class OverSuppression(WaveformSpectralTerm):
    """Asymmetric loss against over-suppression: ``mean relu(|S|^c - |Y|^c)^2`` (20 ms / 10 ms)."""

    name = "over_suppression"

    def __init__(self, win_ms=20.0, hop_ms=10.0, n_fft=None, **options):
        super().__init__(**options)
        self.win, self.hop = self.samples(win_ms, "window"), self.samples(hop_ms, "hop")
        self.n_fft = int(n_fft) if n_fft else self.win

    def forward(self, out, batch, teacher_outs):
        y, s = self.pair(out, batch)
        mag_y, _ = compress(stft(y, self.win, self.hop, self.n_fft, self.normalized), self.c, self.eps)
        mag_s, _ = compress(stft(s, self.win, self.hop, self.n_fft, self.normalized), self.c, self.eps)
        return torch.relu(mag_s - mag_y).pow(2).mean()
