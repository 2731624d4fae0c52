import numpy as np
import pytest

from kdspeech.data.mix import avoid_clipping, fit_length, mix_at_snr, random_offset, snr_db
from kdspeech.errors import KdError


@pytest.fixture
def signals():
    rng = np.random.default_rng(3)
    n = 16000
    clean = (0.3 * np.sin(2 * np.pi * 220 * np.arange(n) / 16000)
             * (1 + rng.standard_normal(n) * 0.1)).astype(np.float32)
    noise = (0.05 * rng.standard_normal(n)).astype(np.float32)
    return clean, noise


@pytest.mark.parametrize("snr", [-20, -10, -5, -2.5, 0, 3, 5, 12.5, 20])
def test_achieved_snr_exact(signals, snr):
    clean, noise = signals
    mixture, scaled = mix_at_snr(clean, noise, snr)
    assert mixture.dtype == np.float32 and scaled.dtype == np.float32
    assert np.allclose(mixture, clean + scaled)
    assert abs(snr_db(clean, scaled) - snr) < 0.01
    assert abs(snr_db(clean, mixture - clean) - snr) < 0.01


@pytest.mark.parametrize("snr", [-20, -5, 0, 5, 20])
def test_snr_survives_clipping_rescale(signals, snr):
    clean, noise = signals
    clean = clean * 3.0  # peaks near 1: the mixture clips
    mixture, scaled = mix_at_snr(clean, noise, snr)
    (mix2, clean2, noise2), factor = avoid_clipping(mixture, clean, scaled, peak=0.99)
    assert factor < 1.0
    assert max(np.max(np.abs(s)) for s in (mix2, clean2, noise2)) <= 0.99 + 1e-6
    assert abs(snr_db(clean2, noise2) - snr) < 0.01
    assert np.allclose(mix2, clean2 + noise2, atol=1e-6)
    assert np.allclose(clean2, clean * factor, atol=1e-6)


def test_avoid_clipping_no_change_when_quiet(signals):
    clean, noise = signals
    out, factor = avoid_clipping(clean, noise)
    assert factor == 1.0 and out[0] is clean and out[1] is noise


def test_fit_length_crop_and_loop():
    noise = np.arange(10, dtype=np.float32)
    assert fit_length(noise, 4, offset=3).tolist() == [3, 4, 5, 6]
    assert fit_length(noise, 25, offset=7).tolist() == [7, 8, 9] + list(range(10)) * 2 + [0, 1]
    rng = np.random.default_rng(0)
    for _ in range(50):
        crop = fit_length(noise, 4, rng)
        assert len(crop) == 4 and np.all(np.diff(crop) == 1)  # a crop never wraps
        looped = fit_length(noise, 13, rng)
        assert len(looped) == 13 and set(looped.tolist()) == set(range(10))


def test_fit_length_reproducible():
    noise = np.random.default_rng(1).standard_normal(1000)
    a = fit_length(noise, 300, np.random.default_rng(5))
    b = fit_length(noise, 300, np.random.default_rng(5))
    assert np.array_equal(a, b)
    assert 0 <= random_offset(1000, 300, np.random.default_rng(5)) <= 700


def test_errors(signals):
    clean, noise = signals
    with pytest.raises(KdError, match="shape"):
        mix_at_snr(clean, noise[:-1], 0)
    with pytest.raises(KdError, match="silent"):
        mix_at_snr(clean, np.zeros_like(noise), 0)
    with pytest.raises(KdError, match="silent"):
        mix_at_snr(np.zeros_like(clean), noise, 0)
    with pytest.raises(KdError, match="no samples"):
        fit_length(np.zeros(0), 10, offset=0)
