"""Every command of the README section "Use your own data" runs, on files from ../shared/corpora, in a
sandbox laid out as the repository (egs/ with the recipes the section uses, their systems trained
elsewhere: tiny models in their exp/)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import shutil

import numpy as np
import soundfile as sf
import torch

import recipe_helpers as helpers
from apply_fixtures import make_systems
from kdspeech.data.datadir import DataDir
from kdspeech.data.mix import mix_at_snr
from kdspeech.models import build_model
from kdspeech.train.checkpoint import atomic_save

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Use your own data"


def section_commands():
    """The command lines of the section's ```sh blocks (README.md, else docs/own_files.md)."""
    for doc in (REPO / "README.md", REPO / "docs" / "own_files.md"):
        text = doc.read_text(encoding="utf-8") if doc.is_file() else ""
        if HEADING in text:
            body = text.split(HEADING, 1)[1]
            body = re.split(r"^## ", body, flags=re.M)[0]
            blocks = re.findall(r"```sh\n(.*?)```", body, flags=re.S)
            return [line for block in blocks for line in block.splitlines() if line.strip()
                    and not line.lstrip().startswith("#")]
    raise AssertionError(f"no section '{HEADING}' in README.md or docs/own_files.md")


def link_files(folder, files):
    for name, target in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).symlink_to(target)


def make_recipes(root, corpora, systems):
    """egs/ of the sandbox: TEMPLATE (linked), librispeech/enh with student_s2 trained (a copy of the tiny
    system), user_data/cls, shared_speakers/spk with a TinyECAPA made elsewhere (exp/contrastive/best.pth);
    my/speech, my/noises_test (the folder corpus of a new recipe), my/speakers, my/clips + my/clips.csv."""
    (root / "egs").mkdir()
    (root / "egs" / "TEMPLATE").symlink_to(helpers.REPO / "egs" / "TEMPLATE")
    enh = helpers.copy_recipe("librispeech/enh", root / "egs" / "librispeech" / "enh", "enh/enh.sh")
    shutil.copytree(systems / "exp" / "tiny", enh / "exp" / "student_s2")
    helpers.copy_recipe("user_data/cls", root / "egs" / "user_data" / "cls", "cls/cls.sh")
    spk = helpers.copy_recipe("shared_speakers/spk", root / "egs" / "shared_speakers" / "spk", "spk/spk.sh")
    torch.manual_seed(0)
    conf = {"emb_dim": 256, "chunk": 1.0}
    (spk / "exp" / "contrastive").mkdir(parents=True)
    atomic_save({"model_name": "tiny_ecapa", "model_conf": conf, "model": build_model("tiny_ecapa", conf).state_dict()},
                spk / "exp" / "contrastive" / "best.pth")
    libri = corpora / "librispeech" / "LibriSpeech"
    for part, subset, speakers in (("train", "train-clean-100", 6), ("test", "test-other", 2)):
        for speaker in sorted((libri / subset).iterdir())[:speakers]:
            path = sorted(speaker.rglob("*.flac"))[0]
            link_files(root / "my" / "speech" / part, {f"{speaker.name}/{path.name}": path})
    nonspeech = sorted((corpora / "noise" / "nonspeech").glob("*.flac"))
    link_files(root / "my" / "noises_test", {p.name: p for p in nonspeech[:2]})
    for speaker in sorted((libri / "test-other").iterdir())[2:4]:
        link_files(root / "my" / "speakers", {f"{speaker.name}/{p.name}": p for p in sorted(speaker.rglob("*.flac"))[:2]})
    by_class = {}
    for clip in sorted((corpora / "esc50" / "audio").glob("4-*.flac")):
        by_class.setdefault(clip.stem.rsplit("-", 1)[1], []).append(clip)
    rows = ["path,label,participant"]
    for c in sorted(by_class)[:2]:
        for k, clip in enumerate(by_class[c][:6]):
            link_files(root / "my" / "clips", {clip.name: clip})
            rows.append(f"clips/{clip.name},class{c},P{k}")
    (root / "my" / "clips.csv").write_text("\n".join(rows) + "\n")


def make_sandbox(root, corpora):
    """my/noisy + my/clean (3 LibriSpeech clips of 1.5 s in NOISEX noise), my/noises, clips/ (ESC-50),
    exp/{student,classifier,speaker}, the recipes of ``make_recipes``, and a ``kdspeech`` script on PATH."""
    speech = sorted((corpora / "librispeech" / "LibriSpeech" / "test-other").rglob("*.flac"))[:3]
    noise, rate = sf.read(str(corpora / "noise" / "noisex92" / "babble.flac"), dtype="float32")
    for name, path, snr in zip("abc", speech, (0, 5, 10)):
        x, rate = sf.read(str(path), dtype="float32")
        x = x[:int(1.5 * rate)]
        mix, _ = mix_at_snr(x, noise[:len(x)], snr)
        for folder, signal in (("clean", x), ("noisy", mix / max(1.0, float(np.max(np.abs(mix)))))):
            (root / "my" / folder).mkdir(parents=True, exist_ok=True)
            sf.write(str(root / "my" / folder / f"{name}.flac"), signal, rate)
    (root / "my" / "noises").mkdir()
    for name in ("white", "volvo"):
        x, rate = sf.read(str(corpora / "noise" / "noisex92" / f"{name}.flac"), dtype="float32")
        sf.write(str(root / "my" / "noises" / f"{name}.flac"), x[:3 * rate], rate)
    (root / "clips").mkdir()
    for clip in sorted((corpora / "esc50" / "audio").glob("4-*.flac"))[:2]:
        (root / "clips" / clip.name).symlink_to(clip)
    systems = make_systems(root / "systems")
    (root / "exp").mkdir()
    for name, system in (("student", "tiny"), ("classifier", "cls"), ("speaker", "spk")):
        (root / "exp" / name).symlink_to((systems / "exp" / system).resolve())
    make_recipes(root, corpora, systems)
    (root / "bin").mkdir()
    shim = root / "bin" / "kdspeech"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m kdspeech "$@"\n')
    shim.chmod(0o755)


def test_every_command_of_the_section_runs(corpora, tmp_path):
    commands = section_commands()
    assert any(c.startswith("kdspeech enhance") for c in commands)
    make_sandbox(tmp_path, corpora)
    env = {k: v for k, v in os.environ.items() if k != "KDSPEECH_STAGE"}
    env["PATH"] = f"{tmp_path / 'bin'}:{Path(sys.executable).parent}:{env['PATH']}"
    for command in commands:
        proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-3000:]}"
    assert DataDir(tmp_path / "data" / "my_test").validate().has("spk1.scp")
    assert len(DataDir(tmp_path / "data" / "my_grid").utts) == 3 * 2 * 3
    assert sorted(p.name for p in (tmp_path / "enhanced").iterdir()) == ["a.wav", "b.wav", "c.wav"]
    assert sorted(p.name for p in (tmp_path / "enhanced_one").iterdir()) == ["a.wav"]
    assert (tmp_path / "emb" / "emb.npz").is_file() and (tmp_path / "model.zip").is_file()
    # A recipe's system scored on the folders: with the reference, intrusive metrics; without, DNSMOS.
    exp = tmp_path / "egs" / "librispeech" / "enh" / "exp"
    assert "pesq_wb" in (exp / "student_s2" / "score_my_test" / "summary.json").read_text()
    assert "dnsmos_ovrl" in (exp / "student_s2" / "score_dnsmos_my_noisy" / "summary.json").read_text()
    results = (exp / "results" / "results" / "cpu" / "RESULTS.md").read_text()   # conf/cpu's --results
    assert "## Test sets" in results and "| student_s2/my_noisy |" in results
    # The CSV: data and folds dealt (5 participants' folds), features at every rate.
    cls = tmp_path / "egs" / "user_data" / "cls"
    assert len(DataDir(cls / "data" / "all").utts) == 12 and (cls / "dump" / "feats" / "1000" / "feats.npy").is_file()
    # The trials: EER of the model made elsewhere, teacher-enrolled and its own.
    spk = tmp_path / "egs" / "shared_speakers" / "spk" / "exp"
    for proto in ("asym", "ss"):
        assert (spk / "contrastive" / "trials_my_speakers" / proto / "summary.json").is_file()
    # The new recipe: its data dirs from the folders, resampled.
    new = tmp_path / "egs" / "my_corpus" / "enh"
    assert (new / "local" / "snr_teachers.sh").is_symlink()
    assert len(DataDir(new / "dump" / "raw" / "clean_test").utts) == 2
