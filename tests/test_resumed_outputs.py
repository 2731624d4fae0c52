"""Outputs kept for resumption belong to one model: a system retrained with another seed in the same
recipe dir gets its test sets enhanced and scored afresh, and the results equal those of a clean run
with that seed.  (The cheaper equivalent of running egs/librispeech/enh with --student_seeds "3 4" and
then "1 2": the same template stages, enhance.py's and score.py's resumable outputs, on tiny data.)"""

import subprocess

import recipe_helpers as helpers
from test_recipe_enh_systems import BASE, make_recipe

ARGS = ["--test_sets", "data/tiny_test", "--metrics", "si_sdr,stoi", "--stop_stage", "10"]


def run(recipe, seed):
    systems = f"s conf/wun.yaml data/tiny_train data/tiny_valid - seed={seed}"
    proc = subprocess.run(["./enh.sh", *BASE, *ARGS, "--systems", systems], cwd=recipe, capture_output=True,
                          text=True, env=helpers.recipe_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stderr


def tables(recipe):
    """The table rows of the run's RESULTS.md (numbers; not the environment block or the date)."""
    text = (recipe / "exp" / "results" / "RESULTS.md").read_text()
    return [line for line in text.splitlines() if line.startswith("|")]


def test_a_system_retrained_with_another_seed_is_enhanced_and_scored_afresh(tmp_path):
    reused = make_recipe(tmp_path / "reused")
    run(reused, 3)
    seed3 = tables(reused)
    log = run(reused, 1)
    assert "Stage 5 (enhance data/tiny_test with s): re-running" in log
    assert "Stage 6 (score s on data/tiny_test): re-running" in log
    clean = make_recipe(tmp_path / "clean")
    run(clean, 1)
    assert tables(reused) == tables(clean) and tables(clean) != seed3
    enhanced = reused / "exp" / "s" / "enhanced_tiny_test" / "wav"
    assert len(list(enhanced.iterdir())) == 1      # the seed-3 audio was set aside
