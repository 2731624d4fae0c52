"""The mini recipe end to end with its smallest settings, in forks that are git repositories holding the
recipe's committed RESULTS.md: a run leaves every tracked file alone (its results go to exp/results/,
compared with the committed ones in exp/compare/), two runs from scratch give byte-identical scores,
a run killed during training and re-run skips finished stages, resumes training from the checkpoint and
ends with the scores of an uninterrupted run, --update_results true rewrites the committed copy, and a
folder of real recordings given as a test set is scored through run.sh."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

import recipe_helpers as helpers
from kdspeech.results_compare import compare_files, parse_tables

SMALL = ["--local_data_opts", "--num_train 12 --num_valid 4 --num_test 2 --noise_duration 10",
         "--test_snrs", "0,10", "--test_mix_per_utt", "2", "--train_args", "trainer.max_epochs=4",
         "--student_seeds", "1"]
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]

pytestmark = pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")),
                                reason="the mini recipe needs espeak-ng and sox (tools/install.sh)")


def copy_recipe(dst):
    return helpers.copy_recipe("mini_espeak/enh", dst, "enh/enh.sh")


def committed_fork(dst):
    """A fork with the recipe's committed results, itself a git repository with them committed (the
    outputs ignored as in the main repository), so that `git status` shows what a run changed."""
    recipe = copy_recipe(dst)
    src = helpers.REPO / "egs" / "mini_espeak" / "enh"
    shutil.copy2(src / "RESULTS.md", recipe / "RESULTS.md")
    shutil.copytree(src / "results", recipe / "results")
    (recipe / ".gitignore").write_text("__pycache__/\ndata/\ndump/\nexp/\n.done\n")   # as the repository's
    subprocess.run(["git", "init", "-q", "."], cwd=recipe, check=True)
    subprocess.run(["git", "add", "-A"], cwd=recipe, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "fork"], cwd=recipe, check=True)
    return recipe


def run(recipe, *args, **kwargs):
    return subprocess.run(["./run.sh", *SMALL, *args], cwd=recipe, capture_output=True, text=True,
                          env=helpers.recipe_env(), timeout=900, **kwargs)


def git_status(recipe):
    return subprocess.run(["git", "status", "--porcelain"], cwd=recipe, capture_output=True, text=True,
                          check=True).stdout


def scores(recipe):
    return {p.relative_to(recipe).as_posix(): p.read_text()
            for p in sorted((recipe / "exp").glob("*/score_*/scores.tsv"))}


def score_files(recipe):
    """Every file of every score dir (per-utterance scores, summaries; not the stamp), by path, as bytes."""
    return {p.relative_to(recipe).as_posix(): p.read_bytes()
            for p in sorted((recipe / "exp").glob("*/score_*/*")) if p.is_file() and not p.name.startswith(".")}


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """One whole run, from scratch; the tests below read it (none changes it)."""
    recipe = committed_fork(tmp_path_factory.mktemp("first") / "mini_espeak" / "enh")
    proc = run(recipe)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe, proc


def test_a_run_leaves_the_committed_results_alone_and_compares_with_them(first):
    recipe, proc = first
    assert git_status(recipe) == "", "a run changed tracked files"
    ours = recipe / "exp" / "results" / "RESULTS.md"
    text = ours.read_text()
    assert "student_s2/test_unseen" in text and (recipe / "exp/results/results/pesq_wb_by_snr.png").exists()
    assert "](results/pesq_wb_by_snr.png)" in text   # the run's copy is laid out as the committed one
    # Paired tests: S2 against S1 and each student against the noisy input, on both test sets.
    for pair in ("student_s2/test_seen - student_s1/test_seen", "student_s1/test_unseen - noisy/test_unseen"):
        assert f"| {pair} | PESQ-WB |" in text, pair
    # The last stage's comparison: printed, and in exp/compare/compare.md, naming every table of both.
    compare = (recipe / "exp" / "compare" / "compare.md").read_text()
    assert "Comparison with the committed results" in proc.stdout
    titles = {t.title for t in parse_tables(text) + parse_tables((recipe / "RESULTS.md").read_text())}
    assert len(titles) > 10
    for title in titles:
        assert f"| {title} |" in compare and f"| {title} |" in proc.stdout, title
    # This run is smaller than the committed one, which states no spread: its numbers differ, each named.
    assert "## Overall\n\n| row | column | ours | reference | difference | verdict |" in compare
    assert "| student_s2/test_seen | PESQ-WB |" in compare and "no stated spread" in compare


@pytest.fixture(scope="module")
def second(tmp_path_factory, first):
    """A second whole run from scratch, in another fork."""
    recipe = committed_fork(tmp_path_factory.mktemp("second") / "mini_espeak" / "enh")
    proc = run(recipe)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe


def test_two_runs_from_scratch_give_identical_scores_and_results(first, second):
    a, b = first[0], second
    files = score_files(a)
    assert len(files) == 18   # noisy, S1, S2 x seen, unseen: scores.tsv, summary.json, summary.txt
    assert score_files(b) == files
    report = compare_files(b / "exp/results/RESULTS.md", a / "exp/results/RESULTS.md")
    assert not any(t.side for t in report.tables)
    assert {c.verdict for t in report.tables for c in t.cells} == {"identical"}

    # The whole file apart from the date and the git hash (the checkout may move between the runs).
    def body(recipe):
        return [line for line in (recipe / "exp/results/RESULTS.md").read_text().splitlines()
                if not line.startswith(("- date: ", "- git: "))]
    assert body(b) == body(a)


def test_update_results_rewrites_the_committed_copy(second):
    recipe = second
    proc = run(recipe, "--stage", "11", "--update_results", "true")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (recipe / "RESULTS.md").read_text() == (recipe / "exp/results/RESULTS.md").read_text()
    for png in (recipe / "exp/results/results").glob("*.png"):
        assert (recipe / "results" / png.name).read_bytes() == png.read_bytes(), png.name
    changed = git_status(recipe)
    assert " M RESULTS.md" in changed and " M results/pesq_wb_by_snr.png" in changed
    assert ".done" not in changed
    # The committed copy is now this run's: a comparison finds every cell identical.
    again = run(recipe, "--stage", "11")
    assert again.returncode == 0, again.stderr[-4000:]
    compare = (recipe / "exp/compare/compare.md").read_text()
    assert re.search(r"^- (\d+) cells compared in \d+ tables: \1 identical$", compare, re.M), compare[:2000]


def test_killed_run_resumes_to_the_same_scores(first, tmp_path):
    reference = scores(first[0])
    assert len(reference) == 6  # noisy, S1, S2 on the seen- and unseen-noise test sets

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


def test_a_folder_of_real_recordings_is_scored_through_run_sh(second, corpora, tmp_path):
    """Issue 20: `./run.sh --stage 5 --skip_train true --test_sets <dir>` on a finished recipe, the dir
    made by data_dir_from from a folder of real noisy recordings (AN4: no SNR, no clean reference):
    checked and resampled at stage 5, enhanced by the recipe's systems, scored by DNSMOS only (no
    intrusive metric, no by-SNR comparison), and RESULTS.md says so."""
    recipe = second
    folder = tmp_path / "recordings"
    folder.mkdir()
    for path in sorted((corpora / "asr" / "an4").rglob("*.flac"))[:3]:
        (folder / path.name).symlink_to(path)
    mine = tmp_path / "an4_real"
    made = subprocess.run([sys.executable, "-m", "kdspeech.bin.data_dir_from", "--audio", str(folder), "--out", str(mine)],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    proc = run(recipe, "--stage", "5", "--skip_train", "true", "--models", "student_s2", "--test_sets", str(mine))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"Stage 5: test set {mine}: check it, import it" in proc.stderr
    assert f"stage 6: {mine} has no spk1.scp (no clean reference): not scored by" in proc.stderr
    exp = recipe / "exp"
    for system in ("noisy", "student_s2"):
        summary = json.loads((exp / system / "score_dnsmos_an4_real" / "summary.json").read_text())["overall"]
        assert summary["n"] == 3 and 1 <= summary["dnsmos_ovrl"] <= 5
        assert not (exp / system / "score_an4_real").exists()
    text = (exp / "results" / "RESULTS.md").read_text()
    assert "## Test sets" in text and "| an4_real | `dump/test/an4_real` | 3 | no | no | no |" in text
    assert "- an4_real: no clean reference (spk1.scp): the intrusive metrics" in text
    assert "| student_s2/an4_real - noisy/an4_real | DNSMOS OVRL |" in text
    assert not (exp / "student_s1" / "enhanced_an4_real").exists()   # --models: student_s2 alone
    assert not [line for line in text.splitlines() if line.startswith("## ") and "by input SNR" in line]
