"""Enhancement metrics: SI-SDR against hand computations, PESQ/STOI/ESTOI on real speech."""

import logging
import math

import numpy as np
import pytest

from kdspeech.data.audio import load_audio
from kdspeech.errors import KdError
from kdspeech.metrics import METRICS, compute, estoi, pesq_nb, pesq_wb, si_sdr, stoi

SR = 16000


def at_snr(clean, noise, snr_db):
    """``noise`` scaled so that 10*log10(sum(clean**2) / sum(noise**2)) == snr_db."""
    gain = np.sqrt(np.sum(clean ** 2) / (np.sum(noise ** 2) * 10 ** (snr_db / 10)))
    return gain * noise


@pytest.fixture
def speech(corpora):
    x, sr = load_audio(corpora / "asr" / "speechbrain" / "ASR" / "spk1_snt1.flac", sr=SR)
    return x.astype(np.float64)


@pytest.fixture
def white(speech):
    return np.random.default_rng(7).standard_normal(len(speech))


# --- SI-SDR ---------------------------------------------------------------------------------

def test_si_sdr_matches_hand_computation():
    # zero-mean ref [-1.5, -.5, .5, 1.5], est [-1.5, .5, -.5, 1.5]: alpha = 4/5,
    # target energy 0.64 * 5 = 3.2, residual [-.3, .9, -.9, .3] energy 1.8
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    est = np.array([1.0, 3.0, 2.0, 4.0])
    assert si_sdr(ref, est) == pytest.approx(10 * math.log10(3.2 / 1.8), abs=1e-9)


def test_si_sdr_identical_is_very_high_and_finite():
    x = np.random.default_rng(0).standard_normal(8000)
    assert 100 < si_sdr(x, x) < math.inf


def test_si_sdr_ignores_scale_and_offset():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal(8000)
    est = ref + 0.3 * rng.standard_normal(8000)
    base = si_sdr(ref, est)
    assert si_sdr(ref, 0.01 * est) == pytest.approx(base, abs=1e-9)
    assert si_sdr(ref, 25.0 * est + 0.5) == pytest.approx(base, abs=1e-9)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 20.0])
def test_si_sdr_of_added_noise_is_about_the_snr(snr):
    rng = np.random.default_rng(2)
    clean = rng.standard_normal(64000)
    noisy = clean + at_snr(clean, rng.standard_normal(64000), snr)
    assert si_sdr(clean, noisy) == pytest.approx(snr, abs=0.2)


def test_si_sdr_orthogonal_estimate_is_very_low():
    t = np.arange(16000) / SR
    assert si_sdr(np.sin(2 * np.pi * 100 * t), np.sin(2 * np.pi * 300 * t)) < -40


def test_si_sdr_silent_reference_is_nan(caplog):
    with caplog.at_level(logging.WARNING):
        assert math.isnan(si_sdr(np.zeros(100), np.ones(100)))
    assert "reference" in caplog.text


def test_length_mismatch_names_both_lengths():
    for metric in METRICS.values():
        with pytest.raises(KdError, match=r"16000 samples but estimate has 15999"):
            metric(np.ones(16000), np.ones(15999), SR)


def test_compute_returns_requested_metrics_in_order():
    rng = np.random.default_rng(3)
    ref = rng.standard_normal(SR)
    out = compute(["si_sdr", "stoi"], ref, ref + 0.1 * rng.standard_normal(SR), SR)
    assert list(out) == ["si_sdr", "stoi"]
    assert out["si_sdr"] == pytest.approx(20.0, abs=0.3)


def test_compute_unknown_metric_lists_known_ones():
    with pytest.raises(KdError, match="unknown metric.*pesq_xx.*known: pesq_wb"):
        compute(["si_sdr", "pesq_xx"], np.ones(10), np.ones(10), SR)


# --- PESQ / STOI / ESTOI on real speech --------------------------------------------------------

def test_pesq_wb_of_identical_speech_is_near_maximum(speech):
    assert pesq_wb(speech, speech, SR) > 4.0


def test_pesq_degrades_monotonically_with_noise(speech, white):
    scores = [pesq_wb(speech, speech + at_snr(speech, white, snr), SR) for snr in (30, 15, 5, -5)]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores
    assert scores[-1] < 2.0


def test_pesq_nb_at_8k_and_16k(speech, white):
    noisy = speech + at_snr(speech, white, 10)
    wide = pesq_nb(speech, noisy, SR)
    narrow = pesq_nb(speech[::2], noisy[::2], 8000)  # crude decimation; PESQ still sees speech
    assert 1.0 < wide < 4.0 and 1.0 < narrow < 4.0
    assert pesq_nb(speech, speech, SR) > 4.0


def test_pesq_wb_resamples_other_rates(speech):
    pytest.importorskip("kdspeech.data.resample")
    from kdspeech.data.resample import resample

    x32 = np.asarray(resample(speech, SR, 32000), dtype=np.float64)
    assert pesq_wb(x32, x32, 32000) > 4.0


def test_pesq_silent_input_is_nan_with_warning(caplog):
    silence = np.zeros(SR)
    with caplog.at_level(logging.WARNING):
        assert math.isnan(pesq_wb(silence, silence, SR))
        assert math.isnan(pesq_nb(silence, silence, SR))
    assert "PESQ" in caplog.text


def test_pesq_silent_estimate_is_nan_not_a_crash(speech, caplog):
    with caplog.at_level(logging.WARNING):
        assert math.isnan(pesq_wb(speech, np.zeros_like(speech), SR))
    assert "estimate" in caplog.text


def test_pesq_too_short_is_a_clear_error():
    with pytest.raises(KdError, match="at least 0.25 s"):
        pesq_wb(np.ones(1000), np.ones(1000), SR)


@pytest.mark.parametrize("metric", [stoi, estoi])
def test_stoi_in_unit_range_and_degrades(metric, speech, white):
    clean_score = metric(speech, speech, SR)
    scores = [metric(speech, speech + at_snr(speech, white, snr), SR) for snr in (20, 5, -5, -15)]
    assert clean_score == pytest.approx(1.0, abs=1e-6)
    assert all(0.0 <= s <= 1.0 for s in scores), scores
    assert all(a > b for a, b in zip(scores, scores[1:])), scores
