"""Smoke test of egs/dns5/pse (the personalized-enhancement template egs/TEMPLATE/pse/pse.sh, which
runs egs/TEMPLATE/enh/enh.sh for its training, enhancement and scoring stages) on a handful of shared
files: data, resample, sets and enrolment embeddings, the plain pDeepFilterNet2 and the light
similarity refinement (a random TinyECAPA stands in for the distilled one), enhancement, intrusive
scores, DNSMOS and personalized DNSMOS, the alpha sweep and the results; a re-run skips every stage;
an enrolment clip shorter than one chunk fails stage 3 naming the file, without a stamp."""

import json
import subprocess

import pytest
import torch

import recipe_helpers as helpers
from kdspeech.models import build_model
from kdspeech.train.checkpoint import atomic_save

SYSTEMS = ("pdfnet2 conf/cpu/train_pdfnet2.yaml train valid -;"
           "light_scaled conf/cpu/train_light.yaml train valid - model.conf.encoder.path={tiny}")


def small(tiny):
    return ["--local_data_opts", "--data shared --max_train_speakers 14 --max_test_speakers 2",
            "--light_encoder", str(tiny), "--systems", SYSTEMS.format(tiny=tiny),
            "--encoders", "pdfnet2=GE2E/- light_scaled=GE2E/TinyECAPA",
            "--valid_mixtures", "3", "--test_mixtures", "3", "--mix_seconds", "2", "--nj", "1", "--train_jobs", "1",
            "--alpha_sweep", "2 6", "--deploy", "false",
            "--train_args", "trainer.max_epochs=1 data.on_the_fly.items_per_epoch=4 batch_size=2"]


def run(recipe, env, args):
    return subprocess.run(["./run.sh", *args], cwd=recipe, capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture
def recipe(corpora, tmp_path):
    recipe = helpers.copy_recipe("dns5/pse", tmp_path / "recipe", "pse/pse.sh", "enh/enh.sh")
    torch.manual_seed(0)
    conf = {"emb_dim": 256, "chunk": 1.0}
    tiny = tmp_path / "tiny_ecapa.pth"
    atomic_save({"model_name": "tiny_ecapa", "model_conf": conf,
                 "model": build_model("tiny_ecapa", conf).state_dict()}, tiny)
    env = helpers.recipe_env()
    env["KDSPEECH_CORPORA"] = str(corpora)
    env["OMP_NUM_THREADS"] = "1"
    return recipe, env, tiny


def test_pse_recipe_small(recipe):
    recipe, env, tiny = recipe
    proc = run(recipe, env, small(tiny))
    assert proc.returncode == 0, proc.stderr[-4000:]
    exp, pse = recipe / "exp", recipe / "dump" / "pse"
    enrolled = (pse / "train_split" / "enroll" / "enroll2utt").read_text().split()
    train_utts = (pse / "train_split" / "train" / "wav.scp").read_text().split()[::2]
    assert not set(enrolled[1::2]) & set(train_utts)                    # enrolment never a target
    table = dict(json.loads((exp / "pdfnet2" / "score_test" / "summary.json").read_text()))["overall"]
    assert set(table) >= {"pesq_wb", "stoi", "si_sdr"}
    mos = json.loads((exp / "light_scaled" / "score_dnsmos_test" / "summary.json").read_text())["overall"]
    assert 1 <= mos["pdnsmos_ovrl"] <= 5 and 1 <= mos["dnsmos_ovrl"] <= 5
    for a in ("2", "6"):
        assert (exp / "light_scaled" / f"score_dnsmos_valid_alpha{a}" / "summary.json").is_file()
    text = (exp / "results" / "RESULTS.md").read_text()   # the run's; RESULTS.md is the reference
    assert "Table I" in text and "pDeepFilterNet2" in text and "(paper)" in text
    assert "Paired comparisons against pdfnet2" in text and "(chosen)" in text
    assert (exp / "results" / "results" / "fig3_sig_vs_bak_alpha.png").stat().st_size > 5000
    again = run(recipe, env, small(tiny))
    assert again.returncode == 0, again.stderr[-3000:]
    ran = [line for line in again.stderr.splitlines() if ": Stage " in line and "skipped" not in line]
    assert not ran, ran


def test_enrolment_clip_shorter_than_one_chunk_fails_stage_3(recipe):
    import soundfile as sf

    recipe, env, tiny = recipe
    args = small(tiny)
    proc = run(recipe, env, args + ["--stop_stage", "3"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    pse = recipe / "dump" / "pse"
    clip = (pse / "enroll_test" / "wav.scp").read_text().split()[1]    # a test utterance's enrolment clip
    path = recipe / clip                                                 # (relative to the recipe)
    sf.write(path, sf.read(path)[0][:8000], 16000)                       # 0.5 s: shorter than T' = 1 s
    (pse / "enroll_test" / ".done").unlink()
    proc = run(recipe, env, args + ["--stage", "3", "--stop_stage", "3"])
    assert proc.returncode != 0
    assert "shorter than --min_seconds 1" in proc.stderr and clip in proc.stderr
    assert "stage 3 (teacher embeddings of the test enrolment clips) failed" in proc.stderr
    assert not (pse / "enroll_test" / ".done").exists()
