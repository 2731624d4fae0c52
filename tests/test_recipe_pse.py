"""Smoke test of egs/dns5/pse (the personalized-enhancement template egs/TEMPLATE/pse/pse.sh, which
runs egs/TEMPLATE/enh/enh.sh for its training, enhancement and scoring stages) on a handful of shared
files: data, resample, sets and enrolment embeddings, the plain pDeepFilterNet2 and the light
similarity refinement (a random TinyECAPA stands in for the distilled one), enhancement, intrusive
scores, DNSMOS and personalized DNSMOS, the alpha sweep and the results; a re-run skips every stage;
a blind set of your own given as a path, with its enrolment clips beside it, is scored and reported;
an enrolment clip shorter than one chunk fails stage 3 naming the file, without a stamp."""

import json
import subprocess
import sys
from pathlib import Path

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


def blind_set(root, corpora):
    """<root>/noisy/<reader>/<utt>.flac (a reader's utterance, 3 s, in a nonspeech noise at 5 dB) and
    <root>/enrol/<reader>/<other utt>.flac, made a data dir <root>/../my_blind (wav.scp, utt2enroll)."""
    import numpy as np
    import soundfile as sf
    from kdspeech.data.mix import mix_at_snr

    noise, _ = sf.read(str(sorted((corpora / "noise" / "nonspeech").glob("*.flac"))[0]), dtype="float32")
    noise = np.tile(noise, 48000 // len(noise) + 1)[:48000]
    for reader in ("2033", "2414"):
        utts = sorted((corpora / "librispeech" / "LibriSpeech" / "test-other" / reader).rglob("*.flac"))
        x, sr = sf.read(str(utts[0]), dtype="float32")
        mix, _ = mix_at_snr(x[:48000], noise[:len(x[:48000])], 5)
        for folder, name, signal in (("noisy", utts[0].name, mix), ("enrol", utts[1].name, None)):
            (root / folder / reader).mkdir(parents=True, exist_ok=True)
            if signal is None:
                signal, sr = sf.read(str(utts[1]), dtype="float32")
            sf.write(str(root / folder / reader / name), signal / max(1.0, float(np.abs(signal).max())), sr)
    out = root.parent / "my_blind"
    proc = subprocess.run([sys.executable, "-m", "kdspeech.bin.data_dir_from", "--audio", str(root / "noisy"),
                           "--enrol", str(root / "enrol"), "--spk_from", "dir", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


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

    # A blind set of your own, given as a path: recordings of two unseen readers in noise, each with its
    # enrolment clip beside them (DNS5's noisy/ and enrol/ layout), made a data dir by data_dir_from.
    mine = blind_set(recipe.parent / "mine", Path(env["KDSPEECH_CORPORA"]))
    third = run(recipe, env, small(tiny) + ["--blind_sets", str(mine), "--stage", "3"])
    assert third.returncode == 0, third.stderr[-4000:]
    assert f"Stage 3: test set {mine}: check it, import it" in third.stderr
    for m in ("noisy", "pdfnet2", "light_scaled"):
        mos = json.loads((exp / m / "score_dnsmos_my_blind" / "summary.json").read_text())["overall"]
        assert 1 <= mos["pdnsmos_ovrl"] <= 5 and mos["n"] == 2
    assert not (exp / "pdfnet2" / "score_my_blind").exists()           # no reference: no intrusive metrics
    assert (exp / "pdfnet2" / "score_test" / "summary.json").is_file()  # the recipe's own set is still there
    text = (exp / "results" / "RESULTS.md").read_text()
    assert "my_blind" in text


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
