"""Sample-rate conversion with a measured stopband, for corpora and for the 1 kHz classification path.

Why not ``torchaudio.functional.resample``: its default windowed-sinc filter (width 6, rolloff
0.99) has a short, leaky transition band that reaches past the new Nyquist frequency, so content
just above it folds back into the band.  Measured here on a 48 kHz -> 16 kHz conversion, an
8.5 kHz tone comes out at only -11 dB (a 600 Hz tone at 16 kHz -> 1 kHz at -28 dB).  libsoxr at
quality "HQ" (20-bit) puts its stopband at the new Nyquist with more than 100 dB rejection (the
same tones: -136 dB and -143 dB), and passes 0..91 % of the band flat.

Backends: ``"soxr"`` (default, the python-soxr binding) and ``"sox"`` (the sox command line through
pipes, ``rate -q/-l/-m/-h/-v`` chosen by ``quality``; same algorithm, useful as an outside
reference).  Both return exactly ``floor(T * sr_out / sr_in + 0.5)`` samples.

A corpus with a few files at another rate than the rest is usually a mistake in the corpus, not a
wish: :func:`check_source_rates` warns, naming them, or fails when the recipe asks for one rate.
"""

import logging
import shutil
import subprocess
from collections import Counter

import numpy as np
import soxr

from kdspeech.errors import KdError

QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")
_SOX_FLAG = {"QQ": "-q", "LQ": "-l", "MQ": "-m", "HQ": "-h", "VHQ": "-v"}


def output_length(num_samples, sr_in, sr_out):
    """Number of samples both backends produce for ``num_samples`` input samples."""
    return (2 * num_samples * sr_out + sr_in) // (2 * sr_in)  # floor(T * sr_out / sr_in + 0.5)


def _soxr(x, sr_in, sr_out, quality):
    # python-soxr wants [T] or [T, C] (frames first).
    y = soxr.resample(x.T if x.ndim == 2 else x, sr_in, sr_out, quality=quality)
    return y.T if x.ndim == 2 else y


def _sox(x, sr_in, sr_out, quality):
    if shutil.which("sox") is None:
        raise KdError("resample backend 'sox' needs the sox command (apt-get install sox)")
    channels = 1 if x.ndim == 1 else x.shape[0]
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", str(channels)]
    cmd = (["sox", "-D", "-V1"] + raw + ["-r", str(sr_in), "-"] + raw + ["-r", str(sr_out), "-"]
           + ["rate", _SOX_FLAG[quality], str(sr_out)])
    interleaved = np.ascontiguousarray(x.T if x.ndim == 2 else x, dtype="<f4")
    proc = subprocess.run(cmd, input=interleaved.tobytes(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise KdError(f"sox failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    y = np.frombuffer(proc.stdout, dtype="<f4").reshape(-1, channels).T
    n = output_length(x.shape[-1], sr_in, sr_out)
    if y.shape[1] < n:  # sox and soxr agree in practice; keep the contract regardless
        y = np.pad(y, ((0, 0), (0, n - y.shape[1])))
    y = y[:, :n]
    return np.ascontiguousarray(y[0] if x.ndim == 1 else y)


def resample(x, sr_in, sr_out, quality="HQ", backend="soxr"):
    """Resample float audio ``x`` ([T] or [C, T]) from ``sr_in`` to ``sr_out``; float32 out.

    Returns ``x`` unchanged (as float32) when the rates are equal.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (1, 2):
        raise KdError(f"resample needs [T] or [C, T] audio, got shape {x.shape}")
    if quality not in QUALITIES:
        raise KdError(f"resample quality '{quality}' is not one of {', '.join(QUALITIES)}")
    sr_in, sr_out = int(sr_in), int(sr_out)
    if sr_in <= 0 or sr_out <= 0:
        raise KdError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
    if sr_in == sr_out:
        return x
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1] + (0,), np.float32)
    if backend == "soxr":
        y = _soxr(x, sr_in, sr_out, quality)
    elif backend == "sox":
        y = _sox(x, sr_in, sr_out, quality)
    else:
        raise KdError(f"resample backend '{backend}' is not one of soxr, sox")
    return np.ascontiguousarray(y, dtype=np.float32)


def mixed_rate_report(rates, entries=None, limit=10):
    """``None`` when every recording of ``rates`` (id -> sample rate) is at one rate; else one line
    naming the usual rate and the recordings at another one, with their rates (and their wav.scp
    entries from ``entries``, id -> entry), the first ``limit`` of them."""
    counts = Counter(rates.values())
    if len(counts) <= 1:
        return None
    usual = max(counts, key=lambda rate: (counts[rate], rate))
    odd = sorted(key for key, rate in rates.items() if rate != usual)
    entries = entries or {}
    named = ", ".join(f"{key} at {rates[key]} Hz" + (f" ({entries[key]})" if key in entries else "")
                      for key in odd[:limit])
    more = f" and {len(odd) - limit} more" if len(odd) > limit else ""
    return (f"{len(odd)} of {len(rates)} recordings are not at {usual} Hz like the rest: "
            f"{named}{more}")


def check_source_rates(rates, entries=None, strict=False, path=None, what="resampled"):
    """Warn (``logging``) when the recordings of ``rates`` are not all at one sample rate; with
    ``strict``, raise a ``KdError`` naming them (and ``path``, the data dir) instead."""
    report = mixed_rate_report(rates, entries)
    if report is None:
        return
    if strict:
        raise KdError(f"{report}; the recipe asks for one rate (--strict_rate true): convert "
                      "them, or run with --strict_rate false to have them " + what, path=path)
    logging.warning("%s: %s; they are %s too (--strict_rate true makes this an error)",
                    path or "audio", report, what)
