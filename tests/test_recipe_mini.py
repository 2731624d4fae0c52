"""The mini recipe end to end with its smallest settings: killed during training and re-run, it skips
finished stages, resumes training from the checkpoint and ends with the scores of an uninterrupted run."""

import os
import shutil
import signal
import subprocess
import time

import pytest

import recipe_helpers as helpers

SMALL = ["--local_data_opts", "--num_train 12 --num_valid 4 --num_test 2 --noise_duration 10",
         "--test_snrs", "0,10", "--test_mix_per_utt", "2", "--train_args", "trainer.max_epochs=4"]

pytestmark = pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")),
                                reason="the mini recipe needs espeak-ng and sox (tools/install.sh)")


def copy_recipe(dst):
    return helpers.copy_recipe("mini_espeak/enh", dst, "enh/enh.sh")


def run(recipe, *args, **kwargs):
    return subprocess.run(["./run.sh", *SMALL, *args], cwd=recipe, capture_output=True, text=True,
                          env=helpers.recipe_env(), timeout=900, **kwargs)


def scores(recipe):
    return {p.relative_to(recipe).as_posix(): p.read_text()
            for p in sorted((recipe / "exp").glob("*/score_*/scores.tsv"))}


def test_killed_run_resumes_to_the_same_scores(tmp_path):
    clean = copy_recipe(tmp_path / "clean")
    proc = run(clean)
    assert proc.returncode == 0, proc.stderr[-4000:]
    reference = scores(clean)
    assert len(reference) == 6  # noisy, S1, S2 on the seen- and unseen-noise test sets
    text = (clean / "RESULTS.md").read_text()
    assert "student_s2/test_unseen" in text and (clean / "results" / "pesq_wb_by_snr.png").exists()
    # Paired tests: S2 against S1 and each student against the noisy input, on both test sets.
    for pair in ("student_s2/test_seen - student_s1/test_seen", "student_s1/test_unseen - noisy/test_unseen"):
        assert f"| {pair} | PESQ-WB |" in text, pair

    killed = copy_recipe(tmp_path / "killed")
    job = subprocess.Popen(["./run.sh", *SMALL], cwd=killed, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=helpers.recipe_env(), start_new_session=True)
    ckpt = killed / "exp" / "student_s1" / "checkpoints" / "last.pth"
    deadline = time.time() + 600
    while not ckpt.exists() and job.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert job.poll() is None, "the run ended before training reached its first checkpoint"
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert not (killed / "exp" / "student_s1" / ".done").exists()

    again = run(killed)
    assert again.returncode == 0, again.stderr[-4000:]
    log = again.stderr
    for stage in ("Stage 1 (data preparation)", "Stage 3 (mix student (", "Stage 4 (train teacher_1)"):
        assert any(stage in line and "up to date, skipped" in line for line in log.splitlines()), stage
    train_log = (killed / "exp" / "student_s1" / "log" / "train.log").read_text()
    assert "resumed after epoch" in train_log
    assert scores(killed) == reference

    # Nothing changed: every stage is skipped.
    third = run(killed)
    assert third.returncode == 0
    assert "Stage 4 (train student_s1): exp/student_s1 up to date, skipped" in third.stderr
    assert "Stage 4 (train student_s2 (distilled from teacher_1, teacher_2)): exp/student_s2 up to date" in third.stderr
