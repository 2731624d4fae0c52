"""The data bins end to end, through subprocesses as the recipes call them."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kdspeech.data.datadir import DataDir, read_kv, write_kv


def run(module, *args, stage=None):
    env = {k: v for k, v in os.environ.items() if k != "KDSPEECH_STAGE"}
    if stage:
        env["KDSPEECH_STAGE"] = stage
    return subprocess.run([sys.executable, "-m", f"kdspeech.bin.{module}", *map(str, args)],
                          capture_output=True, text=True, env=env, check=False)


def ok(module, *args):
    proc = run(module, *args)
    assert proc.returncode == 0, proc.stderr
    return proc


def audio_of(data_dir, scp="wav.scp"):
    return {u: sf.read(p, dtype="float32")[0] for u, p in read_kv(Path(data_dir) / scp).items()}


def assert_same_dirs(a, b, scps, texts):
    for scp in scps:
        xa, xb = audio_of(a, scp), audio_of(b, scp)
        assert list(xa) == list(xb)
        for utt in xa:
            assert np.array_equal(xa[utt], xb[utt]), (scp, utt)
    for name in texts:
        assert (Path(a) / name).read_text() == (Path(b) / name).read_text(), name


# --- validate_data_dir -------------------------------------------------------------------------

def test_validate_ok_and_audio(make_data_dir):
    root = make_data_dir(n=3)
    assert "OK" in ok("validate_data_dir", root).stdout
    assert "16000 Hz" in ok("validate_data_dir", root, "--audio", "--sr", 16000).stdout
    proc = run("validate_data_dir", root, "--audio", "--sr", 8000, stage="2")
    assert proc.returncode == 1
    assert proc.stderr.startswith("ERROR [stage 2] ") and "expected 8000" in proc.stderr
    assert "spk0-utt000" in proc.stderr and "spk0-utt000.wav" in proc.stderr


def test_validate_bad_dir_names_file_and_line(make_data_dir):
    root = make_data_dir(n=3)
    (root / "utt2spk").write_text("spk1-utt001 spk1\nspk0-utt000 spk0\nspk0-utt002 spk0\n")
    proc = run("validate_data_dir", root)
    assert proc.returncode == 1 and "utt2spk:2" in proc.stderr and "not sorted" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_validate_audio_catches_broken_file(make_data_dir):
    root = make_data_dir(n=3)
    victim = Path(read_kv(root / "wav.scp")["spk1-utt001"])
    victim.write_bytes(victim.read_bytes()[:200])
    proc = run("validate_data_dir", root)  # the text files are fine
    assert proc.returncode == 0
    proc = run("validate_data_dir", root, "--audio")
    assert proc.returncode == 1 and "spk1-utt001" in proc.stderr and "truncated" in proc.stderr


# --- resample_data_dir -------------------------------------------------------------------------

def test_resample_parallel_equals_single(make_data_dir, tmp_path):
    src = make_data_dir(n=5, sr=22050, extra={"utt2label": lambda u: u[:4]})
    (src / "utt2num_samples").write_text("".join(f"{u} 1\n" for u in read_kv(src / "wav.scp")))
    one, two = tmp_path / "one", tmp_path / "two"
    ok("resample_data_dir", "--src", src, "--dst", one, "--sr", 16000)
    for job in (1, 2):
        ok("resample_data_dir", "--src", src, "--dst", two, "--sr", 16000, "--job", job, "--nj", 2)
    assert not (two / "wav.scp").exists()
    ok("resample_data_dir", "--src", src, "--dst", two, "--merge", "--nj", 2)
    assert_same_dirs(one, two, ["wav.scp"], ["utt2spk", "text", "utt2label"])
    assert not (two / "utt2num_samples").exists()  # would be wrong at the new rate
    DataDir(two).validate()
    for utt, entry in read_kv(two / "wav.scp").items():
        info = sf.info(entry)
        src_info = sf.info(read_kv(src / "wav.scp")[utt])
        assert info.samplerate == 16000
        assert info.frames == (2 * src_info.frames * 16000 + 22050) // (2 * 22050)


def test_resample_resume_skips_done_and_redoes_broken(make_data_dir, tmp_path):
    src = make_data_dir(n=3, sr=8000)
    dst = tmp_path / "dst"
    ok("resample_data_dir", "--src", src, "--dst", dst, "--sr", 16000)
    paths = list(read_kv(dst / "wav.scp").values())
    before = [Path(p).stat().st_mtime_ns for p in paths]
    reference = sf.read(paths[1])[0]
    Path(paths[1]).write_bytes(b"junk")
    os.utime(paths[0], ns=(1, 1))
    ok("resample_data_dir", "--src", src, "--dst", dst, "--sr", 16000)
    assert Path(paths[0]).stat().st_mtime_ns == 1  # kept
    assert Path(paths[2]).stat().st_mtime_ns == before[2]
    assert np.array_equal(sf.read(paths[1])[0], reference)  # redone


def test_resample_merge_with_missing_piece(make_data_dir, tmp_path):
    src = make_data_dir(n=4)
    ok("resample_data_dir", "--src", src, "--dst", tmp_path / "d", "--sr", 8000, "--job", 1, "--nj", 2)
    proc = run("resample_data_dir", "--src", src, "--dst", tmp_path / "d", "--merge", "--nj", 2)
    assert proc.returncode == 1 and "wav.scp.2" in proc.stderr and "job 2 of 2" in proc.stderr


def test_resample_bad_entry(make_data_dir, tmp_path):
    src = make_data_dir(n=3)
    wav = read_kv(src / "wav.scp")
    wav["spk0-utt002"] = str(tmp_path / "missing.wav")
    write_kv(src / "wav.scp", wav)
    proc = run("resample_data_dir", "--src", src, "--dst", tmp_path / "d", "--sr", 8000)
    assert proc.returncode == 1
    assert "missing.wav" in proc.stderr and "spk0-utt002" in proc.stderr


# --- mix_data_dir ------------------------------------------------------------------------------

MIX_TEXTS = ["utt2snr", "utt2noise", "utt2spk", "text", "plan.tsv"]


@pytest.fixture
def clean_and_noise(make_data_dir):
    clean = make_data_dir(n=4, name="clean", dur=1.0)
    noise = make_data_dir(n=3, name="noise", dur=0.4, num_spk=1, text=False, seed=7,
                          extra={"utt2label": lambda u: f"type{u[-1]}"})
    return clean, noise


def mix_args(clean, noise, out, *extra):
    return ["--clean", clean, "--noise", noise, "--out", out, "--snrs", "-5,0,7.5",
            "--mixtures_per_utt", 2, "--seed", 3, *extra]


def test_mix_parallel_equals_single(clean_and_noise, tmp_path):
    clean, noise = clean_and_noise
    one, two = tmp_path / "one", tmp_path / "two"
    ok("mix_data_dir", *mix_args(clean, noise, one))
    ok("mix_data_dir", *mix_args(clean, noise, two, "--plan"))
    for job in (2, 1):
        ok("mix_data_dir", *mix_args(clean, noise, two, "--job", job, "--nj", 2))
    ok("mix_data_dir", *mix_args(clean, noise, two, "--merge", "--nj", 2))
    assert_same_dirs(one, two, ["wav.scp", "spk1.scp", "noise1.scp"], MIX_TEXTS)
    data = DataDir(two).validate()
    assert len(data.utts) == 8
    snrs = {u: float(v) for u, v in data.read("utt2snr").items()}
    assert set(snrs.values()) <= {-5.0, 0.0, 7.5} and len(set(snrs.values())) == 3
    assert set(data.read("utt2noise").values()) <= {"type0", "type1", "type2"}
    clean_spk = read_kv(clean / "utt2spk")
    for utt in data.utts:
        source = utt.split("__")[0]
        assert data.read("utt2spk")[utt] == clean_spk[source]
        assert data.read("text")[utt] == read_kv(clean / "text")[source]
    mix, ref, nse = (audio_of(two, s) for s in ("wav.scp", "spk1.scp", "noise1.scp"))
    for utt in data.utts:
        assert len(mix[utt]) == len(ref[utt]) == len(nse[utt]) == len(audio_of(clean)[utt.split("__")[0]])
        assert np.max(np.abs(mix[utt] - ref[utt] - nse[utt])) <= 2.5 / 32768
        achieved = 10 * np.log10(np.sum(ref[utt].astype(float) ** 2) / np.sum(nse[utt].astype(float) ** 2))
        assert abs(achieved - snrs[utt]) < 0.05
        assert np.max(np.abs(mix[utt])) <= 0.99 + 1e-4


def test_mix_num_mixtures_and_separate_snr_arg(clean_and_noise, tmp_path):
    clean, noise = clean_and_noise
    out = tmp_path / "mix"
    ok("mix_data_dir", "--clean", clean, "--noise", noise, "--out", out, "--snrs", "-10,10",
       "--num_mixtures", 6, "--sr", 16000)
    snrs = list(read_kv(out / "utt2snr").values())
    assert len(snrs) == 6 and sorted(snrs) == ["-10"] * 3 + ["10"] * 3  # balanced


def test_mix_plan_with_other_options_is_an_error(clean_and_noise, tmp_path):
    clean, noise = clean_and_noise
    out = tmp_path / "mix"
    ok("mix_data_dir", *mix_args(clean, noise, out, "--plan"))
    proc = run("mix_data_dir", "--clean", clean, "--noise", noise, "--out", out, "--snrs", "0",
               "--job", 1, "--nj", 2)
    assert proc.returncode == 1 and "plan.tsv" in proc.stderr and "other options" in proc.stderr


def test_mix_sample_rate_mismatch(make_data_dir, tmp_path):
    clean = make_data_dir(n=2, name="clean")
    noise = make_data_dir(n=1, name="noise8k", sr=8000)
    proc = run("mix_data_dir", "--clean", clean, "--noise", noise, "--out", tmp_path / "m",
               "--snrs", "0", "--sr", 16000)
    assert proc.returncode == 1
    assert "noise8k/wav.scp" in proc.stderr and "8000 Hz" in proc.stderr and "spk0-utt000" in proc.stderr


# --- real audio --------------------------------------------------------------------------------

def test_real_librispeech(corpora, tmp_path):
    flacs = sorted((corpora / "librispeech").rglob("*.flac"))[:3]
    noises = sorted((corpora / "noise" / "noisex92").glob("*.flac"))[:2]
    if len(flacs) < 3 or len(noises) < 2:
        pytest.skip("librispeech or noisex92 files missing from the corpora")
    clean, noise = tmp_path / "clean", tmp_path / "noise"
    write_kv(clean / "wav.scp", {p.stem: p for p in flacs})
    write_kv(clean / "utt2spk", {p.stem: p.stem.split("-")[0] for p in flacs})
    write_kv(noise / "wav.scp", {p.stem: p for p in noises})
    ok("validate_data_dir", clean, "--audio", "--sr", 16000)
    ok("mix_data_dir", "--clean", clean, "--noise", noise, "--out", tmp_path / "mix", "--snrs", "0,5")
    ok("validate_data_dir", tmp_path / "mix", "--audio", "--sr", 16000)
    ok("resample_data_dir", "--src", tmp_path / "mix", "--dst", tmp_path / "mix8k", "--sr", 8000,
       "--nj", 2)
    ok("validate_data_dir", tmp_path / "mix8k", "--audio", "--sr", 8000)
    data = DataDir(tmp_path / "mix8k")
    assert len(data.utts) == 3 and data.has("noise1.scp") and data.has("utt2snr")
    for utt in data.utts:
        x = sf.read(data.read("wav.scp")[utt])[0]
        ref = sf.read(data.read("spk1.scp")[utt])[0] + sf.read(data.read("noise1.scp")[utt])[0]
        assert np.max(np.abs(x - ref)) < 1e-3  # one scale factor kept the mixture consistent


def test_resample_overshoot_scales_mixture_parts_together(tmp_path):
    """A near-full-scale square wave overshoots after resampling: all three files share one factor."""
    sr, n = 16000, 8000
    square = 0.9 * np.sign(np.sin(2 * np.pi * 450 * np.arange(n) / sr)).astype(np.float32)
    noise = (0.05 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
    src = tmp_path / "src"
    scps = {}
    for name, x in (("wav.scp", square + noise), ("spk1.scp", square), ("noise1.scp", noise)):
        path = tmp_path / f"{name}.wav"
        sf.write(str(path), x, sr, subtype="FLOAT")
        scps[name] = {"u1": path}
        write_kv(src / name, scps[name])
    proc = ok("resample_data_dir", "--src", src, "--dst", tmp_path / "dst", "--sr", 8000)
    assert "scaled down" in proc.stderr
    mix, ref, nse = (audio_of(tmp_path / "dst", s)["u1"] for s in ("wav.scp", "spk1.scp", "noise1.scp"))
    assert np.max(np.abs(mix)) <= 1.0 and np.max(np.abs(mix)) > 0.95
    assert np.max(np.abs(mix - ref - nse)) <= 2.5 / 32768


# --- sample rates: mixed rates are named, and an error when the recipe asks for one rate --------

def corpus_with_one_odd_rate(make_data_dir):
    """Four utterances at 16 kHz, the third one re-written at 22.05 kHz."""
    src = make_data_dir(n=4, sr=16000)
    odd = read_kv(src / "wav.scp")["spk0-utt002"]
    x, _ = sf.read(odd, dtype="float32")
    sf.write(odd, x[: int(len(x) * 22050 / 16000)], 22050, subtype="PCM_16")
    return src, odd


def test_resample_warns_naming_the_file_at_another_rate(make_data_dir, tmp_path):
    src, odd = corpus_with_one_odd_rate(make_data_dir)
    proc = ok("resample_data_dir", "--src", src, "--dst", tmp_path / "d", "--sr", 8000, "--nj", 2)
    assert "WARNING" in proc.stderr
    assert ("1 of 4 recordings are not at 16000 Hz like the rest: spk0-utt002 at 22050 Hz "
            f"({odd})") in proc.stderr
    assert "spk1-utt001" not in proc.stderr
    assert len(read_kv(tmp_path / "d" / "wav.scp")) == 4        # converted all the same
    proc = ok("resample_data_dir", "--src", make_data_dir(n=3, name="same"), "--dst", tmp_path / "e",
              "--sr", 8000)
    assert "WARNING" not in proc.stderr                          # one rate: nothing to say


def test_resample_strict_rate_fails_naming_the_file(make_data_dir, tmp_path):
    src, odd = corpus_with_one_odd_rate(make_data_dir)
    proc = run("resample_data_dir", "--src", src, "--dst", tmp_path / "d", "--sr", 8000,
               "--strict_rate", "true", stage="2 (resample)")
    assert proc.returncode == 1
    assert "ERROR [stage 2 (resample)]" in proc.stderr
    assert "spk0-utt002 at 22050 Hz" in proc.stderr and str(src / "wav.scp") in proc.stderr
    assert not (tmp_path / "d" / "wav.scp").exists()             # nothing merged
    # A resumed run (all WAVs already converted) still knows the source rates.
    ok("resample_data_dir", "--src", src, "--dst", tmp_path / "d", "--sr", 8000)
    proc = run("resample_data_dir", "--src", src, "--dst", tmp_path / "d", "--sr", 8000,
               "--strict_rate", "true")
    assert proc.returncode == 1 and "spk0-utt002 at 22050 Hz" in proc.stderr
    assert run("resample_data_dir", "--src", src, "--dst", tmp_path / "d", "--sr", 8000,
               "--strict_rate", "yes").returncode == 2


def test_dump_feats_warns_or_fails_on_another_rate(make_data_dir, tmp_path):
    src, _ = corpus_with_one_odd_rate(make_data_dir)
    proc = ok("dump_feats", "--data", src, "--rate", 1000, "--out", tmp_path / "f", "--duration", 0.5)
    assert "spk0-utt002 at 22050 Hz" in proc.stderr and "WARNING" in proc.stderr
    assert np.load(tmp_path / "f" / "feats.npy").shape[0] == 4
    proc = run("dump_feats", "--data", src, "--rate", 1000, "--out", tmp_path / "g", "--duration",
               0.5, "--strict_rate", "true")
    assert proc.returncode == 1 and "spk0-utt002 at 22050 Hz" in proc.stderr
    assert not (tmp_path / "g" / "feats.npy").exists()


def test_dump_feats_duration_auto_is_the_longest_clip_and_says_what_it_pads(tmp_path):
    """--duration auto (cls.sh's default): the longest clip rounded up to 0.1 s, from utt2dur when the
    dir has one; the clips it pads or cuts counted in a WARNING; an outlier named."""
    data = tmp_path / "d"
    wavs = {}
    for utt, seconds in (("a", 0.5), ("b", 1.23), ("c", 0.3)):
        wavs[utt] = tmp_path / f"{utt}.wav"
        sf.write(wavs[utt], np.full(int(seconds * 16000), 0.1, np.float32), 16000)
    write_kv(data / "wav.scp", wavs)
    assert ok("dump_feats", "--data", data, "--print_duration").stdout.strip() == "1.3"
    proc = ok("dump_feats", "--data", data, "--rate", 1000, "--out", tmp_path / "f", "--duration", "auto")
    assert "1.3 s per clip (--duration auto): 3 of 3 clips zero-padded, 0 cut" in proc.stderr
    proc = ok("dump_feats", "--data", data, "--rate", 1000, "--out", tmp_path / "g", "--duration", 1.0)
    assert "1 s per clip (--duration 1.0): 2 of 3 clips zero-padded, 1 cut" in proc.stderr
    write_kv(data / "utt2dur", {"a": "0.5", "b": "9.0", "c": "0.3"})   # utt2dur is read, not the audio
    proc = ok("dump_feats", "--data", data, "--print_duration")
    assert proc.stdout.strip() == "9" and "clip b is 9.0 s, over 3 times the median clip (0.5 s)" in proc.stderr
    assert "--duration 0.5 would cut 1 of the 3 clips instead" in proc.stderr


def test_resample_and_dump_feats_with_segments(tmp_path):
    """wav.scp of recordings, segments of utterances: recordings are converted, features are per
    utterance (segment)."""
    sr = 16000
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    src.mkdir()
    wav = {}
    for reco in ("r1", "r2"):
        sf.write(src / f"{reco}.wav", (0.1 * rng.standard_normal(2 * sr)).astype(np.float32), sr)
        wav[reco] = src / f"{reco}.wav"
    write_kv(src / "wav.scp", wav)
    write_kv(src / "segments", {"r1-a": "r1 0 1", "r1-b": "r1 1 2", "r2-a": "r2 0.5 1.5"})
    write_kv(src / "utt2label", {"r1-a": "dog", "r1-b": "cat", "r2-a": "dog"})
    ok("resample_data_dir", "--src", src, "--dst", tmp_path / "d", "--sr", 8000, "--nj", 2)
    out = DataDir(tmp_path / "d").validate()
    assert out.recordings == ["r1", "r2"] and out.utts == ["r1-a", "r1-b", "r2-a"]
    assert len(out.load_audio("r2-a")[0]) == 8000
    ok("dump_feats", "--data", src, "--rate", 16000, "--out", tmp_path / "f", "--duration", 1.0)
    assert (tmp_path / "f" / "utts.txt").read_text().split() == ["r1-a", "r1-b", "r2-a"]
    feats = np.load(tmp_path / "f" / "feats.npy")
    assert feats.shape[0] == 3 and not np.allclose(feats[0], feats[1])
