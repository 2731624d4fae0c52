"""Smoke test of egs/shared_speakers/spk (the speaker template egs/TEMPLATE/spk/spk.sh) on a handful
of shared files: data, resample, teacher cache (Resemblyzer), one contrastive-KD student, embed,
asymmetric / student / teacher trials, t-SNE, results; a re-run skips every stage; a second run from
scratch gives byte-identical scores."""

import json
import re
import subprocess

import pytest

import recipe_helpers as helpers
from conftest import corpora_path

SMALL = ["--local_data_opts", "--test_speakers 3 --test_per_speaker 2 --valid_speakers 2 --valid_per_speaker 2 "
         "--max_train_ls 4 --max_train_sc 2 --use_an4 false",
         "--systems", "contrastive conf/train_contrastive.yaml train valid cache",
         "--compare", "", "--chunk_sweep", "0.5", "--deploy", "false", "--nj", "1", "--tsne_speakers", "3",
         "--train_args", "trainer.max_epochs=1 batch_size=4"]


def small_env(corpora):
    env = helpers.recipe_env()
    env["KDSPEECH_CORPORA"] = str(corpora)
    env["OMP_NUM_THREADS"] = "1"
    return env


def run_small(recipe, corpora):
    proc = subprocess.run(["./run.sh", *SMALL], cwd=recipe, capture_output=True, text=True, env=small_env(corpora),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def results_root(recipe):
    """Where a run writes RESULTS.md and its plots: exp/results/ where the template keeps the committed
    results apart from the run's, else the recipe dir."""
    return recipe / "exp" / "results" if (recipe / "exp" / "results").is_dir() else recipe


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The small recipe run once for the tests of this module: ``(recipe dir, corpora, its stderr)``."""
    corpora = corpora_path()
    if corpora is None:
        pytest.skip("real corpora not found: set KDSPEECH_CORPORA or provide <repo>/../shared/corpora")
    recipe = helpers.copy_recipe("shared_speakers/spk", tmp_path_factory.mktemp("spk") / "recipe", "spk/spk.sh")
    return recipe, corpora, run_small(recipe, corpora).stderr


def test_shared_speakers_recipe_small(small_run):
    recipe, corpora, first = small_run
    exp = recipe / "exp"
    trials = (recipe / "data" / "test" / "trials").read_text().splitlines()
    assert len(trials) == 15 and sum(l.endswith(" target") for l in trials) == 3  # 6 utts, 3 speakers
    spk = {l.split()[1] for l in (recipe / "data" / "train" / "utt2spk").read_text().splitlines()}
    test_spk = {l.split()[1] for l in (recipe / "data" / "test" / "utt2spk").read_text().splitlines()}
    assert not spk & test_spk and all(s.startswith("ls-") for s in test_spk)
    for proto in ("asym", "ss"):
        summary = json.loads((exp / "contrastive" / "trials_test" / proto / "summary.json").read_text())["trials"]
        assert summary["n_target"] == 3 and summary["n_nontarget"] == 12 and 0 <= summary["eer"] <= 1
    tt = json.loads((exp / "resemblyzer" / "trials_test" / "tt" / "summary.json").read_text())["trials"]
    assert tt["eer"] < 0.5                   # the pretrained teacher separates LibriSpeech speakers
    assert (results_root(recipe) / "results" / "tsne_test" / "contrastive" / "tsne.png").stat().st_size > 5000
    text = (results_root(recipe) / "RESULTS.md").read_text()
    assert f"| resemblyzer | test | tt | 1 | {100 * tt['eer']:.3f} [" in text       # EER with its CI
    assert "| contrastive | test | asym | 1 |" in text and "| contrastive@T0.5s | test | asym |" in text
    assert "4.260" in text and "./run.sh --local_data_opts" in text
    history = json.loads((exp / "contrastive" / "history.json").read_text())
    assert history[0]["selected"]["key"] == "valid.eer"
    again = run_small(recipe, corpora)
    skipped = [l for l in again.stderr.splitlines() if "up to date, skipped" in l]
    # 1 data, 3 resample, 2 caches, 1 training, 3 embeddings, 5 trial lists, 1 t-SNE, 1 results, and
    # every later stage that ran the first time
    ran = [l for l in first.splitlines() if re.search(r"\) Stage \d+: ", l)]
    assert len(ran) >= 17 and len(skipped) == len(ran), again.stderr[-3000:]


def test_a_second_run_from_scratch_gives_byte_identical_scores(small_run, tmp_path):
    first, corpora, _ = small_run
    second = helpers.copy_recipe("shared_speakers/spk", tmp_path / "recipe", "spk/spk.sh")
    run_small(second, corpora)
    files = sorted(p.relative_to(first) for p in (first / "exp").glob("*/trials_*/*/*")
                   if p.name in ("scores", "summary.json"))
    assert len(files) == 10     # 5 trial lists: the teacher's, the student's (also at T0.5 s) x 2 protocols
    files += [p.relative_to(first) for p in (first / "data").glob("*/trials")]
    for name in files:
        assert (second / name).read_bytes() == (first / name).read_bytes(), f"{name} differs between two runs"

    def verification(recipe):
        text = (results_root(recipe) / "RESULTS.md").read_text()
        return text[text.index("## Verification"):text.index("## Systems")]
    assert verification(second) == verification(first)


def test_a_trial_naming_an_utterance_without_audio_fails_the_first_stage_reading_the_trials(corpora, tmp_path):
    recipe = helpers.copy_recipe("shared_speakers/spk", tmp_path / "recipe", "spk/spk.sh")
    env = small_env(corpora)
    teacher_only = ["./run.sh", *SMALL, "--systems", "", "--chunk_models", ""]   # the teacher alone
    proc = subprocess.run(teacher_only + ["--stop_stage", "2"], cwd=recipe, capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = recipe / "dump" / "raw" / "test" / "trials"
    trials.write_text(trials.read_text() + "ls-1688-1688-142285-0000 nobody-0001 nontarget\n")
    proc = subprocess.run(teacher_only + ["--stage", "6", "--stop_stage", "7"], cwd=recipe, capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode != 0
    # the data dir's checker (kdspeech.data.datadir) reads its trials when the embedding stage opens it
    assert "trials:16: trial 'ls-1688-1688-142285-0000 nobody-0001' names utterance 'nobody-0001'" in proc.stderr
    assert "ERROR: stage 6 (embed test with the teacher) failed" in proc.stderr
    assert not (recipe / "exp" / "resemblyzer" / "emb_test" / ".done").exists()
    assert not (recipe / "exp" / "resemblyzer" / "trials_test" / "tt" / ".done").exists()
