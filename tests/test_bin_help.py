"""Every `python -m kdspeech.bin.<verb>` answers --help, and a recipe's run.sh lists its options."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import kdspeech.bin

REPO = Path(__file__).resolve().parents[1]
VERBS = sorted(m.name for m in pkgutil.iter_modules(kdspeech.bin.__path__) if not m.name.startswith("_"))


@pytest.mark.parametrize("verb", VERBS)
def test_verb_has_help(verb):
    proc = subprocess.run([sys.executable, "-m", f"kdspeech.bin.{verb}", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout.lower()


def test_recipe_help_lists_options_and_rejects_unknown_ones():
    recipe = REPO / "egs" / "mini_espeak" / "enh"
    proc = subprocess.run(["./run.sh", "--help"], cwd=recipe, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for option in ("--stage", "--stop_stage", "--nj", "--ngpu", "--seed", "--teacher_snrs", "--train_args"):
        assert option in proc.stdout, option
    bad = subprocess.run(["./run.sh", "--bogus_option", "1"], cwd=recipe, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1
    assert "unknown option --bogus_option" in bad.stderr
