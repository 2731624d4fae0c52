"""Loizou's composite measures CSIG, CBAK, COVL and their parts: LLR, WSS and segmental SNR.

Definitions of Hu & Loizou, "Evaluation of objective quality measures for speech enhancement"
(IEEE TASLP 2008) and of the MATLAB code of Loizou's book "Speech Enhancement: Theory and
Practice" (``composite.m``, ``llr``, ``wss``, ``snr``); no maintained package implements them.

Analysis: 30 ms Hann frames (``0.5 - 0.5 cos(2 pi n / (L + 1))``, n = 1..L), hop of a quarter frame,
``floor((N - L) / hop)`` frames.  Per frame:

- LLR: ``log(a_est R_ref a_est' / a_ref R_ref a_ref')`` with LPC polynomials ``a`` (order 10 below
  10 kHz, else 16; autocorrelation method, Levinson-Durbin) and ``R_ref`` the Toeplitz
  autocorrelation matrix of the reference frame;
- WSS: Klatt's weighted spectral slope distance over 25 critical bands (Gaussian-shaped filters on a
  ``2^ceil(log2(2L))``-point power spectrum, band energies in dB floored at -100 dB), weights
  ``K_max / (K_max + dB_max - E)`` times ``K_locmax / (K_locmax + E_peak - E)`` averaged between the
  two signals, K_max = 20, K_locmax = 1;
- segSNR: ``10 log10(|ref|^2 / |ref - est|^2)`` of the windowed frames, clamped to [-10, 35] dB.

LLR and WSS keep the mean of the lowest 95 % of the frame values (the worst 5 % are dropped, as in
``composite.m``); segSNR is the plain mean.  The standalone ``llr`` of the book also clamps each
frame at 2; the composite measure does not (``llr(..., clip=None)``).

PESQ: the regressions were fitted to the **raw narrow-band ITU-T P.862 score** (not MOS-LQO, not
wide-band P.862.2), which is what ``composite.m`` feeds them and what is used here: the ``pesq``
package's narrow-band P.862.1 MOS-LQO mapped back through the inverse of P.862.1's mapping
``MOS-LQO = 0.999 + 4 / (1 + exp(-1.4945 x + 4.6607))``.  Some Python ports feed wide-band MOS-LQO at
16 kHz instead, which gives different numbers.

    CSIG = 3.093 - 1.029 LLR + 0.603 PESQ - 0.009 WSS
    CBAK = 1.634 + 0.478 PESQ - 0.007 WSS + 0.063 segSNR
    COVL = 1.594 + 0.805 PESQ - 0.512 LLR - 0.007 WSS        (each clipped to [1, 5])

Signals at 8 or 16 kHz are used as they are, any other rate is resampled to 16 kHz (the book's
code accepts only these two).
"""

import logging
import math

import numpy as np

from kdspeech.metrics.enhancement import _as_pair, _is_silent, _resample

log = logging.getLogger(__name__)

FRAME_SECONDS = 0.030
TRIM = 0.95  # fraction of the best frames kept by LLR and WSS
SEG_SNR_RANGE = (-10.0, 35.0)
EPS = np.finfo(np.float64).eps

# critical bands of the WSS measure (Hz): centre frequencies and bandwidths of the book's code
BAND_CENTRES = np.array([
    50.0, 120.0, 190.0, 260.0, 330.0, 400.0, 470.0, 540.0, 617.372, 703.378, 798.717, 904.128,
    1020.38, 1148.30, 1288.72, 1442.54, 1610.70, 1794.16, 1993.93, 2211.08, 2446.71, 2701.97,
    2978.04, 3276.17, 3597.63])
BAND_WIDTHS = np.array([
    70.0, 70.0, 70.0, 70.0, 70.0, 70.0, 70.0, 77.3724, 86.0056, 95.3398, 105.411, 116.256,
    127.914, 140.423, 153.823, 168.154, 183.457, 199.776, 217.153, 235.631, 255.255, 276.072,
    298.126, 321.465, 346.136])
K_MAX, K_LOCMAX = 20.0, 1.0


def frames(x, sr):
    """``[num_frames, L]`` Hann-windowed 30 ms frames with a hop of L/4 (the book's framing)."""
    length = int(round(FRAME_SECONDS * sr))
    hop = length // 4
    count = (len(x) - length) // hop
    if count < 1:
        raise ValueError(f"{len(x)} samples at {sr} Hz is shorter than two analysis frames")
    window = 0.5 * (1.0 - np.cos(2.0 * np.pi * np.arange(1, length + 1) / (length + 1)))
    index = np.arange(count)[:, None] * hop + np.arange(length)[None, :]
    return x[index] * window


def _rate(ref, est, sr):
    ref, est = _as_pair(ref, est)
    if sr not in (8000, 16000):
        ref, est, sr = _resample(ref, sr, 16000), _resample(est, sr, 16000), 16000
    return ref, est, sr


def _trimmed_mean(values):
    values = np.sort(values)
    return float(np.mean(values[:int(round(len(values) * TRIM))]))


# --- segmental SNR ------------------------------------------------------------------------------

def segmental_snrs(ref, est, sr):
    """Per-frame SNR in dB of the windowed frames, clamped to [-10, 35] dB."""
    clean, noisy = frames(ref, sr), frames(est, sr)
    signal = np.sum(clean ** 2, axis=1)
    noise = np.sum((clean - noisy) ** 2, axis=1)
    snr = 10.0 * np.log10(signal / (noise + EPS) + EPS)
    return np.clip(snr, *SEG_SNR_RANGE)


def seg_snr(ref, est, sr):
    """Segmental SNR in dB (frames clamped to [-10, 35] dB, then averaged)."""
    ref, est, sr = _rate(ref, est, sr)
    return float(np.mean(segmental_snrs(ref, est, sr)))


# --- LLR ----------------------------------------------------------------------------------------

def autocorrelation(framed, order):
    """``[num_frames, order + 1]`` autocorrelation lags 0..order of each frame."""
    width = framed.shape[1]
    return np.stack([np.sum(framed[:, :width - k] * framed[:, k:], axis=1) for k in range(order + 1)],
                    axis=1)


def lpc(r):
    """Prediction-error polynomials ``[1, a_1..a_p]`` from autocorrelations ``r`` (Levinson-Durbin).

    ``r`` is ``[num_frames, p + 1]``; every frame is solved at once.  A frame whose prediction error
    reaches zero keeps the coefficients found so far.
    """
    count, order = r.shape[0], r.shape[1] - 1
    a = np.zeros((count, order + 1))
    a[:, 0] = 1.0
    error = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.sum(a[:, 1:i] * r[:, i - 1:0:-1], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(error > 0, -acc / error, 0.0)
        previous = a[:, 1:i].copy()
        a[:, 1:i] = previous + k[:, None] * previous[:, ::-1]
        a[:, i] = k
        error = error * (1.0 - k ** 2)
    return a


def toeplitz_form(a, r):
    """``a R a'`` per frame, ``R`` the symmetric Toeplitz matrix of the lags ``r``."""
    order = a.shape[1] - 1
    total = r[:, 0] * np.sum(a * a, axis=1)
    for k in range(1, order + 1):
        total += 2.0 * r[:, k] * np.sum(a[:, :order + 1 - k] * a[:, k:], axis=1)
    return total


def llr_frames(ref, est, sr):
    """Per-frame log-likelihood ratio (LPC order 10 below 10 kHz, else 16)."""
    order = 10 if sr < 10000 else 16
    r_ref = autocorrelation(frames(ref + EPS, sr), order)
    r_est = autocorrelation(frames(est + EPS, sr), order)
    a_ref, a_est = lpc(r_ref), lpc(r_est)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = toeplitz_form(a_est, r_ref) / toeplitz_form(a_ref, r_ref)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    ratio = np.where(ratio <= 0, 1000.0, ratio)
    return np.log(ratio)


def llr(ref, est, sr, clip=2.0):
    """Mean LLR of the best 95 % of frames; ``clip`` clamps each frame first (None: no clamp).

    ``clip=2`` is the book's standalone LLR; the composite measure uses ``clip=None``.
    """
    ref, est, sr = _rate(ref, est, sr)
    values = llr_frames(ref, est, sr)
    if clip is not None:
        values = np.minimum(values, clip)
    return _trimmed_mean(values)


# --- WSS ----------------------------------------------------------------------------------------

def critical_band_filters(sr, half_fft):
    """``[25, half_fft]`` Gaussian-shaped critical-band weights, cut below their -30 dB point."""
    nyquist = sr / 2.0
    bins = np.arange(half_fft)
    centre = np.floor(BAND_CENTRES / nyquist * half_fft)
    width = BAND_WIDTHS / nyquist * half_fft
    norm = np.log(BAND_WIDTHS[0]) - np.log(BAND_WIDTHS)
    weights = np.exp(-11.0 * ((bins[None, :] - centre[:, None]) / width[:, None]) ** 2 + norm[:, None])
    return weights * (weights > math.exp(-30.0 / (2.0 * 2.303)))


def _band_energies_db(framed, filters, n_fft):
    power = np.abs(np.fft.rfft(framed, n_fft, axis=1)[:, :n_fft // 2]) ** 2
    return 10.0 * np.log10(np.maximum(power @ filters.T, 1e-10))


def _nearest_peaks(slope, energy):
    """Energy of the nearest spectral peak of each band (the book's search, quirks included).

    A band on a rising slope looks up to where the slope stops rising and takes the energy one band
    below that point; a band on a falling slope looks down to where it last rose and takes the band
    above.  Vectorised over frames, looping over the 24 band slopes.
    """
    count, bands = slope.shape
    rising = slope > 0
    next_fall = np.empty((count, bands), dtype=int)  # first m >= i with slope <= 0, else bands
    following = np.full(count, bands)
    for i in range(bands - 1, -1, -1):
        following = np.where(~rising[:, i], i, following)
        next_fall[:, i] = following
    last_rise = np.empty((count, bands), dtype=int)  # last m <= i with slope > 0, else -1
    preceding = np.full(count, -1)
    for i in range(bands):
        preceding = np.where(rising[:, i], i, preceding)
        last_rise[:, i] = preceding
    index = np.where(rising, next_fall - 1, last_rise + 1)
    return np.take_along_axis(energy, index, axis=1)


def wss_frames(ref, est, sr):
    """Per-frame weighted spectral slope distance."""
    length = int(round(FRAME_SECONDS * sr))
    n_fft = int(2 ** math.ceil(math.log2(2 * length)))
    filters = critical_band_filters(sr, n_fft // 2)
    per_signal = []
    for x in (ref, est):
        energy = _band_energies_db(frames(x + EPS, sr), filters, n_fft)
        slope = np.diff(energy, axis=1)
        peaks = _nearest_peaks(slope, energy[:, :-1])
        body = energy[:, :-1]
        w_max = K_MAX / (K_MAX + energy.max(axis=1, keepdims=True) - body)
        w_locmax = K_LOCMAX / (K_LOCMAX + peaks - body)
        per_signal.append((slope, w_max * w_locmax))
    (slope_ref, w_ref), (slope_est, w_est) = per_signal
    weights = (w_ref + w_est) / 2.0
    return np.sum(weights * (slope_ref - slope_est) ** 2, axis=1) / np.sum(weights, axis=1)


def wss(ref, est, sr):
    """Mean weighted spectral slope distance of the best 95 % of frames."""
    ref, est, sr = _rate(ref, est, sr)
    return _trimmed_mean(wss_frames(ref, est, sr))


# --- PESQ and the regressions -------------------------------------------------------------------

def raw_pesq(ref, est, sr):
    """Raw ITU-T P.862 (narrow-band) score: the P.862.1 mapping of the ``pesq`` package undone."""
    from kdspeech.metrics.enhancement import pesq_nb

    mos_lqo = pesq_nb(ref, est, sr)
    if math.isnan(mos_lqo):
        return mos_lqo
    share = (mos_lqo - 0.999) / 4.0  # MOS-LQO = 0.999 + 4 / (1 + exp(-1.4945 x + 4.6607))
    share = min(max(share, 1e-9), 1.0 - 1e-9)
    return (4.6607 - math.log(1.0 / share - 1.0)) / 1.4945


def regressions(llr_value, wss_value, seg_snr_value, pesq_value):
    """``(CSIG, CBAK, COVL)`` from the four measures, each clipped to [1, 5]."""
    csig = 3.093 - 1.029 * llr_value + 0.603 * pesq_value - 0.009 * wss_value
    cbak = 1.634 + 0.478 * pesq_value - 0.007 * wss_value + 0.063 * seg_snr_value
    covl = 1.594 + 0.805 * pesq_value - 0.512 * llr_value - 0.007 * wss_value
    return tuple(float(np.clip(v, 1.0, 5.0)) for v in (csig, cbak, covl))


def composite(ref, est, sr):
    """``{"csig", "cbak", "covl", "llr", "wss", "seg_snr", "pesq_raw"}`` of one utterance."""
    ref, est, sr = _rate(ref, est, sr)
    if _is_silent(ref) or _is_silent(est):
        which = "reference" if _is_silent(ref) else "estimate"
        log.warning("composite measures undefined: the %s is all zeros; scoring NaN", which)
        nan = float("nan")
        return {"csig": nan, "cbak": nan, "covl": nan, "llr": nan, "wss": nan,
                "seg_snr": seg_snr(ref, est, sr), "pesq_raw": nan}
    parts = {"llr": _trimmed_mean(llr_frames(ref, est, sr)),
             "wss": _trimmed_mean(wss_frames(ref, est, sr)),
             "seg_snr": float(np.mean(segmental_snrs(ref, est, sr))),
             "pesq_raw": raw_pesq(ref, est, sr)}
    if math.isnan(parts["pesq_raw"]):
        return {"csig": float("nan"), "cbak": float("nan"), "covl": float("nan"), **parts}
    csig, cbak, covl = regressions(parts["llr"], parts["wss"], parts["seg_snr"], parts["pesq_raw"])
    return {"csig": csig, "cbak": cbak, "covl": covl, **parts}


def score_family(names, utt):
    """Registry family: segSNR alone is cheap; any of CSIG/CBAK/COVL runs the whole pass once."""
    if set(names) <= {"seg_snr"}:
        return {"seg_snr": seg_snr(utt.ref, utt.est, utt.sr)}
    values = composite(utt.ref, utt.est, utt.sr)
    return {name: values[name] for name in names}
