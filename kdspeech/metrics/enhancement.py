"""Intrusive signal metrics: PESQ (wide/narrow band), STOI, ESTOI, SI-SDR and SDR (BSS Eval).

Every function takes the clean reference first and the estimate second, both 1-D arrays of the
same length: an enhancement model returns exactly as many samples as it was given, so any length
difference means the wrong files were paired and is reported rather than trimmed away.

A metric that is undefined for an utterance (PESQ finds no speech in it, the reference is silent)
is NaN with a logged warning, so one bad utterance does not stop the scoring of a test set.
"""

import logging

import numpy as np
import pesq as pesq_lib
from pystoi import stoi as pystoi_stoi

from kdspeech.errors import KdError

log = logging.getLogger(__name__)

PESQ_MIN_SECONDS = 0.25  # the ITU P.862 implementation refuses anything shorter
SI_SDR_LIMIT_DB = 300.0  # |SI-SDR| is clipped here, so identical signals score finite


def _as_pair(ref, est):
    """Both signals as float64 1-D arrays, checked to have the same length."""
    ref = np.asarray(ref, dtype=np.float64)
    est = np.asarray(est, dtype=np.float64)
    if ref.ndim != 1 or est.ndim != 1:
        raise KdError(f"metrics need 1-D (mono) signals, got shapes {ref.shape} and {est.shape}")
    if len(ref) != len(est):
        raise KdError(
            f"reference has {len(ref)} samples but estimate has {len(est)}: "
            "an enhanced signal must keep the length of its input"
        )
    return ref, est


def _is_silent(x):
    return not np.any(x)


def _resample(x, sr, target_sr):
    """Resample with the data package's resampler (one resampler for the whole toolkit)."""
    try:
        from kdspeech.data.resample import resample
    except ImportError as err:
        raise KdError(
            f"PESQ needs {target_sr} Hz audio and the signal is {sr} Hz, but "
            f"kdspeech.data.resample is not available to convert it ({err})"
        ) from err
    return np.asarray(resample(x, sr, target_sr), dtype=np.float64)


def _pesq(ref, est, sr, mode, rates):
    ref, est = _as_pair(ref, est)
    if sr not in rates:
        ref, est = _resample(ref, sr, 16000), _resample(est, sr, 16000)
        sr = 16000
    if len(ref) < PESQ_MIN_SECONDS * sr:
        raise KdError(
            f"PESQ needs at least {PESQ_MIN_SECONDS} s of audio, got {len(ref)} samples at {sr} Hz"
        )
    if _is_silent(ref) or _is_silent(est):
        which = "reference" if _is_silent(ref) else "estimate"
        log.warning("PESQ-%s undefined: the %s is all zeros; scoring NaN", mode.upper(), which)
        return float("nan")
    try:
        return float(pesq_lib.pesq(sr, ref, est, mode))
    except pesq_lib.NoUtterancesError:
        log.warning("PESQ-%s found no utterance (silent input); scoring NaN", mode.upper())
        return float("nan")


def pesq_wb(ref, est, sr):
    """Wide-band PESQ (ITU-T P.862.2) in MOS-LQO, at 16 kHz (other rates are resampled)."""
    return _pesq(ref, est, sr, "wb", rates=(16000,))


def pesq_nb(ref, est, sr):
    """Narrow-band PESQ (ITU-T P.862) in MOS-LQO, at 8 or 16 kHz (other rates go to 16 kHz)."""
    return _pesq(ref, est, sr, "nb", rates=(8000, 16000))


def _stoi(ref, est, sr, extended):
    ref, est = _as_pair(ref, est)
    if _is_silent(ref):
        name = "ESTOI" if extended else "STOI"
        log.warning("%s undefined: the reference is all zeros; scoring NaN", name)
        return float("nan")
    return float(pystoi_stoi(ref, est, sr, extended=extended))


def stoi(ref, est, sr):
    """Short-time objective intelligibility (Taal et al. 2011), in [0, 1]."""
    return _stoi(ref, est, sr, extended=False)


def estoi(ref, est, sr):
    """Extended STOI (Jensen and Taal 2016), robust to modulated noise, about [0, 1]."""
    return _stoi(ref, est, sr, extended=True)


def si_sdr(ref, est, sr=None):
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019), zero-mean signals.

    The estimate is split into the part along the reference (``alpha * ref``, alpha chosen by least
    squares) and the rest; SI-SDR is the energy ratio of the two, so rescaling the estimate does not
    change it.  Values are clipped to +-300 dB (identical signals would otherwise be infinite); a
    constant reference or estimate scores NaN.  ``sr`` is accepted (and ignored) so every metric
    has the same call signature.
    """
    ref, est = _as_pair(ref, est)
    ref = ref - ref.mean()
    est = est - est.mean()
    ref_energy = np.dot(ref, ref)
    if ref_energy == 0.0 or not np.any(est):
        which = "reference" if ref_energy == 0.0 else "estimate"
        log.warning("SI-SDR undefined: the %s is constant; scoring NaN", which)
        return float("nan")
    target = (np.dot(est, ref) / ref_energy) * ref
    residual = est - target
    target_energy, residual_energy = np.dot(target, target), np.dot(residual, residual)
    floor = max(target_energy, residual_energy) * 10.0 ** (-SI_SDR_LIMIT_DB / 10.0)
    return float(10.0 * np.log10(max(target_energy, floor) / max(residual_energy, floor)))


def sdr(ref, est, sr=None, filter_length=512):
    """Signal-to-distortion ratio in dB of BSS Eval v3 for one source (Vincent et al. 2006).

    The part of the estimate explained by the reference through a time-invariant FIR filter of
    ``filter_length`` taps (least squares; 512 as in BSS Eval and mir_eval) is the target, the rest
    is distortion; SDR is their energy ratio.  Unlike SI-SDR it forgives any short linear filtering
    (a delay, an equaliser), so ``sdr >= si_sdr`` up to the zero-mean convention.  The estimate is
    zero-padded by ``filter_length - 1`` samples for the filter's tail.  Clipped to +-300 dB like
    SI-SDR; a silent reference or estimate scores NaN.  ``sr`` is accepted and ignored.
    """
    from scipy.linalg import solve_toeplitz
    from scipy.signal import fftconvolve

    ref, est = _as_pair(ref, est)
    if _is_silent(ref) or _is_silent(est):
        which = "reference" if _is_silent(ref) else "estimate"
        log.warning("SDR undefined: the %s is all zeros; scoring NaN", which)
        return float("nan")
    taps = min(filter_length, len(ref))
    # normal equations of min_h ||est_padded - h * ref||^2: the Toeplitz matrix of ref's
    # autocorrelation (lags 0..taps-1) times h equals est's correlation with delayed copies of ref
    autocorr = _lagged(ref, ref, taps)
    autocorr[0] *= 1.0 + 1e-12  # keeps a perfectly periodic reference solvable
    h = solve_toeplitz(autocorr, _lagged(est, ref, taps))
    target = fftconvolve(ref, h)
    residual = np.concatenate([est, np.zeros(taps - 1)]) - target
    target_energy, residual_energy = np.dot(target, target), np.dot(residual, residual)
    floor = max(target_energy, residual_energy) * 10.0 ** (-SI_SDR_LIMIT_DB / 10.0)
    return float(10.0 * np.log10(max(target_energy, floor) / max(residual_energy, floor)))


def _lagged(est, ref, taps):
    """``c[k] = sum_n est[n] * ref[n - k]`` for k = 0..taps-1 (est zero-padded past its end)."""
    from scipy.signal import fftconvolve

    full = fftconvolve(est, ref[::-1])  # index len(ref)-1+k holds sum_n est[n+k] ref[n]
    return np.array(full[len(ref) - 1:len(ref) - 1 + taps])


METRICS = {
    "pesq_wb": pesq_wb,
    "pesq_nb": pesq_nb,
    "stoi": stoi,
    "estoi": estoi,
    "si_sdr": si_sdr,
    "sdr": sdr,
}


def score_family(names, utt):
    """Registry family: each of ``names`` on ``utt.ref`` / ``utt.est``."""
    return {name: METRICS[name](utt.ref, utt.est, utt.sr) for name in names}


def check_names(names):
    """The metric names as a list, KdError naming any unknown one (kdspeech.metrics.registry)."""
    from kdspeech.metrics.registry import check_names as check

    return check(list(names))


def compute(names, ref, est, sr):
    """``{name: value}`` on one utterance, reference first (the trainer's validation calls this)."""
    from kdspeech.metrics import compute as compute_any

    return compute_any(list(names), est, sr, ref=ref)
