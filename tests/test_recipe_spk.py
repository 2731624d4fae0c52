"""Smoke test of egs/shared_speakers/spk (the speaker template egs/TEMPLATE/spk/spk.sh) on a handful
of shared files: data, resample, teacher cache (Resemblyzer), one contrastive-KD student, embed,
asymmetric / student / teacher trials, t-SNE, results; a re-run skips every stage."""

import json
import subprocess

import recipe_helpers as helpers

SMALL = ["--local_data_opts", "--test_speakers 3 --test_per_speaker 2 --valid_speakers 2 --valid_per_speaker 2 "
         "--max_train_ls 4 --max_train_sc 2 --use_an4 false",
         "--systems", "contrastive conf/train_contrastive.yaml train valid cache",
         "--compare", "", "--chunk_sweep", "0.5", "--deploy", "false", "--nj", "1", "--tsne_speakers", "3",
         "--train_args", "trainer.max_epochs=1 batch_size=4"]


def test_shared_speakers_recipe_small(corpora, tmp_path):
    recipe = helpers.copy_recipe("shared_speakers/spk", tmp_path / "recipe", "spk/spk.sh")
    env = helpers.recipe_env()
    env["KDSPEECH_CORPORA"] = str(corpora)
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(["./run.sh", *SMALL], cwd=recipe, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
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
    assert (recipe / "results" / "tsne_test" / "contrastive" / "tsne.png").stat().st_size > 5000
    text = (recipe / "RESULTS.md").read_text()
    assert "| contrastive | test | asym |" in text and "| resemblyzer | test | tt |" in text
    assert "| contrastive@T0.5s | test | asym |" in text                 # the chunk-length sweep
    assert "4.260" in text and "./run.sh --local_data_opts" in text
    history = json.loads((exp / "contrastive" / "history.json").read_text())
    assert history[0]["selected"]["key"] == "valid.eer"
    again = subprocess.run(["./run.sh", *SMALL], cwd=recipe, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    skipped = [l for l in again.stderr.splitlines() if "up to date, skipped" in l]
    # 1 data, 3 resample, 2 caches, 1 training, 3 embeddings, 5 trial lists, 1 t-SNE, 1 results
    assert len(skipped) == 17, again.stderr[-3000:]


def test_a_trial_naming_an_utterance_without_audio_fails_the_scoring_stage(corpora, tmp_path):
    recipe = helpers.copy_recipe("shared_speakers/spk", tmp_path / "recipe", "spk/spk.sh")
    env = helpers.recipe_env()
    env["KDSPEECH_CORPORA"] = str(corpora)
    env["OMP_NUM_THREADS"] = "1"
    teacher_only = ["./run.sh", *SMALL, "--systems", "", "--chunk_models", ""]   # the teacher alone
    proc = subprocess.run(teacher_only + ["--stop_stage", "2"], cwd=recipe, capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = recipe / "dump" / "raw" / "test" / "trials"
    trials.write_text(trials.read_text() + "ls-1688-1688-142285-0000 nobody-0001 nontarget\n")
    proc = subprocess.run(teacher_only + ["--stage", "6", "--stop_stage", "7"], cwd=recipe, capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode != 0
    assert "trials:16: trial 'ls-1688-1688-142285-0000 nobody-0001' names utterance 'nobody-0001'" in proc.stderr
    assert "Stage 7" in proc.stderr or "stage 7" in proc.stderr
    assert not (recipe / "exp" / "resemblyzer" / "trials_test" / "tt" / ".done").exists()
