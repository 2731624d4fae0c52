"""egs/TEMPLATE/enh/enh.sh as a task template, on a recipe of tiny synthetic data dirs: a system waits
for the systems it distils from, teacher paths come from the systems list, --skip_train/--models score
existing models only, and when one of two trainings running in the background fails, the stage fails,
the other training is stopped and neither leaves a stamp."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import yaml

import recipe_helpers as helpers
from enh_fixtures import make_mix_dir

COMMON = """\
task: enhancement
data: {segment: 2048, sr: 16000}
batch_size: 4
model: {name: waveunet, conf: {num_layers: 2, base_channels: 4, growth: 4, num_decimations: 2}}
optim: {name: adam, lr: 1.0e-3}
"""
TRAINER = "trainer: {max_epochs: %d, num_threads: 1, tensorboard: false}\n"
KD = """\
teachers: {t: {members: []}}
loss: [{name: mse_teacher, weight: 0.5, teacher: t}, {name: mse_target, weight: 0.5}]
"""
CONFS = {
    "wun.yaml": COMMON + TRAINER % 1,
    "kd.yaml": COMMON + KD + TRAINER % 1,
    "slow.yaml": COMMON + TRAINER % 100000,
    "broken.yaml": COMMON + TRAINER % 1 + "no_such_key: 1\n",
}
DATA_SH = """#!/usr/bin/env bash
# The data dirs are made by the test; this stage only checks that they are there.
out=data
while [ $# -gt 0 ]; do case $1 in --out) out=$2; shift 2 ;; *) shift 2 ;; esac; done
for d in tiny_train tiny_valid tiny_test; do [ -f "$out/$d/wav.scp" ] || exit 1; done
"""
BASE = ["--nj", "1", "--corpus_dirs", "tiny_train tiny_valid tiny_test"]


def make_recipe(root):
    """A recipe made as a user forks one: cmd.sh/path.sh copied, enh.sh and utils linked."""
    root.mkdir(parents=True)
    for name in ("cmd.sh", "path.sh"):
        shutil.copy2(helpers.REPO / "egs" / "mini_espeak" / "enh" / name, root / name)
    (root / "enh.sh").symlink_to(helpers.REPO / "egs" / "TEMPLATE" / "enh" / "enh.sh")
    (root / "utils").symlink_to(helpers.REPO / "utils")
    (root / "local").mkdir()
    (root / "local" / "data.sh").write_text(DATA_SH)
    (root / "local" / "data.sh").chmod(0o755)
    (root / "conf").mkdir()
    for name, text in CONFS.items():
        (root / "conf" / name).write_text(text)
    for name, n, seed in (("tiny_train", 8, 0), ("tiny_valid", 4, 1), ("tiny_test", 2, 2)):
        make_mix_dir(root / "data" / name, n=n, dur=0.4, seed=seed)
    return root


def enh(recipe, *args, timeout=600):
    return subprocess.run(["./enh.sh", *BASE, *args], cwd=recipe, capture_output=True, text=True,
                          env=helpers.recipe_env(), timeout=timeout)


def processes_in(directory):
    """Pids of the processes whose working directory is ``directory`` (our trainings run there)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if os.readlink(proc / "cwd") == str(directory):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def test_a_student_waits_for_its_teacher_and_skip_train_scores_existing_models(tmp_path):
    recipe = make_recipe(tmp_path / "recipe")
    prep = enh(recipe, "--stage", "1", "--stop_stage", "1")
    assert prep.returncode == 0, prep.stderr[-3000:]
    # The student is listed first: it must still wait for its teacher, even with 2 training slots.
    systems = ("child conf/kd.yaml data/tiny_train data/tiny_valid good teachers.t.members=[{expdir}/good];"
               "good conf/wun.yaml data/tiny_train data/tiny_valid -")
    proc = enh(recipe, "--stage", "4", "--stop_stage", "4", "--train_jobs", "2", "--systems", systems)
    assert proc.returncode == 0, proc.stderr[-3000:]
    exp = recipe / "exp"
    assert (exp / "good" / ".done").exists() and (exp / "child" / ".done").exists()
    assert (exp / "good" / ".done").stat().st_mtime <= (exp / "child" / "config.yaml").stat().st_mtime
    conf = yaml.safe_load((exp / "child" / "config.yaml").read_text())
    assert conf["teachers"]["t"]["members"] == ["exp/good"]
    assert conf["trainer"]["device"] == "cpu"   # --ngpu 0: the CPU even where a GPU is visible
    assert "train child (distilled from good)" in proc.stderr

    # Score the existing model 'good' only, on a data dir given by its path.
    score = enh(recipe, "--stage", "5", "--stop_stage", "6", "--skip_train", "true", "--models", "good",
                "--test_sets", "data/tiny_test", "--metrics", "si_sdr", "--systems", systems)
    assert score.returncode == 0, score.stderr[-3000:]
    assert (exp / "good" / "score_tiny_test" / "summary.json").exists()
    assert (exp / "noisy" / "score_tiny_test" / "summary.json").exists()
    assert not (exp / "child" / "enhanced_tiny_test").exists()
    enhanced = (exp / "good" / "enhanced_tiny_test" / "wav.scp").read_text().split("\n")
    assert len([line for line in enhanced if line]) == 2


def test_a_failing_training_stops_the_other_and_leaves_no_stamp(tmp_path):
    recipe = make_recipe(tmp_path / "recipe")
    prep = enh(recipe, "--stage", "1", "--stop_stage", "1")
    assert prep.returncode == 0, prep.stderr[-3000:]
    systems = ("slow conf/slow.yaml data/tiny_train data/tiny_valid -;"
               "broken conf/broken.yaml data/tiny_train data/tiny_valid -")
    start = time.monotonic()
    proc = enh(recipe, "--stage", "4", "--stop_stage", "4", "--train_jobs", "2", "--systems", systems)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert "start_training broken' failed" in proc.stderr and "stopping the 1 still running" in proc.stderr
    assert "no_such_key" in proc.stderr  # the failing log's tail is shown
    assert elapsed < 300
    exp = recipe / "exp"
    assert (exp / "slow" / "log" / "train.log").exists()   # it had started
    assert not (exp / "slow" / ".done").exists() and not (exp / "broken" / ".done").exists()
    deadline = time.monotonic() + 15
    while processes_in(recipe) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_in(recipe) == [], "a training of the failed stage is still running"
