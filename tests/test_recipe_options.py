"""One option parser for recipes: utils/parse_options.sh's pass-through mode in every run.sh (and in
local/snr_teachers.sh): a recipe's own options in any position, the others handed to its template,
`./run.sh --help` listing the recipe's options and then the template's."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import recipe_helpers as helpers

REPO = helpers.REPO

FRONT = """\
#!/usr/bin/env bash
set -euo pipefail
conf_dir=conf    # configs of one scale
seeds=""         # training seeds
help_message="Usage: run.sh [options]"
pass_options_to=./next.sh
. utils/parse_options.sh
echo "conf_dir=$conf_dir seeds=$seeds"
exec ./next.sh "${passed_options[@]}"
"""
NEXT = """\
#!/usr/bin/env bash
set -euo pipefail
stage=1          # first stage to run
help_message="Usage: next.sh [options]"
. utils/parse_options.sh
printf 'next:%s\\n' "stage=$stage" "$@"
"""


@pytest.fixture
def front(tmp_path):
    (tmp_path / "utils").symlink_to(REPO / "utils")
    for name, text in (("run.sh", FRONT), ("next.sh", NEXT)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    return tmp_path


def sh(cwd, *args):
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    return subprocess.run(["./run.sh", *args], cwd=cwd, capture_output=True, text=True,
                          env=dict(helpers.recipe_env(), PATH=path))


def test_own_options_anywhere_and_the_others_passed_on_in_order(front):
    out = sh(front, "--stage", "3", "--conf_dir", "conf/cpu", "--stage=4", "--seeds=1 2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["conf_dir=conf/cpu seeds=1 2", "next:stage=4"]
    bad = sh(front, "--stages", "3")
    assert bad.returncode == 1 and "next.sh: unknown option --stages" in bad.stderr   # the template says no
    assert sh(front, "--conf_dir").returncode == 1                                   # a value is missing


def test_help_lists_the_scripts_options_then_the_next_ones(front):
    out = sh(front, "--stage", "5", "--help")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.index("--conf_dir") < text.index("Every other option goes to ./next.sh") < text.index("--stage")
    assert "[5]" in next(line for line in text.splitlines() if line.strip().startswith("--stage"))
    assert "--pass_options_to" not in text and "--passed_options" not in text


def recipe_copy(tmp_path, recipe):
    templates = {"enh": ("enh/enh.sh",), "asr_enh": ("enh/enh.sh",), "pse": ("pse/pse.sh", "enh/enh.sh"),
                 "spk": ("spk/spk.sh",), "cls": ("cls/cls.sh",)}[recipe.split("/")[1]]
    return helpers.copy_recipe(recipe, tmp_path / "recipe", *templates)


RECIPES = sorted(str(p.parent.relative_to(REPO / "egs")) for p in (REPO / "egs").glob("*/*/run.sh"))


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_help_lists_its_options_then_its_templates(tmp_path, recipe):
    source = (REPO / "egs" / recipe / "run.sh").read_text()
    assert "pass_options_to=" in source and '"$@"' not in source.rsplit("parse_options.sh", 1)[1]
    out = subprocess.run(["./run.sh", "--help"], cwd=recipe_copy(tmp_path, recipe), capture_output=True,
                         text=True, env=helpers.recipe_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    # A recipe for users (pass_help_only: user_data/cls) lists the template's user options only.
    marker = "Options of ./" if "pass_help_only=" in source else "Every other option goes to"
    own, template = out.stdout.split(marker, 1)
    assert own.startswith("Usage: ") and "--stop_stage" in template and "--stop_stage" not in own


def test_conf_dir_in_any_position_and_the_paper_options_in_one_place(tmp_path):
    recipe = recipe_copy(tmp_path, "librispeech/enh")
    out = subprocess.run(["./run.sh", "--stage", "4", "--conf_dir", "conf/cpu", "--help"], cwd=recipe,
                         capture_output=True, text=True, env=helpers.recipe_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.startswith("  --")}
    assert "[conf/cpu]" in lines["--conf_dir"] and "[4]" in lines["--stage"]
    assert "--teacher_snrs" in lines   # the paper's options, from local/snr_teachers.sh
    # Nothing runs (stop_stage 0), but every option is accepted wherever it is.
    ran = subprocess.run(["./run.sh", "--stop_stage", "0", "--teacher_mix_per_utt", "3", "--conf_dir", "conf/cpu"],
                         cwd=recipe, capture_output=True, text=True, env=helpers.recipe_env(), timeout=60)
    assert ran.returncode == 0, ran.stderr
    for name in ("librispeech/enh", "timit/enh", "mini_espeak/enh"):
        assert "teacher_snrs=" not in (REPO / "egs" / name / "run.sh").read_text(), name
    mini = recipe_copy(tmp_path / "mini", "mini_espeak/enh")
    out = subprocess.run(["./run.sh", "--help"], cwd=mini, capture_output=True, text=True,
                         env=helpers.recipe_env(), timeout=60)
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.startswith("  --")}
    assert "[-5,0 5,10]" in lines["--teacher_snrs"] and "[false]" in lines["--score_teachers"]


def test_dns5_options_take_both_forms_and_have_help(tmp_path):
    recipe = recipe_copy(tmp_path, "dns5/pse")
    out = subprocess.run(["./run.sh", "--stage=3", "--data=dns5", "--help"], cwd=recipe, capture_output=True,
                         text=True, env=helpers.recipe_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    own, template = out.stdout.split("Every other option goes to", 1)
    assert "--data" in own and "[dns5]" in own and "--seeds" in own and "--light_encoder" in own
    assert "[3]" in next(line for line in template.splitlines() if line.strip().startswith("--stage "))
