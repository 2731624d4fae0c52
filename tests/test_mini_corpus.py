"""The offline mini corpus of egs/mini_espeak/enh (espeak-ng speech + sox/babble noise).

Runs local/data.sh with small counts and checks the data dirs, the audio, the sentence and
speaker splits, the noise types, determinism and idempotency.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from kdspeech.data.datadir import DataDir

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "egs" / "mini_espeak" / "enh"
LOCAL = RECIPE / "local"
SMALL = ["--num_train", "6", "--num_valid", "2", "--num_test", "2", "--noise_duration", "3"]

pytestmark = [
    pytest.mark.skipif(shutil.which("espeak-ng") is None,
                       reason="espeak-ng not installed (apt-get install -y espeak-ng)"),
    pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed (apt-get install -y sox)"),
]


def run_data_sh(out, *extra):
    cmd = ["bash", str(LOCAL / "data.sh"), "--out", str(out), "--python", sys.executable, *SMALL, *extra]
    proc = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two independent runs with the same seed, plus one with another seed."""
    root = tmp_path_factory.mktemp("mini_corpus")
    for name, seed in (("a", "1"), ("b", "1"), ("seed2", "2")):
        run_data_sh(root / name, "--seed", seed)
    return root


def speech_dirs(out):
    return {s: DataDir(out / f"clean_{s}") for s in ("train", "valid", "test")}


def read_mono(path):
    x, sr = soundfile.read(path, dtype="float32", always_2d=True)
    assert x.shape[1] == 1, path
    return x[:, 0], sr


def test_data_dirs_validate(corpus):
    for name in ("clean_train", "clean_valid", "clean_test", "noise_train", "noise_test"):
        DataDir(corpus / "a" / name).validate()
    sizes = {s: len(d.utts) for s, d in speech_dirs(corpus / "a").items()}
    assert sizes == {"train": 6, "valid": 2, "test": 2}


def test_speech_audio_is_22k_mono_speech(corpus):
    speech_root = (corpus / "a" / "local" / "speech").resolve()
    for data in speech_dirs(corpus / "a").values():
        for utt, path in data.wav_scp.items():
            assert Path(path).is_absolute() and Path(path).parent == speech_root
            x, sr = read_mono(path)
            assert sr == 22050
            assert 0.5 < len(x) / sr < 10
            assert np.sqrt(np.mean(x ** 2)) > 0.01, f"{utt} is (nearly) silent"


def test_silence_trimmed_to_a_tenth_of_a_second(corpus):
    path = next(iter(DataDir(corpus / "a" / "clean_train").wav_scp.values()))
    x, sr = read_mono(path)
    active = np.flatnonzero(np.abs(x) > 0.01 * np.abs(x).max())
    assert active[0] <= 0.1 * sr + 1
    assert len(x) - 1 - active[-1] <= 0.1 * sr + 1


def test_trim_silence_keeps_speech_and_a_tenth_of_a_second():
    sys.path.insert(0, str(LOCAL))
    try:
        from make_speech import trim_silence
    finally:
        sys.path.remove(str(LOCAL))
    sr = 1000
    tone = np.sin(np.arange(500) * 0.3).astype(np.float32) + 0.5
    x = np.concatenate([np.zeros(1000), tone, np.zeros(700)]).astype(np.float32)
    y = trim_silence(x, sr)
    assert len(y) == 100 + 500 + 100
    np.testing.assert_array_equal(y[100:600], tone)
    short = np.concatenate([np.zeros(30), tone, np.zeros(20)]).astype(np.float32)
    np.testing.assert_array_equal(trim_silence(short, sr), short)


def test_texts_and_speakers(corpus):
    sentences = {line.upper() for line in (LOCAL / "sentences.txt").read_text().splitlines() if line}
    data = speech_dirs(corpus / "a")
    texts = {s: set(d.read("text").values()) for s, d in data.items()}
    for s in texts:
        assert texts[s] <= sentences, s
    assert not texts["train"] & texts["test"]
    assert not texts["valid"] & (texts["train"] | texts["test"])
    spks = {s: set(d.read("utt2spk").values()) for s, d in data.items()}
    assert not spks["test"] & spks["train"]
    assert spks["valid"] <= spks["train"]
    assert spks["test"] == {"en-us_f5", "en-gb_m5"}
    for d in data.values():
        for utt, spk in d.read("utt2spk").items():
            assert re.fullmatch(re.escape(spk) + r"-\d{4}", utt)


def test_noise_dirs(corpus):
    expect = {"noise_train": {"white", "pink", "babble"}, "noise_test": {"brown", "babble"}}
    babbles = []
    for name, types in expect.items():
        data = DataDir(corpus / "a" / name)
        utt2noise = data.read("utt2noise")
        assert set(utt2noise.values()) == types
        for utt, path in data.wav_scp.items():
            x, sr = read_mono(path)
            assert sr == 22050 and len(x) == 3 * 22050
            assert np.sqrt(np.mean(x ** 2)) > 0.01, f"{utt} is (nearly) silent"
            if utt2noise[utt] == "babble":
                babbles.append(x)
    assert not np.allclose(babbles[0], babbles[1])


def low_band_fraction(x, sr, cutoff_hz=500):
    power = np.abs(np.fft.rfft(x)) ** 2
    return power[np.fft.rfftfreq(len(x), 1 / sr) < cutoff_hz].sum() / power.sum()


def test_noise_colors(corpus):
    """White is flat (~4.5 % of its power below 500 Hz); pink and brown are ever more low-pass."""
    noise = corpus / "a" / "local" / "noise"
    frac = {c: low_band_fraction(*read_mono(noise / f"{s}_{c}.wav"))
            for s, c in (("train", "white"), ("train", "pink"), ("test", "brown"))}
    assert frac["white"] < 0.1 < 0.4 < frac["pink"] < 0.9 < frac["brown"]
    white, pink = (read_mono(noise / f"train_{c}.wav")[0] for c in ("white", "pink"))
    assert abs(np.corrcoef(white, pink)[0, 1]) < 0.1  # not the same random sequence, filtered


def kv_files(out):
    """Every data-dir file with the run's own directory replaced, so two runs can be compared."""
    files = {}
    for d in sorted(p for p in out.iterdir() if p.is_dir() and p.name != "local"):
        for f in sorted(d.iterdir()):
            files[f"{d.name}/{f.name}"] = f.read_bytes().replace(str(out.resolve()).encode(), b"OUT")
    return files


def all_audio(out):
    return {utt: read_mono(path)[0] for name in ("clean_train", "clean_valid", "clean_test",
                                                 "noise_train", "noise_test")
            for utt, path in DataDir(out / name).wav_scp.items()}


def test_same_seed_gives_identical_corpus(corpus):
    assert kv_files(corpus / "a") == kv_files(corpus / "b")
    audio_a, audio_b = all_audio(corpus / "a"), all_audio(corpus / "b")
    assert audio_a.keys() == audio_b.keys()
    for utt in audio_a:
        np.testing.assert_array_equal(audio_a[utt], audio_b[utt], err_msg=utt)


def test_other_seed_changes_the_corpus(corpus):
    text_a = DataDir(corpus / "a" / "clean_train").read("text")
    text_2 = DataDir(corpus / "seed2" / "clean_train").read("text")
    assert text_a != text_2
    babble_a = read_mono(corpus / "a" / "local" / "noise" / "train_babble.wav")[0]
    babble_2 = read_mono(corpus / "seed2" / "local" / "noise" / "train_babble.wav")[0]
    assert not np.allclose(babble_a, babble_2)


def test_rerun_skips_existing_speech(corpus, tmp_path):
    out = tmp_path / "rerun"
    shutil.copytree(corpus / "a", out, symlinks=True)
    for f in out.glob("*/wav.scp"):  # point the copy at its own files
        f.write_text(f.read_text().replace(str((corpus / "a").resolve()), str(out.resolve())))
    speech = sorted((out / "local" / "speech").glob("*.wav"))
    stamps = {p: p.stat().st_mtime_ns for p in speech}
    run_data_sh(out, "--seed", "1")
    assert {p: p.stat().st_mtime_ns for p in speech} == stamps
    assert kv_files(out) == kv_files(corpus / "a")


def test_unknown_voice_is_named(tmp_path):
    cmd = [sys.executable, str(LOCAL / "make_speech.py"), "--out_dir", str(tmp_path),
           "--voices", "en-us+m3,en-us+nosuchvariant"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "en-us+nosuchvariant" in proc.stderr
    assert not (tmp_path / "clean_train").exists()
    cmd[-1] = "xx-nolang+m3"
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 1 and "xx-nolang+m3" in proc.stderr


def test_test_voices_must_be_unseen(tmp_path):
    cmd = [sys.executable, str(LOCAL / "make_speech.py"), "--out_dir", str(tmp_path),
           "--voices", "en-us+m3,en-gb+f2", "--test_voices", "en-gb+f2"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 1 and "en-gb_f2" in proc.stderr
