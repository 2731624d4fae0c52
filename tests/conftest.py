"""Shared pytest fixtures: real corpora (or a skip), synthetic WAV files and synthetic data dirs."""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


def corpora_path():
    """``$KDSPEECH_CORPORA``, else ``<repo>/../shared/corpora``; ``None`` if it does not exist."""
    path = Path(os.environ.get("KDSPEECH_CORPORA") or REPO.parent / "shared" / "corpora")
    return path if path.is_dir() else None


@pytest.fixture
def corpora():
    """Path of the real test corpora (see its README.md); skips the test when they are absent."""
    path = corpora_path()
    if path is None:
        pytest.skip("real corpora not found: set KDSPEECH_CORPORA or provide <repo>/../shared/corpora")
    return path


@pytest.fixture(autouse=True)
def seeded_global_generators():
    """Every test starts from the same states of Python's, NumPy's global and torch's default
    generators, so that a test drawing without a generator of its own gives the same numbers alone, in
    any order and on any xdist worker (a test that failed on one unseeded draw in many runs showed why)."""
    import random

    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def synth_signal(n, sr, seed=0, freq=None, amp=0.3):
    """Deterministic test audio: a tone at ``freq`` Hz, or (``freq=None``) speech-like noise bursts."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    if freq is not None:
        x = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    else:
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t) ** 2
        x = rng.standard_normal(n) * envelope
        x /= np.max(np.abs(x)) + 1e-9
    return (amp * x).astype(np.float32)


@pytest.fixture
def tmp_wav(tmp_path):
    """Factory ``tmp_wav(name="a.wav", dur=1.0, sr=16000, channels=1, freq=None, seed=0, amp=0.3,
    x=None, subtype="PCM_16") -> Path``; ``x`` ([T] or [C, T]) overrides the synthetic signal."""

    def make(name="a.wav", dur=1.0, sr=16000, channels=1, freq=None, seed=0, amp=0.3, x=None,
             subtype="PCM_16"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if x is None:
            n = int(round(dur * sr))
            x = np.stack([synth_signal(n, sr, seed + c, freq, amp) for c in range(channels)])
        x = np.asarray(x, dtype=np.float32)
        sf.write(str(path), x.T if x.ndim == 2 else x, sr, subtype=subtype)
        return path

    return make


@pytest.fixture
def make_data_dir(tmp_path):
    """Factory ``make_data_dir(n=4, sr=16000, name="data", dur=1.0, num_spk=2, text=True,
    seed=0, extra=None) -> Path`` writing a valid data dir of synthetic audio.

    Utterance ids are ``spk<s>-utt<i>`` (speaker id is a prefix, Kaldi style); durations vary a
    little per utterance (``dur`` +- 10 %); audio lies in ``<name>/audio/``.  ``extra`` maps a file
    name (``utt2label``...) to a function ``utt -> value``.
    """

    def make(n=4, sr=16000, name="data", dur=1.0, num_spk=2, text=True, seed=0, extra=None):
        from kdspeech.data.datadir import write_kv  # imported late: conftest must load without it

        root = tmp_path / name
        wav, utt2spk, txt = {}, {}, {}
        for i in range(n):
            spk = f"spk{i % num_spk}"
            utt = f"{spk}-utt{i:03d}"
            length = int(round(sr * dur * (0.9 + 0.2 * ((i * 7) % 11) / 10)))
            path = root / "audio" / f"{utt}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), synth_signal(length, sr, seed=seed * 1000 + i), sr, subtype="PCM_16")
            wav[utt], utt2spk[utt], txt[utt] = str(path), spk, f"WORD{i} HELLO"
        write_kv(root / "wav.scp", wav)
        write_kv(root / "utt2spk", utt2spk)
        if text:
            write_kv(root / "text", txt)
        for fname, func in (extra or {}).items():
            write_kv(root / fname, {u: func(u) for u in wav})
        return root

    return make
