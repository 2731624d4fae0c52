"""Additive noise mixing at an exact SNR (the enhancement recipes' training and test mixtures).

SNR definition used everywhere in kdspeech:
``10 * log10(sum(clean**2) / sum(scaled_noise**2))`` over the whole utterance, with the noise already
cut or looped to the clean length.  ``avoid_clipping`` rescales clean, noise and mixture by one common
factor, so the SNR is untouched when a loud mixture has to be brought below full scale.
"""

from pathlib import Path

import numpy as np

from kdspeech.errors import KdError


def random_offset(noise_len, n, rng):
    """A start sample for ``fit_length``: within ``[0, noise_len - n]`` when the noise is long
    enough (a plain crop), else anywhere in the noise (the loop starts there)."""
    if noise_len <= 0:
        raise KdError("noise has no samples")
    high = noise_len - n + 1 if noise_len >= n else noise_len
    return int(rng.integers(0, high))


def offset_at(noise_len, n, u):
    """The start sample that the uniform number ``u`` in [0, 1) selects, in the range of
    ``random_offset`` (a crop when ``noise_len >= n``, else a loop start): for mixers that draw
    every random number of an item up front, before the lengths are known."""
    if noise_len <= 0:
        raise KdError("noise has no samples")
    high = noise_len - n + 1 if noise_len >= n else noise_len
    return min(int(float(u) * high), high - 1)


def fit_length(noise, n, rng=None, offset=None):
    """``n`` samples of ``noise`` starting at ``offset``, wrapping around (loop-concatenation) when
    the noise is shorter than ``n``.  ``offset=None`` draws one with ``random_offset(..., rng)``."""
    noise = np.asarray(noise)
    length = noise.shape[-1]
    if length == 0:
        raise KdError("noise has no samples")
    if offset is None:
        if rng is None:
            raise KdError("fit_length needs rng or offset")
        offset = random_offset(length, n, rng)
    offset = int(offset) % length
    if offset + n <= length:
        return noise[..., offset:offset + n].copy()
    rounds = -(-(offset + n) // length)  # whole copies needed to cover offset..offset+n
    return np.concatenate([noise] * rounds, axis=-1)[..., offset:offset + n]


def energy(x):
    """Sum of squares (einsum: accurate to ~1e-7 relative in float32, and fast)."""
    x = np.asarray(x)
    x = x.astype(np.float32, copy=False).ravel() if x.dtype.kind != "f" else x.ravel()
    return float(np.einsum("i,i->", x, x))


def snr_db(clean, noise):
    """SNR in dB of ``clean`` against ``noise`` (same length), whole-utterance energies."""
    return 10.0 * np.log10(energy(clean) / energy(noise))


def mix_at_snr(clean, noise, snr_db):
    """Scale ``noise`` so that ``10*log10(E_clean / E_noise) == snr_db``; return
    ``(clean + scaled_noise, scaled_noise)`` as float32.  ``noise`` must already match ``clean``."""
    clean = np.asarray(clean, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)
    if clean.shape != noise.shape:
        raise KdError(f"clean {clean.shape} and noise {noise.shape} differ in shape; "
                      "cut or loop the noise first (fit_length)")
    e_clean, e_noise = energy(clean), energy(noise)
    if e_clean == 0.0:
        raise KdError("clean signal is silent: SNR is undefined")
    if e_noise == 0.0:
        raise KdError("noise segment is silent: cannot reach a finite SNR")
    gain = np.sqrt(e_clean / (e_noise * 10.0 ** (float(snr_db) / 10.0)))
    scaled = noise * np.float32(gain)
    return clean + scaled, scaled


def avoid_clipping(*signals, peak=0.99):
    """Scale all ``signals`` by one factor so that none exceeds ``peak`` in absolute value.

    Pass the mixture together with its clean and noise parts (``avoid_clipping(mix, clean, noise)``)
    so that what is written to 16-bit files stays consistent and at the same SNR.
    Returns ``(scaled_signals, factor)``: a list in the order given, and the factor (1.0 when no
    signal would clip, the signals are then returned as given).
    """
    if not signals:
        raise KdError("avoid_clipping needs at least one signal")
    loudest = max(max(float(np.max(s)), -float(np.min(s))) if np.size(s) else 0.0
                  for s in signals)
    if loudest <= peak:
        return list(signals), 1.0
    factor = peak / loudest
    return [np.asarray(s, dtype=np.float32) * np.float32(factor) for s in signals], factor


def plan_matches(path, header):
    """Whether the plan file ``path`` exists (its first line must then be ``header``, the options it was
    made with: another is a KdError, so a resumed mixing never mixes two plans)."""
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, encoding="utf-8") as f:
        found = f.readline().rstrip("\n")
    if found != header:
        raise KdError(f"plan was made with other options:\n  {found}\nnot\n  {header}\n"
                      "use the same options or a new --out", path=path)
    return True
