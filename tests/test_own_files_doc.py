"""Every command of the README section "Use your own files" runs, on files from ../shared/corpora."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from apply_fixtures import make_systems
from kdspeech.data.datadir import DataDir
from kdspeech.data.mix import mix_at_snr

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Use your own files"


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


def make_sandbox(root, corpora):
    """my/noisy + my/clean (3 LibriSpeech clips of 1.5 s in NOISEX noise), my/noises, clips/ (ESC-50),
    exp/{student,classifier,speaker}, and a ``kdspeech`` script on PATH."""
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
    assert (tmp_path / "emb" / "emb.npz").is_file() and (tmp_path / "model.zip").is_file()
