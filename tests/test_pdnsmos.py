"""Personalized DNSMOS (PDNSMOS) and the input check it shares with DNSMOS: clean LibriSpeech speech
rates above the same speech with real noise at 0 dB, one model pass per utterance for the three
numbers, and the strict / resample handling of a wrong rate or a peak above 1."""

import logging

import numpy as np
import pytest
import soundfile as sf

from kdspeech.data.audio import load_audio
from kdspeech.errors import KdError
from kdspeech.metrics import compute, registry

pytest.importorskip("speechmos")
SR = 16000
PDNSMOS = ["pdnsmos_sig", "pdnsmos_bak", "pdnsmos_ovrl"]


@pytest.fixture(scope="module")
def clean_and_noisy():
    from conftest import corpora_path

    root = corpora_path()
    if root is None:
        pytest.skip("real corpora not found")
    speech, _ = load_audio(root / "librispeech/LibriSpeech/train-clean-100/83/11691/83-11691-0000.flac", sr=SR)
    noise, noise_sr = load_audio(root / "noise/noisex92/babble.flac")
    if noise_sr != SR:
        from kdspeech.data.resample import resample
        noise = resample(noise, noise_sr, SR)
    noise = np.resize(noise, len(speech)).astype(np.float64)
    speech = speech.astype(np.float64)
    noise *= np.sqrt(np.sum(speech ** 2) / np.sum(noise ** 2))  # 0 dB
    noisy = speech + noise
    scale = 0.9 / np.max(np.abs(noisy))
    return speech * scale, noisy * scale


def test_pdnsmos_is_registered_nonintrusive_in_one_family():
    for name in PDNSMOS:
        assert registry.get(name).kind == "nonintrusive"
    families = registry.families(PDNSMOS + ["dnsmos_ovrl"])
    assert [names for _, names in families] == [PDNSMOS, ["dnsmos_ovrl"]]


def test_clean_speech_rates_above_noisy_with_dnsmos_and_pdnsmos(clean_and_noisy, monkeypatch):
    from kdspeech.metrics import pdnsmos

    clean, noisy = clean_and_noisy
    model = pdnsmos._model()
    runs = []
    original = model.session.run
    monkeypatch.setattr(model.session, "run", lambda *a: runs.append(1) or original(*a), raising=False)
    ours = compute(PDNSMOS, clean, SR), compute(PDNSMOS, noisy, SR)
    windows = int(np.floor(len(clean) / SR) - 9.01) + 1 if len(clean) >= 9.01 * SR else 1
    assert len(runs) == 2 * windows  # one P.835 pass per window, nothing more, for all three numbers
    for name in PDNSMOS:
        assert 1.0 <= ours[1][name] <= 5.0 and 1.0 <= ours[0][name] <= 5.0
    assert ours[0]["pdnsmos_bak"] > ours[1]["pdnsmos_bak"] + 0.5
    assert ours[0]["pdnsmos_ovrl"] > ours[1]["pdnsmos_ovrl"]
    names = ["dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"]
    plain = compute(names, clean, SR), compute(names, noisy, SR)
    assert plain[0]["dnsmos_bak"] > plain[1]["dnsmos_bak"] + 0.5
    assert plain[0]["dnsmos_ovrl"] > plain[1]["dnsmos_ovrl"]
    # the personalized calibration is a different mapping of a different model
    assert ours[0]["pdnsmos_ovrl"] != pytest.approx(plain[0]["dnsmos_ovrl"], abs=1e-6)


@pytest.mark.parametrize("names", [PDNSMOS, ["dnsmos_ovrl"]])
def test_strict_mode_rejects_other_rates_and_peaks_above_one(names, monkeypatch):
    monkeypatch.setenv("KDSPEECH_DNSMOS_INPUT", "strict")
    x = 0.1 * np.random.default_rng(0).standard_normal(SR)
    with pytest.raises(KdError, match="needs 16000 Hz audio, got 8000 Hz"):
        compute(names, x[:8000], 8000)
    with pytest.raises(KdError, match="samples in \\[-1, 1\\], the signal peaks at 2.000"):
        compute(names, np.concatenate([x, [2.0]]), SR)
    monkeypatch.setenv("KDSPEECH_DNSMOS_INPUT", "fix")
    with pytest.raises(KdError, match="KDSPEECH_DNSMOS_INPUT='fix'"):
        compute(names, x, SR)


def test_default_mode_resamples_and_clips_with_warnings(caplog):
    from kdspeech.metrics.dnsmos import check_input

    x = 0.1 * np.random.default_rng(0).standard_normal(8000)
    x[10] = 1.5
    with caplog.at_level(logging.WARNING):
        y = check_input(x, 8000, "PDNSMOS")
    assert len(y) == SR and np.max(np.abs(y)) <= 1.0
    assert "resampled to 16000 Hz" in caplog.text and "clipped to [-1, 1]" in caplog.text
    assert check_input(np.zeros(SR), SR) is None  # all zeros: NaN scores


def test_score_verb_names_the_utterance_and_file_in_strict_mode(tmp_path, monkeypatch):
    from kdspeech.bin.score import main

    loud = tmp_path / "loud.wav"
    sf.write(loud, np.concatenate([0.1 * np.ones(SR), [1.5]]).astype(np.float32), SR, subtype="FLOAT")
    scp = tmp_path / "est.scp"
    scp.write_text(f"utt_loud {loud}\n")
    monkeypatch.setenv("KDSPEECH_DNSMOS_INPUT", "strict")
    with pytest.raises(KdError, match=f"utterance utt_loud \\({scp}\\): PDNSMOS .*peaks at 1.500"):
        main(["--est_scp", str(scp), "--out_dir", str(tmp_path / "score"), "--metrics", "pdnsmos_ovrl"])
