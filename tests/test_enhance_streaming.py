"""``kdspeech enhance --streaming`` (kdspeech.apply.streaming): a file streamed hop by hop equals the
offline enhancement of the same file, a sox pipe of raw PCM through standard input and output gives
the same samples, a WAV stream on standard input works, and bad input is one clear error.

Tolerance: both outputs are 16-bit files, so they may differ by the rounding of one 16-bit step where
the model's float outputs differ in the last bits (streamed and offline float outputs agree within
1e-5, tests/test_streaming.py); we allow 2 steps, over the whole file except its last ``n_fft``
samples, where the offline STFT pads a mirror of the file's end that the stream meets only at its
flush (the file here is not a whole number of hops, so its zero-padded last hop differs there).
Small CRN and DCCRN exp dirs with random weights; 2.5 s of LibriSpeech speech.
"""

import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from kdspeech.console import main as kdspeech_main
from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.train.checkpoint import atomic_save

REPO = Path(__file__).resolve().parents[1]
LSB = 1 / 32768
FLAC = "librispeech/LibriSpeech/train-clean-100/909/131041/909-131041-0000.flac"
SYSTEMS = {"crn": {"channels": [8, 16, 32], "lstm_layers": 1, "lstm_hidden": 64},
           "dccrn": {"channels": [8, 16, 32], "lstm_units": 32},
           "waveunet": {"num_layers": 1, "base_channels": 2, "growth": 1, "num_decimations": 1}}
N_FFT = {"crn": 320, "dccrn": 512}


@pytest.fixture(scope="module")
def exps(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    out = {}
    for name, conf in SYSTEMS.items():
        torch.manual_seed(0)
        exp = root / name
        exp.mkdir()
        atomic_save({"model_name": name, "model_conf": conf, "model": build_model(name, conf).state_dict()},
                    exp / "best.pth")
        (exp / "config.yaml").write_text(f"task: enhancement\ndata: {{sr: 16000}}\nmodel: {{name: {name}}}\n")
        out[name] = exp
    return out


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    from conftest import corpora_path
    corpora = corpora_path()
    if corpora is None:
        pytest.skip("real corpora not found")
    x, sr = sf.read(str(corpora / FLAC), dtype="float32")
    x = x[8000:8000 + 40000 + 77]           # 2.5 s and 77 samples: not a whole number of hops
    path = tmp_path_factory.mktemp("in") / "noisy.wav"
    sf.write(str(path), x, sr, subtype="PCM_16")
    return path


def kd(*args):
    return kdspeech_main([str(a) for a in args] + ["--device", "cpu", "--num_threads", "1"])


def read(path):
    return sf.read(str(path), dtype="float32")[0]


@pytest.mark.parametrize("name", ["crn", "dccrn"])
def test_streamed_file_equals_offline_enhancement(name, exps, noisy, tmp_path):
    assert kd("enhance", "--model", exps[name], "--streaming", noisy, "--out", tmp_path / "s.wav") == 0
    assert kd("enhance", "--model", exps[name], noisy, "--out", tmp_path / "o.wav", "--chunk", 0) == 0
    streamed, offline = read(tmp_path / "s.wav"), read(tmp_path / "o.wav")
    assert len(streamed) == len(offline) == len(read(noisy))
    edge = N_FFT[name]
    diff = np.abs(streamed - offline)
    print(f"{name}: max |streamed - offline| {diff[:-edge].max() / LSB:.0f} LSB before the last {edge} samples, "
          f"{diff[-edge:].max() / LSB:.0f} LSB in them; output max {np.abs(offline).max():.3f}")
    assert np.abs(offline).max() > 100 * LSB
    assert diff[:-edge].max() <= 2 * LSB


@pytest.mark.parametrize("name", ["crn", "dccrn"])
def test_stream_hops_give_the_one_hop_stream(name, exps, noisy, tmp_path):
    """``--stream_hops 4``: the same file as one hop a step (its end, 2.5 s and 77 samples, is not a whole
    step: the hops left go through ``last_step``) within one 16-bit step; 0 is refused naming it."""
    assert kd("enhance", "--model", exps[name], "--streaming", noisy, "--out", tmp_path / "one.wav") == 0
    assert kd("enhance", "--model", exps[name], "--streaming", "--stream_hops", 4, noisy,
              "--out", tmp_path / "four.wav") == 0
    one, four = read(tmp_path / "one.wav"), read(tmp_path / "four.wav")
    assert len(one) == len(four) == len(read(noisy))
    assert np.abs(one - four).max() <= LSB and np.abs(one).max() > 100 * LSB
    with pytest.raises(KdError, match="hops_per_step must be a positive integer"):
        kd("enhance", "--model", exps[name], "--streaming", "--stream_hops", 0, noisy, "--out", tmp_path / "z.wav")


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")
def test_sox_pipe_through_stdin_and_stdout(exps, noisy, tmp_path):
    assert kd("enhance", "--model", exps["crn"], "--streaming", noisy, "--out", tmp_path / "s.wav") == 0
    raw = "-t raw -r 16000 -e signed -b 16 -c 1"
    cmd = (f"sox {noisy} {raw} - | {sys.executable} -m kdspeech enhance --model {exps['crn']} --streaming "
           f"{raw} - --out - --device cpu --num_threads 1")
    proc = subprocess.run(cmd, shell=True, capture_output=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    piped = np.frombuffer(proc.stdout, "<i2")
    assert np.array_equal(piped, sf.read(str(tmp_path / "s.wav"), dtype="int16")[0])


def stdin_of(monkeypatch, data):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_wav_stream_on_stdin_and_bad_input(exps, noisy, tmp_path, monkeypatch):
    assert kd("enhance", "--model", exps["dccrn"], "--streaming", noisy, "--out", tmp_path / "s.wav") == 0
    buf = io.BytesIO()
    x = read(noisy)
    sf.write(buf, np.stack([x, x], 1), 16000, format="WAV", subtype="PCM_16")   # two channels: averaged
    stdin_of(monkeypatch, buf.getvalue())
    assert kd("enhance", "--model", exps["dccrn"], "--streaming", "-", "--out", tmp_path / "w.wav") == 0
    assert np.array_equal(read(tmp_path / "w.wav"), read(tmp_path / "s.wav"))

    stdin_of(monkeypatch, b"")
    with pytest.raises(KdError, match="WaveUNet cannot stream: its convolutions are non-causal"):
        kd("enhance", "--model", exps["waveunet"], "--streaming", "-", "--out", "-")
    with pytest.raises(KdError, match="8000 Hz and the model runs at 16000 Hz"):
        kd("enhance", "--model", exps["crn"], "--streaming", "-t", "raw", "-r", 8000, "-", "--out", "-")
    stdin_of(monkeypatch, b"\x00\x01" * 400)
    with pytest.raises(KdError, match="not a WAV stream"):
        kd("enhance", "--model", exps["crn"], "--streaming", "-", "--out", "-")
    stdin_of(monkeypatch, b"")
    with pytest.raises(KdError, match="empty input"):
        kd("enhance", "--model", exps["crn"], "--streaming", "-t", "raw", "-", "--out", tmp_path / "e.wav")
    with pytest.raises(KdError, match="with --streaming only"):
        kd("enhance", "--model", exps["crn"], "-", "--out", tmp_path / "x.wav")
