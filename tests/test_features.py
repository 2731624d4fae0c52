import math

import numpy as np
import pytest
import torch

from kdspeech.features import MFCC, LogMel


def slaney_mel(f):
    """Slaney (librosa default) mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (math.log(6.4) / 27.0)
    return np.where(f < 1000.0, lin, log)


def tone(freq, sr=16000, seconds=1.0):
    t = torch.arange(int(sr * seconds)) / sr
    return 0.5 * torch.sin(2 * math.pi * freq * t)


def test_logmel_shape():
    feats = LogMel()(torch.randn(3, 16000) * 0.1)
    assert feats.shape == (3, 64, 101) and torch.isfinite(feats).all()
    assert LogMel()(torch.randn(8000)).shape == (64, 51)
    with pytest.raises(ValueError):
        LogMel()(torch.zeros(1, 1, 100))


@pytest.mark.parametrize("freq", [300.0, 1000.0, 2500.0, 6000.0])
def test_tone_lands_in_its_mel_band(freq):
    n_mels, fmin, fmax = 64, 50.0, 8000.0
    feats = LogMel(n_mels=n_mels, fmin=fmin, fmax=fmax)(tone(freq)[None])[0]
    loudest = int(feats[:, 20:-20].mean(dim=1).argmax())
    centres = np.linspace(slaney_mel(fmin), slaney_mel(fmax), n_mels + 2)[1:-1]
    expected = int(np.argmin(np.abs(centres - slaney_mel(freq))))
    assert abs(loudest - expected) <= 1


def test_silence_is_finite_and_low():
    feats = LogMel()(torch.zeros(1, 4000))
    assert torch.isfinite(feats).all() and feats.max() < -20


def test_mfcc_dims_and_deltas():
    mfcc = MFCC()
    assert mfcc.dim == 54
    out = mfcc(torch.randn(2, 16000) * 0.1)
    assert out.shape == (2, 54, 101)
    # the second half is the delta of the first: a stationary tone has ~zero deltas
    steady = mfcc(tone(440.0)[None])[0][:, 10:-10]
    assert steady[27:].abs().mean() < 0.05 * steady[:27].abs().mean()
    assert MFCC(drop_c0=False, deltas=False)(torch.randn(1, 1600)).shape == (1, 28, 11)


def test_batch_independence():
    """Features of an utterance must not depend on the other items in the batch."""
    quiet, loud = torch.randn(16000) * 0.001, torch.randn(16000)
    for module in (LogMel(), MFCC()):
        alone = module(quiet[None])[0]
        batched = module(torch.stack([quiet, loud]))[0]
        assert torch.allclose(alone, batched, atol=1e-4)


def test_mfcc_c0_dropped_tracks_loudness_not():
    x = torch.randn(1, 16000) * 0.1
    a, b = MFCC(deltas=False)(x), MFCC(deltas=False)(10 * x)
    # scaling the waveform only shifts C0 (dropped), so the rest is unchanged
    assert torch.allclose(a, b, atol=1e-2)
