"""The classical baseline of egs/librispeech/asr_enh: the parameter-free Wiener filter (kdspeech.models.
wiener) and the verb that makes its model file (kdspeech.bin.make_classical)."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters
from kdspeech.train.checkpoint import load_model


def snr_db(clean, est):
    return 10 * np.log10(np.sum(clean ** 2) / np.sum((clean - est) ** 2))


def test_wiener_raises_snr_of_real_speech(corpora):
    clean, sr = sf.read(corpora / "asr" / "mini_ljspeech" / "wavs" / sorted(
        p.name for p in (corpora / "asr" / "mini_ljspeech" / "wavs").glob("*.flac"))[0], dtype="float32")
    noise = np.random.default_rng(0).standard_normal(len(clean)).astype(np.float32)
    noise *= np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2)) * 10 ** (-5 / 20)   # 5 dB white noise
    model = build_model("wiener")
    assert count_parameters(model) == 0
    with torch.inference_mode():
        est = model(torch.from_numpy(clean + noise)).numpy()
        batch = model(torch.from_numpy(np.stack([clean + noise, clean + noise]))).numpy()
    assert est.shape == clean.shape and np.allclose(batch[0], est, atol=1e-5)
    assert snr_db(clean, est) > snr_db(clean, clean + noise) + 3.0     # measured: 5.0 -> ~10 dB


def test_wiener_leaves_silence_quiet_and_rejects_bad_options():
    model = build_model("wiener")
    x = torch.zeros(1, 8000)
    assert torch.all(model(x).abs() < 1e-6)
    with pytest.raises(KdError, match="hop"):
        build_model("wiener", {"hop": 0})
    with pytest.raises(KdError, match="alpha"):
        build_model("wiener", {"alpha": 1.5})
    with pytest.raises(KdError, match="waveform"):
        model(torch.zeros(1, 1, 100))


def test_make_classical_writes_a_loadable_model(tmp_path):
    out = tmp_path / "exp" / "wiener"
    subprocess.run([sys.executable, "-m", "kdspeech.bin.make_classical", "--model", "wiener", "--out", str(out),
                    "--conf", '{"gain_floor_db": -15}'], check=True, capture_output=True, timeout=120)
    model = load_model(out)
    assert model.floor == pytest.approx(10 ** (-15 / 20))
    proc = subprocess.run([sys.executable, "-m", "kdspeech.bin.make_classical", "--model", "dccrn",
                           "--out", str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "parameters" in proc.stderr and not (tmp_path / "x" / "best.pth").exists()
