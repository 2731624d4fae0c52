"""Throughput of kdspeech's resample + mix path against the raw libraries doing the same work.

    tools/venv/bin/python benchmarks/bench_resample_mix.py [--seconds 60] [--repeats 10]

Work per run, on ~60 s of audio (LibriSpeech from the test corpora when present, else synthetic):
22.05 kHz -> 16 kHz, 16 kHz -> 1 kHz (soxr HQ), then a mixture at 5 dB SNR with a noise excerpt and
the anti-clipping rescale.  "kdspeech" calls kdspeech.data.{resample,mix}; "raw" calls soxr.resample
and numpy directly.  Prints seconds of audio per second of wall time (best of --repeats) and the
ratio kdspeech/raw (goal >= 0.8).  Prints figures only; asserts nothing.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from kdspeech.data.mix import avoid_clipping, fit_length, mix_at_snr
from kdspeech.data.resample import resample

REPO = Path(__file__).resolve().parents[1]


def source_audio(seconds):
    """``seconds`` of 16 kHz speech (real if the corpora are there) and a noise signal."""
    corpora = Path(os.environ.get("KDSPEECH_CORPORA") or REPO.parent / "shared" / "corpora")
    files = sorted((corpora / "librispeech").rglob("*.flac"))
    pieces, total, what = [], 0, "synthetic"
    for path in files:
        x, _ = sf.read(str(path), dtype="float32")
        pieces.append(x)
        total += len(x)
        what = "LibriSpeech"
        if total >= seconds * 16000:
            break
    if total < seconds * 16000:
        rng = np.random.default_rng(0)
        pieces, what = [(0.1 * rng.standard_normal(seconds * 16000)).astype(np.float32)], "synthetic"
    speech = np.concatenate(pieces)[: seconds * 16000]
    noise = (0.05 * np.random.default_rng(1).standard_normal(speech.size // 3)).astype(np.float32)
    return speech, noise, what


def with_kdspeech(x22, noise):
    y16 = resample(x22, 22050, 16000)
    y1k = resample(y16, 16000, 1000)
    segment = fit_length(noise, len(y16), offset=123)
    mixture, scaled = mix_at_snr(y16, segment, 5.0)
    (mixture, clean, scaled), _ = avoid_clipping(mixture, y16, scaled)
    return mixture, y1k


def with_raw_libraries(x22, noise):
    y16 = soxr.resample(x22, 22050, 16000, quality="HQ")
    y1k = soxr.resample(y16, 16000, 1000, quality="HQ")
    segment = np.tile(noise, -(-(123 + len(y16)) // len(noise)))[123:123 + len(y16)]
    gain = np.sqrt(np.dot(y16, y16) / (np.dot(segment, segment) * 10 ** 0.5))
    scaled = segment * gain
    mixture = y16 + scaled
    peak = np.max(np.abs(mixture))
    if peak > 0.99:
        mixture, y16, scaled = (s * (0.99 / peak) for s in (mixture, y16, scaled))
    return mixture, y1k


def best_times(funcs, args, repeats):
    """Best wall time of each function; runs are interleaved so load changes hit both alike."""
    best = [float("inf")] * len(funcs)
    for _ in range(repeats):
        for i, func in enumerate(funcs):
            start = time.perf_counter()
            func(*args)
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    speech16, noise, what = source_audio(args.seconds)
    x22 = soxr.resample(speech16, 16000, 22050, quality="VHQ").astype(np.float32)  # the input
    seconds = len(x22) / 22050
    a, b = with_kdspeech(x22, noise), with_raw_libraries(x22, noise)
    same = max(float(np.max(np.abs(p - q))) for p, q in zip(a, b))
    t_kd, t_raw = best_times([with_kdspeech, with_raw_libraries], (x22, noise), args.repeats)
    print(f"audio: {seconds:.1f} s of {what} at 22.05 kHz; 22.05k->16k, 16k->1k, mix at 5 dB")
    print(f"kdspeech: {seconds / t_kd:9.1f} s audio / s  ({t_kd * 1000:.1f} ms)")
    print(f"raw:      {seconds / t_raw:9.1f} s audio / s  ({t_raw * 1000:.1f} ms)")
    print(f"ratio kdspeech/raw throughput: {t_raw / t_kd:.2f}x (goal >= 0.8x); "
          f"max output difference {same:.1e}")


if __name__ == "__main__":
    main()
