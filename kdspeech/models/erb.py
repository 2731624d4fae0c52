"""The rectangular ERB filterbank of DeepFilterNet (libDF's ``erb_fb``), for ``pdfnet2``.

Bands: the ERB-rate scale ``erb(f) = 9.265 ln(1 + f / (24.7 x 9.265))`` (and its inverse) is cut into
``bands`` equal steps from 0 Hz to Nyquist; band i ends at the bin ``round(erb2freq((i + 1) step) /
(sr / n_fft))``.  A band narrower than ``min_bins`` gets ``min_bins`` bins and the bins it borrowed are
taken from the following bands, the last band also takes the Nyquist bin, and if the forced widths
overshoot the ``n_fft / 2 + 1`` bins the last band gives the excess back.  The bands are contiguous
and cover every bin exactly once (a partition of the bins).  The arithmetic is float32 with rounding
half away from zero, as libDF's Rust code.  At 16 kHz, n_fft 320 (50 Hz bins), 24 bands: widths
2 x 12, 3, 5, 6, 7, 8, 10, 10, 13, 15, 17, 19, 24 (161 bins; the first 12 bands are forced to 2).
At 48 kHz, n_fft 960, 32 bands (DeepFilterNet2) the widths end 31, 37, 42, 50, 56, 67.

Matrices (``erb_filterbank``):

* ``forward`` ``[n_fft/2 + 1, bands]``: column b averages the bins of band b (entries 1 / width on the
  band, 0 elsewhere; each column sums to 1), so ``power @ forward`` is the mean power per band (libDF's
  ``compute_band_corr``);
* ``inverse`` ``[bands, n_fft/2 + 1]``: 0/1, each bin takes its band's value (``apply_interp_band_gain``);
  every bin (column) has exactly one 1, so a constant gain g is g on every bin (partition of unity),
  and ``inverse`` after ``forward`` gives back any band-constant vector.
"""

import numpy as np
import torch

from kdspeech.errors import KdError


def freq2erb(freq_hz):
    """ERB-rate of a frequency (libDF's ``freq2erb``)."""
    return 9.265 * np.log1p(np.asarray(freq_hz, np.float32) / np.float32(24.7 * 9.265))


def erb2freq(erb):
    """Frequency of an ERB-rate (the inverse of ``freq2erb``)."""
    return np.float32(24.7 * 9.265) * (np.exp(np.asarray(erb, np.float32) / np.float32(9.265)) - 1)


def _round_half_up(x):
    return int(np.floor(np.float32(x) + np.float32(0.5)))


def erb_widths(sr, n_fft, bands, min_bins=2):
    """Bins per band, ``bands`` integers summing to ``n_fft // 2 + 1`` (see the module docstring)."""
    sr, n_fft, bands, min_bins = int(sr), int(n_fft), int(bands), int(min_bins)
    num_bins = n_fft // 2 + 1
    if bands < 1 or min_bins < 1 or bands * min_bins > num_bins:
        raise KdError(f"erb: {bands} bands of at least {min_bins} bins do not fit in the {num_bins} bins "
                      f"of n_fft {n_fft}")
    freq_width = np.float32(sr) / np.float32(n_fft)
    erb_low, erb_high = freq2erb(0.0), freq2erb(sr // 2)
    step = (erb_high - erb_low) / np.float32(bands)
    widths, prev, over = [], 0, 0
    for i in range(1, bands + 1):
        edge = _round_half_up(erb2freq(erb_low + np.float32(i) * step) / freq_width)
        width = edge - prev - over
        if width < min_bins:
            over = min_bins - width  # bins borrowed from the following bands
            width = min_bins
        else:
            over = 0
        widths.append(width)
        prev = edge
    widths[-1] += 1  # the Nyquist bin
    excess = sum(widths) - num_bins
    if excess > 0:
        widths[-1] -= excess
    if sum(widths) != num_bins or min(widths) < 1:
        raise KdError(f"erb: {bands} bands do not partition the {num_bins} bins of n_fft {n_fft} "
                      f"(widths {widths}); use fewer bands or a smaller min_bins")
    return widths


def erb_filterbank(widths, dtype=torch.float32):
    """``(forward [bins, bands], inverse [bands, bins])`` matrices of a list of band widths."""
    num_bins, bands = int(sum(widths)), len(widths)
    forward = torch.zeros(num_bins, bands, dtype=dtype)
    inverse = torch.zeros(bands, num_bins, dtype=dtype)
    start = 0
    for b, width in enumerate(widths):
        forward[start:start + width, b] = 1.0 / width
        inverse[b, start:start + width] = 1.0
        start += width
    return forward, inverse
