"""Metric registry and intrusive/non-intrusive metrics: SI-SDR and SDR against hand computations,
PESQ/STOI/ESTOI/DNSMOS on real speech, the registry's kinds and families."""

import logging
import math

import numpy as np
import pytest

from kdspeech.data.audio import load_audio
from kdspeech.errors import KdError
from kdspeech.metrics import Utterance, check_names, compute, registry, score_utterance
from kdspeech.metrics.enhancement import METRICS, estoi, pesq_nb, pesq_wb, sdr, si_sdr, stoi

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
    for metric in METRICS.values():  # every intrusive signal metric of enhancement.py
        with pytest.raises(KdError, match=r"16000 samples but estimate has 15999"):
            metric(np.ones(16000), np.ones(15999), SR)


def test_compute_returns_requested_metrics_in_order():
    rng = np.random.default_rng(3)
    ref = rng.standard_normal(SR)
    out = compute(["si_sdr", "stoi"], ref + 0.1 * rng.standard_normal(SR), SR, ref=ref)
    assert list(out) == ["si_sdr", "stoi"]
    assert out["si_sdr"] == pytest.approx(20.0, abs=0.3)


def test_legacy_enhancement_compute_takes_the_reference_first():
    from kdspeech.metrics import enhancement

    rng = np.random.default_rng(3)
    ref = rng.standard_normal(SR)
    est = ref + 0.1 * rng.standard_normal(SR)
    assert enhancement.compute(["si_sdr"], ref, est, SR) == compute(["si_sdr"], est, SR, ref=ref)
    assert enhancement.check_names(("stoi", "dnsmos_ovrl")) == ["stoi", "dnsmos_ovrl"]


def test_compute_unknown_metric_lists_known_ones():
    with pytest.raises(KdError, match="unknown metric.*pesq_xx.*known: .*pesq_wb"):
        compute(["si_sdr", "pesq_xx"], np.ones(10), SR, ref=np.ones(10))


# --- the registry -------------------------------------------------------------------------------

def test_every_issue_metric_is_registered_with_its_kind():
    kinds = {
        "intrusive": ["cbak", "covl", "csig", "estoi", "pesq_nb", "pesq_wb", "sdr", "seg_snr",
                      "si_sdr", "stoi"],
        "nonintrusive": ["dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808", "dnsmos_sig", "pdnsmos_bak", "pdnsmos_ovrl", "pdnsmos_sig"],
        "transcript": ["cer", "wer"],
        "trials": ["eer", "min_dcf"],
    }
    for kind, names in kinds.items():
        assert registry.names(kind) == names
    assert registry.columns(["stoi", "wer"]) == ["stoi", "wer", "wer_errors", "wer_words"]
    assert registry.ratio_columns(["wer", "wer_errors", "wer_words", "cer"]) == {
        "wer": ("wer_errors", "wer_words")}  # cer without its counts is a plain column


def test_missing_inputs_name_the_metric_and_what_it_needs():
    x = np.ones(SR)
    with pytest.raises(KdError, match="pesq_wb \\(intrusive\\) needs a clean reference"):
        compute(["dnsmos_sig", "pesq_wb"], x, SR)
    with pytest.raises(KdError, match="wer \\(transcript\\) needs a reference transcript"):
        compute(["wer"], x, SR)
    with pytest.raises(KdError, match="eer is computed from a trial list"):
        compute(["eer"], x, SR)
    with pytest.raises(KdError, match="si_sdr asked for twice"):
        check_names(["si_sdr", "stoi", "si_sdr"])


def test_importing_the_package_loads_no_metric_library():
    import subprocess
    import sys

    code = ("import sys, kdspeech.metrics, kdspeech.metrics.scores, kdspeech.metrics.registry; "
            "print(sorted({'pesq', 'pystoi', 'scipy', 'jiwer', 'onnxruntime', 'speechmos', "
            "'pocketsphinx', 'torch', 'numpy'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class CountingAsr:
    """A stand-in backend that returns fixed text and counts its decodes."""

    def __init__(self, text):
        self.text, self.calls = text, 0

    def transcribe(self, samples, sr):
        self.calls += 1
        return self.text


def test_wer_and_cer_come_from_one_decode_with_hand_counted_errors():
    asr = CountingAsr("the cat sat on mat")
    item = Utterance(est=np.zeros(SR), sr=SR, text="THE CAT SAT ON THE MAT.", asr=asr)
    values = score_utterance(["wer", "cer"], item)
    assert asr.calls == 1
    # words: 6 in the reference, one deletion ("the")
    assert (values["wer_errors"], values["wer_words"]) == (1, 6)
    assert values["wer"] == pytest.approx(1 / 6)
    # characters: "the cat sat on the mat" (22) -> "the cat sat on mat": 4 deletions ("the ")
    assert (values["cer_errors"], values["cer_chars"]) == (4, 22)


def test_transcript_normalisation_and_empty_references():
    from kdspeech.metrics.transcript import corpus_rate, normalize, word_errors

    assert normalize("  It's  the DOG'S bone -- 'quoted', ok? ") == "it's the dog's bone quoted ok"
    assert word_errors("", "spurious words") == (2, 0)
    assert word_errors("two words", "") == (2, 2)
    # corpus WER pools counts: (1 + 2) / (10 + 2), not the mean of 0.1 and 1.0
    assert corpus_rate([1, 2], [10, 2]) == pytest.approx(0.25)


# --- SDR (BSS Eval) ---------------------------------------------------------------------------------

def test_sdr_forgives_a_short_filter_that_si_sdr_does_not():
    rng = np.random.default_rng(4)
    ref = rng.standard_normal(16000)
    ref[-8:] = 0.0  # so that cutting the filtered signal to 16000 samples loses nothing
    filtered = np.convolve(ref, [0.0, 0.0, 0.8, -0.3, 0.1])[:16000]  # a delay and an equaliser
    assert sdr(ref, filtered, SR) > 60
    assert si_sdr(ref, filtered, SR) < 5


@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0])
def test_sdr_of_added_independent_noise_is_about_the_snr(snr):
    # the 512-tap projection absorbs about 512/32000 of the noise energy: SDR is ~0.07 dB above the SNR
    rng = np.random.default_rng(5)
    ref = rng.standard_normal(32000)
    noisy = ref + at_snr(ref, rng.standard_normal(32000), snr)
    assert sdr(ref, noisy, SR) == pytest.approx(snr, abs=0.25)


def test_sdr_matches_a_direct_least_squares_projection():
    # the same projection by brute force: columns are delayed copies of ref (16 taps, short signal)
    rng = np.random.default_rng(6)
    ref, est = rng.standard_normal(400), rng.standard_normal(400)
    taps = 16
    basis = np.stack([np.concatenate([np.zeros(k), ref, np.zeros(taps - 1 - k)]) for k in range(taps)], 1)
    target_est = np.concatenate([est, np.zeros(taps - 1)])
    h, *_ = np.linalg.lstsq(basis, target_est, rcond=None)
    target = basis @ h
    expected = 10 * np.log10(np.sum(target ** 2) / np.sum((target_est - target) ** 2))
    assert sdr(ref, est, SR, filter_length=taps) == pytest.approx(expected, abs=1e-6)


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


# --- DNSMOS (speechmos) ----------------------------------------------------------------------------

def test_dnsmos_rates_clean_speech_above_noisy_and_runs_p808_only_when_asked(speech, white, monkeypatch):
    pytest.importorskip("speechmos")
    from kdspeech.metrics import dnsmos

    runs = {"p835": 0, "p808": 0}
    for kind in runs:
        model = dnsmos._model(kind)
        original = model.session.run
        monkeypatch.setattr(model.session, "run", lambda *a, _k=kind, _o=original: runs.__setitem__(
            _k, runs[_k] + 1) or _o(*a), raising=False)
    names = ["dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"]
    clean = compute(names, speech, SR)
    noisy = compute(names, speech + at_snr(speech, white, 0), SR)
    per_utt = len(dnsmos.windows(np.asarray(speech, np.float32)))
    assert runs == {"p835": 2 * per_utt, "p808": 2 * per_utt}       # one run of each per window
    assert compute(names[:3], speech, SR) == {n: clean[n] for n in names[:3]}
    assert runs["p808"] == 2 * per_utt                                 # not run without dnsmos_p808
    for name in names:
        assert 1.0 <= noisy[name] < clean[name] <= 5.0, (name, clean, noisy)
    assert clean["dnsmos_bak"] > 3.5 and noisy["dnsmos_bak"] < 2.0
    # the same numbers as speechmos's own implementation of the challenge's script
    from speechmos import dnsmos as reference

    want = reference.run(np.asarray(speech, np.float32), SR)
    for ours, theirs in (("dnsmos_sig", "sig_mos"), ("dnsmos_bak", "bak_mos"), ("dnsmos_ovrl", "ovrl_mos"),
                         ("dnsmos_p808", "p808_mos")):
        assert clean[ours] == pytest.approx(float(want[theirs]), abs=1e-5)
