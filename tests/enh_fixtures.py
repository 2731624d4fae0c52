"""Tiny enhancement mixture dirs (wav.scp, spk1.scp, utt2snr) of synthetic audio for trainer tests."""

import numpy as np

from kdspeech.data.audio import save_audio
from kdspeech.data.datadir import write_kv


def make_mix_dir(root, n=8, sr=16000, dur=0.6, snrs=(-5.0, 0.0, 5.0, 10.0), seed=0):
    """Tones in white noise at the given SNRs; returns the dir path."""
    rng = np.random.default_rng(seed)
    wav, spk1, utt2snr = {}, {}, {}
    for i in range(n):
        utt = f"utt{i:03d}"
        t = np.arange(int(sr * dur)) / sr
        clean = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 800) * t).astype(np.float32)
        noise = rng.standard_normal(len(t)).astype(np.float32)
        snr = snrs[i % len(snrs)]
        noise *= np.sqrt(np.sum(clean ** 2) / np.sum(noise ** 2) / 10 ** (snr / 10))
        mix = np.clip(clean + noise, -1, 1)
        save_audio(root / "wav" / f"{utt}_mix.wav", mix, sr)
        save_audio(root / "wav" / f"{utt}_clean.wav", clean, sr)
        wav[utt] = str(root / "wav" / f"{utt}_mix.wav")
        spk1[utt] = str(root / "wav" / f"{utt}_clean.wav")
        utt2snr[utt] = f"{snr:g}"
    write_kv(root / "wav.scp", wav)
    write_kv(root / "spk1.scp", spk1)
    write_kv(root / "utt2snr", utt2snr)
    return root
