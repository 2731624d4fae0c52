import shutil

import numpy as np
import pytest

from kdspeech.data.resample import output_length, resample
from kdspeech.errors import KdError

BACKENDS = ["soxr"] + (["sox"] if shutil.which("sox") else [])


def tone(freq, sr, seconds=2.0, amp=0.5):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def middle(y):
    """Middle half: away from the filter's start/end transients of an abruptly starting tone."""
    return y[len(y) // 4: 3 * len(y) // 4]


def level_db(y, ref):
    return 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean(ref.astype(np.float64) ** 2)
                         + 1e-300)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sr_in, sr_out, freq", [(48000, 16000, 8500.0), (16000, 1000, 600.0)])
def test_tone_above_new_nyquist_is_removed(backend, sr_in, sr_out, freq):
    x = tone(freq, sr_in)
    y = resample(x, sr_in, sr_out, backend=backend)
    assert y.dtype == np.float32 and len(y) == len(x) * sr_out // sr_in
    assert level_db(middle(y), x) <= -100


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sr_in, sr_out, freq", [(48000, 16000, 1000.0), (16000, 1000, 200.0),
                                                 (22050, 16000, 3000.0), (8000, 16000, 1234.0)])
def test_in_band_tone_preserved(backend, sr_in, sr_out, freq):
    x = tone(freq, sr_in)
    y = resample(x, sr_in, sr_out, backend=backend)
    assert len(y) == output_length(len(x), sr_in, sr_out)
    expected = middle(tone(freq, sr_out, seconds=len(y) / sr_out))
    assert abs(level_db(middle(y), expected)) < 0.01
    assert np.max(np.abs(middle(y) - expected)) < 1e-3  # same phase: no delay


def test_round_trip_through_1k_leaves_nothing_above_500hz():
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(16000 * 4)).astype(np.float32)
    z = resample(resample(x, 16000, 1000), 1000, 16000)
    assert len(z) == len(x)

    def spectrum(y):
        seg = middle(y).astype(np.float64)
        return np.abs(np.fft.rfft(seg * np.kaiser(len(seg), 20))) ** 2

    power, before = spectrum(z), spectrum(x)
    freqs = np.fft.rfftfreq(len(middle(z)), 1 / 16000)
    assert 10 * np.log10(power[freqs > 500].sum() / power.sum()) < -100
    # the band that should survive did survive, at its level
    band = (freqs > 50) & (freqs < 400)
    assert abs(10 * np.log10(power[band].sum() / before[band].sum())) < 0.05


@pytest.mark.parametrize("backend", BACKENDS)
def test_multichannel_matches_per_channel(backend):
    x = np.stack([tone(440, 22050, 0.5), tone(2000, 22050, 0.5, amp=0.2)])
    y = resample(x, 22050, 16000, backend=backend)
    assert y.shape == (2, output_length(x.shape[1], 22050, 16000))
    for c in range(2):
        assert np.allclose(y[c], resample(x[c], 22050, 16000, backend=backend), atol=1e-6)


def test_backends_agree():
    if "sox" not in BACKENDS:
        pytest.skip("sox not installed")
    x = tone(1000, 44100, 0.5) + tone(5000, 44100, 0.5, amp=0.1)
    a, b = resample(x, 44100, 16000), resample(x, 44100, 16000, backend="sox")
    assert a.shape == b.shape and np.max(np.abs(a - b)) < 1e-3


def test_identity_and_errors():
    x = tone(100, 16000, 0.1)
    assert np.array_equal(resample(x, 16000, 16000), x)
    assert resample(np.zeros(0, np.float32), 16000, 8000).shape == (0,)
    with pytest.raises(KdError, match="quality"):
        resample(x, 16000, 8000, quality="best")
    with pytest.raises(KdError, match="backend"):
        resample(x, 16000, 8000, backend="torchaudio")
    with pytest.raises(KdError, match="shape"):
        resample(np.zeros((1, 2, 3)), 16000, 8000)
