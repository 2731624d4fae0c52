"""The kdspeech command and packed models: pack, load, enhance (bad files, any rate, long recordings),
classify, embed, verify, transcribe."""

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import kdspeech
from apply_fixtures import STAMP, SUMMARY, make_systems
from kdspeech.apply.chunking import window_edges
from kdspeech.data.datadir import write_kv
from kdspeech.data.resample import resample
from kdspeech.errors import KdError
from kdspeech.train.checkpoint import load_model

REPO = Path(__file__).resolve().parents[1]
LSB = 1 / 32768


def assert_same_audio(a, b):
    """Two processes' outputs of the same model and input: equal up to one 16-bit step.  Two runs may
    round a float apart (oneDNN/MKL choose kernels by memory alignment; CI once saw a 1-LSB step)."""
    x, y = read_wav(a)[0], read_wav(b)[0]
    assert len(x) == len(y) and np.max(np.abs(x - y), initial=0) <= LSB, (a, b)


def kd(*args, cwd=None):
    """``python -m kdspeech ARGS`` (the console script's code) in a subprocess."""
    env = {k: v for k, v in os.environ.items() if k != "KDSPEECH_STAGE"}
    return subprocess.run([sys.executable, "-m", "kdspeech", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, check=False)


def peak_rss_mb(*args):
    """``(completed process, peak RSS in MB)`` of ``python -m kdspeech ARGS`` (the only child of a
    fresh wrapper process, so RUSAGE_CHILDREN is its own peak)."""
    wrapper = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "sys.stderr.write(p.stderr); "
               "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "kdspeech", *map(str, args)],
                          capture_output=True, text=True, check=False)
    rc, kb = proc.stdout.split()
    return int(rc), int(kb) / 1024, proc.stderr


@pytest.fixture(scope="module")
def systems(tmp_path_factory):
    return make_systems(tmp_path_factory.mktemp("systems"))


@pytest.fixture(scope="module")
def packed(systems, tmp_path_factory):
    out = tmp_path_factory.mktemp("packed") / "tiny.zip"
    proc = kd("pack", systems / "exp" / "tiny", out)
    assert proc.returncode == 0, proc.stderr
    return out


def read_wav(path):
    return sf.read(str(path), dtype="float32")


def enhance_in_process(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)[None])[0].numpy()


# --- packed models -----------------------------------------------------------------------------

def test_pack_holds_card_weights_and_provenance(systems, packed):
    exp = systems / "exp" / "tiny"
    with zipfile.ZipFile(packed) as archive:
        assert sorted(archive.namelist()) == ["config.yaml", "env.json", "kdspeech.json", "model.pth"]
        assert archive.read("config.yaml").decode() == (exp / "config.yaml").read_text()
    model = kdspeech.load(packed)
    card = model.meta
    assert not model.training and card["format_version"] == 1
    assert card["task"] == "enhancement" and card["sr"] == 16000
    assert card["input"] == {"kind": "waveform", "sr": 16000, "channels": 1} == {**card["output"]}
    assert card["model"]["name"] == "waveunet" and card["model"]["conf"]["num_decimations"] == 2
    assert card["weights"]["averaged_epochs"] == 2 and card["weights"]["selected_by"]["key"] == "valid.loss"
    env = json.loads((exp / "env.json").read_text())
    prov = card["provenance"]
    assert prov["recipe"] == "egs/mine/enh" and prov["system"] == "tiny" and prov["commit"] == env["git"]
    assert prov["stage"]["fingerprint"] == "5f1c0ffee" and prov["stage"]["inputs"] == "1234abcd"
    assert prov["stage"]["deps"] == {"dump/mix/train": "1111aaaa", "dump/mix/valid": "2222bbbb"}
    assert "fingerprint 5f1c0ffee" in STAMP
    assert card["scores"] == {"score_test": SUMMARY}
    reference = load_model(exp)                    # best.pth: the average of the two best epochs
    for key, value in reference.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    x = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1
    assert np.array_equal(enhance_in_process(model, x), enhance_in_process(reference, x))
    from_exp = kdspeech.load(exp)
    assert from_exp.meta["provenance"] == prov and not from_exp.training
    info = kd("info", packed)
    assert info.returncode == 0 and json.loads(info.stdout)["provenance"]["recipe"] == "egs/mine/enh"


def test_newer_or_foreign_packed_file_is_one_clear_error(packed, tmp_path, tmp_wav):
    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(packed) as src, zipfile.ZipFile(newer, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "kdspeech.json":
                card = json.loads(data)
                card["format_version"] = 99
                data = json.dumps(card).encode()
            dst.writestr(name, data)
    proc = kd("enhance", "--model", newer, tmp_wav("a.wav"), "--out", tmp_path / "out")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and str(newer) in errors[0]
    assert "format 99" in errors[0] and "update kdspeech" in errors[0]
    assert not (tmp_path / "out").exists()
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as dst:
        dst.writestr("readme.txt", "hello")
    with pytest.raises(KdError, match="not a packed kdspeech model"):
        kdspeech.load(foreign)


def test_pack_errors_name_what_to_give(systems, tmp_path):
    with pytest.raises(KdError, match="model file not found"):
        kdspeech.load(systems / "data")
    from kdspeech.packing.describe import describe

    card = describe(systems / "exp" / "cls")                     # the view and classes from the dump
    assert card["input"]["view_rate"] == 1000 and card["input"]["duration"] == 0.5
    assert card["output"]["classes"] == ["dog", "rain"]
    copy = tmp_path / "cls"
    copy.mkdir()
    for name in ("best.pth", "config.yaml"):                      # no env.json, no dump beside it
        (copy / name).write_bytes((systems / "exp" / "cls" / name).read_bytes())
    proc = kd("pack", copy, tmp_path / "cls.zip")
    assert proc.returncode == 1 and "--view_rate and --duration" in proc.stderr
    (tmp_path / "classes.txt").write_text("dog\nrain\n")
    proc = kd("pack", copy, tmp_path / "cls.zip", "--view_rate", 1000, "--duration", 0.5, "--classes",
              tmp_path / "classes.txt")
    assert proc.returncode == 0, proc.stderr
    assert kdspeech.load(tmp_path / "cls.zip").meta["output"]["classes"] == ["dog", "rain"]


# --- the command -------------------------------------------------------------------------------

def test_help_and_entry_point():
    proc = kd("--help")
    assert proc.returncode == 0 and "usage: kdspeech" in proc.stdout
    for sub in ("enhance", "classify", "embed", "verify", "transcribe", "pack", "info"):
        assert sub in proc.stdout
        sub_help = kd(sub, "--help")
        assert sub_help.returncode == 0 and "usage:" in sub_help.stdout, sub
    assert "--device {auto,cpu,cuda}" in kd("enhance", "--help").stdout
    tree = ast.parse((REPO / "setup.py").read_text())
    scripts = [ast.literal_eval(k.value) for node in ast.walk(tree) if isinstance(node, ast.Call)
               for k in node.keywords if k.arg == "entry_points"]
    assert scripts == [{"console_scripts": ["kdspeech = kdspeech.console:console"]}]
    from kdspeech.console import console  # noqa: F401  (the entry point resolves)


def test_enhance_folder_of_any_rate_with_bad_files(packed, systems, tmp_path):
    folder = tmp_path / "in"
    rng = np.random.default_rng(1)
    good = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    stereo = (0.1 * rng.standard_normal((22050, 2))).astype(np.float32)
    (folder / "sub").mkdir(parents=True)
    sf.write(str(folder / "good.wav"), good, 16000, subtype="FLOAT")
    sf.write(str(folder / "sub" / "stereo 44k.flac"), stereo, 44100)
    sf.write(str(folder / "sub" / "low.wav"), good[::2], 8000, subtype="FLOAT")
    sf.write(str(folder / "empty.wav"), np.zeros(0, np.float32), 16000)
    (folder / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    (folder / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    proc = kd("enhance", "--model", packed, folder, "--out", out, "--device", "cpu")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 2
    assert any("broken.wav" in e and "cannot decode" in e for e in errors)
    assert any("empty.wav" in e and "empty" in e for e in errors)
    assert "2 of 5 inputs failed" in proc.stderr
    notices = [line for line in proc.stderr.splitlines() if line.startswith("notice:")]
    assert len(notices) == 2
    assert any("44100 Hz -> 16000 Hz" in n and "2 channels down-mixed" in n and "stereo 44k.flac" in n for n in notices)
    assert any("8000 Hz -> 16000 Hz" in n and "low.wav" in n for n in notices)
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert written == ["good.wav", "sub", "sub/low.wav", "sub/stereo 44k.wav"]      # no temp files left
    model = kdspeech.load(packed)
    y, rate = read_wav(out / "good.wav")
    assert rate == 16000 and np.max(np.abs(y - np.clip(enhance_in_process(model, good), -1, 1))) <= LSB
    x44, _ = sf.read(str(folder / "sub" / "stereo 44k.flac"), dtype="float32")
    expected = enhance_in_process(model, resample(x44.T.mean(axis=0, dtype=np.float32), 44100, 16000))
    y, rate = read_wav(out / "sub" / "stereo 44k.wav")
    assert rate == 16000 and len(y) == len(expected) and np.max(np.abs(y - expected)) <= 2 * LSB

    by_exp = tmp_path / "by_exp.wav"                                    # an exp dir works the same
    proc = kd("enhance", "--model", systems / "exp" / "tiny", folder / "good.wav", "--out", by_exp)
    assert proc.returncode == 0, proc.stderr
    assert_same_audio(by_exp, out / "good.wav")


def test_enhance_inputs_lists_data_dirs_and_empty_folders(packed, tmp_path, tmp_wav):
    a, b = tmp_wav("clips/a.wav", seed=1), tmp_wav("clips/deep/b.wav", seed=2)
    (tmp_path / "list.txt").write_text("clips/a.wav\n# a comment\nclips/deep/b.wav\n")
    assert kd("enhance", "--model", packed, tmp_path / "list.txt", "--out", tmp_path / "o1").returncode == 0
    assert sorted(p.name for p in (tmp_path / "o1").rglob("*.wav")) == ["a.wav", "b.wav"]
    assert (tmp_path / "o1" / "clips" / "deep" / "b.wav").is_file()
    data = tmp_path / "data"
    write_kv(data / "wav.scp", {"utt1": str(a), "utt2": f"cat {b} |"})
    assert kd("enhance", "--model", packed, data, "--out", tmp_path / "o2").returncode == 0
    assert_same_audio(tmp_path / "o2" / "utt2.wav", tmp_path / "o1" / "clips" / "deep" / "b.wav")
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "readme.txt").write_text("x")
    proc = kd("enhance", "--model", packed, tmp_path / "none", "--out", tmp_path / "o3")
    assert proc.returncode == 1 and "no audio files" in proc.stderr and str(tmp_path / "none") in proc.stderr
    proc = kd("enhance", "--model", packed, a, tmp_path / "clips", "--out", tmp_path / "o4")
    assert proc.returncode == 1 and "two inputs have the output name 'a'" in proc.stderr


def test_chunks_of_a_strided_model_equal_whole_processing_away_from_borders(packed):
    from kdspeech.apply.chunking import overlap_add
    from kdspeech.apply.enhance import enhancer

    model = kdspeech.load(packed)                     # Wave-U-Net with 2 decimations: stride 4
    x = (0.1 * np.random.default_rng(3).standard_normal(16000 * 20)).astype(np.float32)
    whole = enhancer(model, "cpu")(x)
    blocks = []
    overlap_add(lambda a, b: x[a:b], len(x), enhancer(model, "cpu"), 16000 * 3, 8000, blocks.append)
    y = np.concatenate(blocks)
    edges = np.array(window_edges(len(x), 16000 * 3, 8000))
    far = np.min(np.abs(np.arange(len(x))[:, None] - edges[None]), axis=1) > 800
    assert np.max(np.abs(y - whole)[far]) < 1e-5
    blocks = []                                         # a hop that is not a multiple of the stride
    overlap_add(lambda a, b: x[a:b], len(x), enhancer(model, "cpu"), 16000 * 3 + 1, 8000, blocks.append)
    assert np.max(np.abs(np.concatenate(blocks) - whole)) > 1e-3


LONG_S, CHUNK_S, OVERLAP_S = 600, 10, 1
# The 10-minute recording may cost at most this much over a 10-second one.  Measured here: 10 s 665 MB,
# 10 min chunked 681-755 MB from run to run (allocator fragmentation over 60 chunks), whole 3948 MB.
MEMORY_MARGIN_MB = 192
BORDER_S = 0.05             # "away from chunk borders": more than this from any window edge


def test_ten_minute_recording_in_bounded_memory_equals_whole_file_away_from_borders(systems, tmp_path):
    sr = 16000
    t = np.arange(LONG_S * sr) / sr
    rng = np.random.default_rng(0)
    x = (0.2 * np.sin(2 * np.pi * 300 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * t))
         + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    sf.write(str(tmp_path / "long.wav"), x, sr, subtype="PCM_16")
    sf.write(str(tmp_path / "short.wav"), x[:10 * sr], sr, subtype="PCM_16")
    model = systems / "exp" / "conv"                  # purely convolutional: receptive field 44 samples
    common = ["--model", model, "--num_threads", 1, "--chunk", CHUNK_S, "--overlap", OVERLAP_S]
    rc, short_mb, err = peak_rss_mb("enhance", tmp_path / "short.wav", "--out", tmp_path / "short_out.wav", *common)
    assert rc == 0, err
    rc, long_mb, err = peak_rss_mb("enhance", tmp_path / "long.wav", "--out", tmp_path / "chunked.wav", *common)
    assert rc == 0, err
    rc, whole_mb, err = peak_rss_mb("enhance", tmp_path / "long.wav", "--out", tmp_path / "whole.wav",
                                    "--model", model, "--num_threads", 1, "--chunk", 0)
    assert rc == 0, err
    print(f"peak RSS: 10 s file {short_mb:.0f} MB, 10 min chunked {long_mb:.0f} MB, 10 min whole {whole_mb:.0f} MB")
    assert long_mb < short_mb + MEMORY_MARGIN_MB
    assert whole_mb > long_mb + 200                   # processing it whole would not be bounded
    chunked, _ = sf.read(str(tmp_path / "chunked.wav"), dtype="int16")
    whole, _ = sf.read(str(tmp_path / "whole.wav"), dtype="int16")
    assert len(chunked) == len(whole) == len(x)
    edges = np.array(window_edges(len(x), CHUNK_S * sr, OVERLAP_S * sr))
    index = np.arange(len(x))
    after = np.searchsorted(edges, index)
    distance = np.minimum(np.abs(index - edges[np.maximum(after - 1, 0)]),
                          np.abs(edges[np.minimum(after, len(edges) - 1)] - index))
    far = distance > BORDER_S * sr
    difference = np.abs(chunked.astype(np.int32) - whole.astype(np.int32))
    print(f"away from borders: {far.mean():.4f} of the samples, max difference {difference[far].max()} LSB; "
          f"near them: max {difference[~far].max()} LSB")
    assert difference[far].max() <= 1                 # one 16-bit step: the rounding of equal floats


def test_classify_equals_the_recipe_path(systems, tmp_path, corpora):
    from kdspeech.bin import dump_feats, infer_cls

    clips = sorted((corpora / "esc50" / "audio").glob("4-*.flac"))[:3]
    folder, data = tmp_path / "clips", tmp_path / "data"
    folder.mkdir()
    wav = {}
    for clip in clips:                                # cut to the classifier's 0.5 s clip length
        x, rate = sf.read(str(clip), dtype="float32")
        sf.write(str(folder / clip.name), x[:rate // 2], rate)
        wav[clip.stem] = str(folder / clip.name)
    write_kv(data / "wav.scp", wav)
    write_kv(data / "utt2label", {u: "dog" for u in wav})
    (data / "classes.txt").write_text("dog\nrain\n")
    dump_feats.main(["--data", str(data), "--rate", "1000", "--out", str(tmp_path / "feats"), "--duration", "0.5"])
    infer_cls.main(["--model", str(systems / "exp" / "cls"), "--data", str(data), "--feats", str(tmp_path / "feats"),
                    "--out", str(tmp_path / "logits.npz"), "--device", "cpu"])
    logits = np.load(tmp_path / "logits.npz")
    expected = dict(zip(logits["keys"], torch.softmax(torch.from_numpy(logits["logits"]), -1).numpy()))
    proc = kd("classify", "--model", systems / "exp" / "cls", folder, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    probs = np.load(tmp_path / "out" / "probs.npz")
    assert list(probs["classes"]) == ["dog", "rain"] and sorted(probs["keys"]) == sorted(wav)
    for key, p in zip(probs["keys"], probs["probs"]):
        assert np.max(np.abs(p - expected[key])) < 1e-5
    lines = (tmp_path / "out" / "classes.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == list(probs["keys"])
    assert "enhance" in kd("classify", "--model", systems / "exp" / "tiny", folder).stderr     # wrong task


def test_embed_and_verify(systems, tmp_path):
    data = systems / "data" / "spk_valid"
    proc = kd("embed", "--model", systems / "exp" / "spk", data, "--out", tmp_path / "emb")
    assert proc.returncode == 0, proc.stderr
    table = np.load(tmp_path / "emb" / "emb.npz")
    assert table["emb"].shape == (12, 16) and list(table["keys"]) == sorted(table["keys"])
    from kdspeech.bin import embed

    embed.main(["--model", str(systems / "exp" / "spk"), "--data", str(data), "--out", str(tmp_path / "ref.npz")])
    reference = np.load(tmp_path / "ref.npz")
    assert list(reference["keys"]) == list(table["keys"])
    assert np.max(np.abs(reference["emb"] - table["emb"])) < 1e-5     # the recipe's embedding verb agrees

    proc = kd("verify", "--model", systems / "exp" / "spk", data, "--out", tmp_path / "scores")
    assert proc.returncode == 0, proc.stderr
    assert "EER " in proc.stderr and "(12 target, 54 non-target pairs)" in proc.stderr
    scores = [line.split() for line in (tmp_path / "scores").read_text().splitlines()]
    assert len(scores) == len((data / "trials").read_text().splitlines())
    e = dict(zip(table["keys"], table["emb"]))
    a, b, s = scores[0]
    cos = e[a] @ e[b] / np.linalg.norm(e[a]) / np.linalg.norm(e[b])
    assert float(s) == pytest.approx(cos, abs=1e-5)
    (tmp_path / "pairs.txt").write_text(f"{data}/wav/spk0-u0.wav {data}/wav/spk0-u1.wav target\n"
                                        f"{data}/wav/spk0-u0.wav missing.wav nontarget\n")
    proc = kd("verify", "--model", systems / "exp" / "spk", "--trials", tmp_path / "pairs.txt")
    assert proc.returncode == 1 and "missing.wav" in proc.stderr and "1 pairs left out" in proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    two = kd("verify", "--model", systems / "exp" / "spk", data / "wav" / "spk0-u0.wav", data / "wav" / "spk1-u0.wav")
    assert two.returncode == 0 and two.stdout.split()[:2] == ["spk0-u0", "spk1-u0"]


def test_transcribe_with_and_without_enhancement(packed, corpora, tmp_path):
    pytest.importorskip("pocketsphinx")
    clip = corpora / "asr" / "an4" / "an4" / "wav" / "an4_clstk" / "mrcb" / "an104-mrcb-b.flac"
    x, rate = sf.read(str(clip), dtype="float32")
    sf.write(str(tmp_path / "stereo.wav"), np.stack([x, x], axis=1), rate)
    proc = kd("transcribe", clip, tmp_path / "stereo.wav")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["an104-mrcb-b\tstart", "stereo\tstart"]
    assert "2 channels down-mixed" in proc.stderr
    proc = kd("transcribe", "--enhance", packed, clip, "--out", tmp_path / "text")
    assert proc.returncode == 0, proc.stderr
    words = (tmp_path / "text" / "an104-mrcb-b.txt").read_text().strip()
    assert (tmp_path / "text" / "transcripts.tsv").read_text() == f"an104-mrcb-b\t{words}\n"


def test_device_cuda_runs_there_or_says_no_gpu(packed, tmp_wav, tmp_path):
    wav = tmp_wav("a.wav", seed=4)
    proc = kd("enhance", "--model", packed, wav, "--out", tmp_path / "gpu.wav", "--device", "cuda")
    if not torch.cuda.is_available():
        assert proc.returncode == 1 and "no GPU is visible" in proc.stderr and "Traceback" not in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    assert kd("enhance", "--model", packed, wav, "--out", tmp_path / "cpu.wav", "--device", "cpu").returncode == 0
    assert np.max(np.abs(read_wav(tmp_path / "gpu.wav")[0] - read_wav(tmp_path / "cpu.wav")[0])) <= 2 * LSB
