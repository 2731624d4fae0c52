"""utils/parse_options.sh: Kaldi-style --name value options for recipe scripts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import kdspeech

REPO = Path(kdspeech.__file__).resolve().parents[1]

SCRIPT = """\
#!/usr/bin/env bash
set -euo pipefail
stage=1          # first stage to run
stop_stage=100   # last stage to run
nj=4
use_gpu=false    # train on a GPU
tag="a # b"      # quoted hash is no comment
help_message="Usage: run.sh [options] <args>"
. utils/parse_options.sh
after=1          # set after the options: not an option
echo "stage=$stage stop_stage=$stop_stage nj=$nj use_gpu=$use_gpu tag=$tag"
printf 'arg:%s\\n' "$@"
"""


@pytest.fixture
def recipe(tmp_path):
    """A recipe-like dir: run.sh and a `utils` symlink to the repository's utils/."""
    (tmp_path / "utils").symlink_to(REPO / "utils")
    script = tmp_path / "run.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    return tmp_path


def run(recipe, *args):
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    return subprocess.run(["./run.sh", *args], cwd=recipe, capture_output=True, text=True,
                          env=dict(os.environ, PATH=path))


def test_defaults_without_options(recipe):
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "stage=1 stop_stage=100 nj=4 use_gpu=false tag=a # b"


def test_space_and_equals_forms_dashes_and_positionals(recipe):
    out = run(recipe, "--stage", "3", "--stop-stage=5", "--use_gpu", "true", "--tag", "x y",
              "pos1", "--nj", "9")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "stage=3 stop_stage=5 nj=4 use_gpu=true tag=x y"
    # Options stop at the first non-option: the rest is left to the script.
    assert lines[1:] == ["arg:pos1", "arg:--nj", "arg:9"]


def test_double_dash_ends_options(recipe):
    out = run(recipe, "--nj", "2", "--", "--stage", "7")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["stage=1 stop_stage=100 nj=2 use_gpu=false tag=a # b",
                                       "arg:--stage", "arg:7"]


def test_help_lists_options_with_defaults_and_comments(recipe):
    out = run(recipe, "--help")
    assert out.returncode == 0
    text = out.stdout
    assert text.startswith("Usage: run.sh [options] <args>\n")
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("  --")}
    assert "[1]" in lines["--stage"] and "first stage to run" in lines["--stage"]
    assert "[100]" in lines["--stop_stage"] and "last stage to run" in lines["--stop_stage"]
    assert "[4]" in lines["--nj"]
    assert "[false]" in lines["--use_gpu"] and "train on a GPU" in lines["--use_gpu"]
    assert "[a # b]" in lines["--tag"] and "quoted hash is no comment" in lines["--tag"]
    assert "--after" not in lines and "--help_message" not in lines
    assert "stage=" not in text  # the script did not go on running
    assert run(recipe, "-h").stdout == text


def test_help_reflects_values_set_before_parsing(recipe):
    """Defaults shown are the values the variables hold, e.g. computed ones."""
    script = recipe / "run.sh"
    script.write_text(SCRIPT.replace("nj=4\n", "nj=$((2 + 3))   # computed\n"))
    out = run(recipe, "--help")
    assert any(line.split()[:2] == ["--nj", "[5]"] for line in out.stdout.splitlines())


def test_unknown_option_is_an_error(recipe):
    out = run(recipe, "--stage", "2", "--foo", "1")
    assert out.returncode == 1
    assert "unknown option --foo (see --help)" in out.stderr
    assert out.stdout == ""
    assert "unknown option --no-such (see --help)" in run(recipe, "--no-such=1").stderr


def test_boolean_option_only_takes_true_or_false(recipe):
    out = run(recipe, "--use_gpu", "yes")
    assert out.returncode == 1
    assert "--use_gpu expects true or false" in out.stderr
    out = run(recipe, "--use-gpu=true")
    assert out.stdout.startswith("stage=1 stop_stage=100 nj=4 use_gpu=true")


def test_option_without_value_is_an_error(recipe):
    out = run(recipe, "--stage")
    assert out.returncode == 1
    assert "--stage needs a value" in out.stderr


def test_helper_names_do_not_leak(recipe):
    script = recipe / "run.sh"
    script.write_text(SCRIPT + 'compgen -v _po_ || true\ncompgen -A function _po_ || true\n')
    out = run(recipe)
    assert out.returncode == 0
    assert "_po_" not in out.stdout
