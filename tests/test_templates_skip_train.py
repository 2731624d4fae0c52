"""--skip_train in every task template (enh.sh, spk.sh, pse.sh, cls.sh): a model made elsewhere (a
best.pth with no stamp) is enhanced / embedded / scored; its stages depend on the file's content
(utils/template_lib.sh:model_dep): a re-run skips them, another best.pth re-runs them."""

import itertools
import json
import shutil
import subprocess
import sys

import numpy as np
import soundfile as sf
import torch

import recipe_helpers as helpers
from enh_fixtures import make_mix_dir
from kdspeech.data.datadir import write_kv
from kdspeech.models import build_model
from kdspeech.train.checkpoint import atomic_save

SR = 16000
DATA_SH = """#!/usr/bin/env bash
# The data dirs are made by the test; this stage only checks that they are there.
out=data
while [ $# -gt 0 ]; do case $1 in --out) out=$2; shift 2 ;; *) shift 2 ;; esac; done
for d in {dirs}; do [ -f "$out/$d/wav.scp" ] || exit 1; done
"""


def make_recipe(root, template, dirs, *more):
    """A recipe dir with cmd.sh/path.sh of a real recipe, the template(s) and utils linked, and a
    local/data.sh that only checks the test's data dirs."""
    root.mkdir(parents=True)
    for name in ("cmd.sh", "path.sh"):
        shutil.copy2(helpers.REPO / "egs" / "mini_espeak" / "enh" / name, root / name)
    for name in (template, *more):
        (root / name.split("/")[-1]).symlink_to(helpers.REPO / "egs" / "TEMPLATE" / name)
    (root / "utils").symlink_to(helpers.REPO / "utils")
    (root / "db.sh").write_text("data_inputs=()\n")
    (root / "local").mkdir()
    (root / "local" / "data.sh").write_text(DATA_SH.replace("{dirs}", dirs))
    (root / "local" / "data.sh").chmod(0o755)
    (root / "conf").mkdir()
    return root


def save_model(path, name, conf, seed=0):
    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save({"model_name": name, "model_conf": conf, "model": build_model(name, conf).state_dict()}, path)


def run(recipe, script, *args):
    proc = subprocess.run([f"./{script}", *args], cwd=recipe, capture_output=True, text=True,
                          env=helpers.recipe_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stderr


def speech_dir(root, speakers=3, per_speaker=2, seconds=1.0, seed=0):
    """A data dir of noise 'utterances' (wav.scp, utt2spk) with one file each."""
    rng = np.random.default_rng(seed)
    wav, utt2spk = {}, {}
    for s, k in itertools.product(range(speakers), range(per_speaker)):
        utt = f"s{s}-u{k}"
        path = root / "wav" / f"{utt}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float32), SR)
        wav[utt], utt2spk[utt] = str(path), f"s{s}"
    write_kv(root / "wav.scp", wav)
    write_kv(root / "utt2spk", utt2spk)
    return sorted(wav)


WAVEUNET = {"num_layers": 2, "base_channels": 4, "growth": 2, "num_decimations": 2}


def test_enh_skip_train_enhances_and_scores_a_model_made_elsewhere(tmp_path):
    recipe = make_recipe(tmp_path / "recipe", "enh/enh.sh", "tiny_test")
    make_mix_dir(recipe / "data" / "tiny_test", n=2, dur=0.4, seed=2)
    save_model(recipe / "exp/elsewhere/best.pth", "waveunet", WAVEUNET)
    args = ["--nj", "1", "--corpus_dirs", "tiny_test", "--stop_stage", "6", "--skip_train", "true",
            "--models", "elsewhere", "--test_sets", "data/tiny_test", "--metrics", "si_sdr"]
    run(recipe, "enh.sh", *args)
    assert (recipe / "exp/elsewhere/score_tiny_test/summary.json").exists()
    again = run(recipe, "enh.sh", *args)
    assert "(enhance data/tiny_test with elsewhere): exp/elsewhere/enhanced_tiny_test up to date" in again
    enhanced = (recipe / "exp/elsewhere/enhanced_tiny_test/wav.scp").read_text()
    save_model(recipe / "exp/elsewhere/best.pth", "waveunet", WAVEUNET, seed=1)   # another model there
    third = run(recipe, "enh.sh", *args)
    assert "Stage 5 (enhance data/tiny_test with elsewhere): re-running" in third
    assert "Stage 6 (score elsewhere on data/tiny_test): re-running" in third
    # Its audio is enhanced afresh (another key), not resumed from the first model's files.
    assert (recipe / "exp/elsewhere/enhanced_tiny_test/wav.scp").read_text() != enhanced
    assert len(list((recipe / "exp/elsewhere/enhanced_tiny_test/wav").iterdir())) == 1
    # A packed model (kdspeech pack) put in an exp dir as model.zip: enhanced and scored like a best.pth.
    (recipe / "exp/elsewhere/config.yaml").write_text(
        "task: enhancement\ndata: {sr: 16000, segment: 4096}\nmodel: {name: waveunet, conf: %s}\n" % WAVEUNET)
    (recipe / "exp/packed").mkdir()
    packed = subprocess.run([sys.executable, "-m", "kdspeech", "pack", "exp/elsewhere", "exp/packed/model.zip"],
                            cwd=recipe, capture_output=True, text=True)
    assert packed.returncode == 0, packed.stderr
    packed_args = [*args]
    packed_args[packed_args.index("--models") + 1] = "packed"
    run(recipe, "enh.sh", *packed_args, "--stage", "5")
    assert (recipe / "exp/packed/score_tiny_test/summary.json").read_text() == \
        (recipe / "exp/elsewhere/score_tiny_test/summary.json").read_text()   # the same weights, the same scores
    # A test set of your own whose references are shorter than their inputs (and one unreadable file):
    # one error at its import (stage 5) naming each file and what to do; nothing made of it.
    mine = make_mix_dir(tmp_path / "mine", n=3, dur=0.4, seed=4)
    clean = tmp_path / "mine/wav/utt001_clean.wav"
    sf.write(clean, sf.read(clean)[0][:3000], SR)
    (tmp_path / "mine/wav/utt002_mix.wav").write_bytes(b"RIFF, not audio")
    args[args.index("--test_sets") + 1] = f"data/tiny_test {mine}"
    proc = subprocess.run(["./enh.sh", *args, "--stage", "5"], cwd=recipe, capture_output=True, text=True,
                          env=helpers.recipe_env(), timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]
    err = proc.stderr
    assert f"ERROR [stage 5 (test set {mine}: check it, import it)] {mine}: 2 audio entries cannot be used" in err
    assert f"'utt001' ({clean}) has 3000 samples, shorter than its input in wav.scp (6400 samples" in err
    assert "utt002_mix.wav" in err and "cut both to the same span, or leave the reference out" in err
    assert not (recipe / "dump/test/mine/.done").exists() and not (recipe / "exp/elsewhere/enhanced_mine").exists()


TEACHER_CONF = """\
task: speaker_embedding
data: {segment: 16000, sr: 16000}
model: {name: tiny_ecapa, conf: {emb_dim: 16}}
teachers:
  teacher: {members: [exp/teacher_model]}
"""
ECAPA = {"emb_dim": 16, "channels": [16, 16], "kernels": [3, 3], "se_channels": [4, 4], "chunk": 0.5}


def test_spk_skip_train_embeds_and_scores_a_model_made_elsewhere(tmp_path):
    recipe = make_recipe(tmp_path / "recipe", "spk/spk.sh", "test")
    utts = speech_dir(recipe / "data" / "test")
    (recipe / "data/test/trials").write_text("".join(
        f"{a} {b} {'target' if a[:2] == b[:2] else 'nontarget'}\n" for a, b in itertools.combinations(utts, 2)))
    (recipe / "conf/teacher.yaml").write_text(TEACHER_CONF)
    save_model(recipe / "exp/teacher_model/best.pth", "tiny_ecapa", ECAPA)
    save_model(recipe / "exp/elsewhere/best.pth", "tiny_ecapa", ECAPA, seed=1)
    args = ["--nj", "1", "--corpus_dirs", "test", "--stop_stage", "7", "--skip_train", "true",
            "--models", "elsewhere", "--cache_sets", "", "--teacher_conf", "conf/teacher.yaml",
            "--test_sets", "test", "--protocols", "asym ss"]
    run(recipe, "spk.sh", *args)   # spk.sh's model_dep stopped stage 6 here ("unknown argument")
    for proto in ("asym", "ss"):
        assert (recipe / f"exp/elsewhere/trials_test/{proto}/summary.json").exists()
    again = run(recipe, "spk.sh", *args)
    assert "Stage 6 (embed test with elsewhere): exp/elsewhere/emb_test up to date, skipped" in again
    # A test set of your own beside the recipe's (a data-dir path: checked, resampled, scored alike).
    mine = tmp_path / "meeting"
    utts = speech_dir(mine, speakers=2, per_speaker=2, seed=5)
    (mine / "trials").write_text("".join(
        f"{a} {b} {'target' if a[:2] == b[:2] else 'nontarget'}\n" for a, b in itertools.combinations(utts, 2)))
    args[args.index("--test_sets") + 1] = f"test {mine}"
    out = run(recipe, "spk.sh", *args, "--stage", "6")
    assert f"Stage 6: test set {mine}: check it, import it" in out
    assert "Stage 6 (embed test with elsewhere): exp/elsewhere/emb_test up to date, skipped" in out
    for proto in ("asym", "ss"):
        assert (recipe / f"exp/elsewhere/trials_meeting/{proto}/summary.json").exists()
    (mine / "trials").unlink()
    proc = subprocess.run(["./spk.sh", *args, "--stage", "6"], cwd=recipe, capture_output=True, text=True,
                          env=helpers.recipe_env(), timeout=600)
    assert proc.returncode == 1 and f"test set {mine} has no trials list" in proc.stderr
    assert "kdspeech.bin.make_trials" in proc.stderr


PDCCRN = {"emb_dim": 16, "channels": [4, 8], "lstm_units": 8, "lstm_layers": 1}


def test_pse_skip_train_enhances_a_personalized_model_made_elsewhere(tmp_path):
    recipe = make_recipe(tmp_path / "recipe", "pse/pse.sh", "blind", "enh/enh.sh")
    utts = speech_dir(recipe / "data" / "blind", speakers=2, per_speaker=1)
    write_kv(recipe / "data/blind/utt2enroll", {u: str(recipe / "data/blind/wav" / f"{u}.wav") for u in utts})
    for name in ("teacher.yaml", "mix.yaml"):
        (recipe / "conf" / name).write_text("task: personalized_enhancement\n")
    save_model(recipe / "exp/elsewhere/best.pth", "dccrn", PDCCRN)
    common = ["--nj", "1", "--corpus_dirs", "blind", "--blind_sets", "blind", "--teacher_conf", "conf/teacher.yaml",
              "--mix_conf", "conf/mix.yaml", "--deploy", "false", "--skip_train", "true", "--models", "elsewhere"]
    run(recipe, "pse.sh", *common, "--stop_stage", "2")
    # The enrolment embeddings stage 3 would make with the reference encoder: one per test utterance.
    table = recipe / "dump/pse/enroll_test"
    table.mkdir(parents=True)
    np.savez(table / "emb.npz", keys=np.array(utts), emb=np.ones((len(utts), 16), np.float32))
    (table / ".done").write_text("fingerprint made-by-the-test\n")
    out = run(recipe, "pse.sh", *common, "--stage", "5", "--stop_stage", "5")
    assert "Stage 5: enhance dump/raw/blind with elsewhere" in out
    assert len((recipe / "exp/elsewhere/enhanced_blind/wav.scp").read_text().splitlines()) == 2
    again = run(recipe, "pse.sh", *common, "--stage", "5", "--stop_stage", "5")
    assert "exp/elsewhere/enhanced_blind up to date, skipped" in again


MOBILENET = {"num_classes": 2, "width": 0.125, "dropout": 0.0}


def test_cls_skip_train_scores_models_made_elsewhere(tmp_path):
    recipe = make_recipe(tmp_path / "recipe", "cls/cls.sh", "all")
    utts = speech_dir(recipe / "data" / "all", speakers=2, per_speaker=4)
    write_kv(recipe / "data/all/utt2label", {u: ("dog" if u.startswith("s0") else "rain") for u in utts})
    (recipe / "data/all/classes.txt").write_text("dog\nrain\n")
    (recipe / "data/all/folds.txt").write_text("1 4\n")
    for part, members in (("train", utts[::4]), ("valid", utts[1::4]), ("test", utts[2::2])):
        d = recipe / "data/fold1" / part
        d.mkdir(parents=True)
        for name in ("wav.scp", "utt2label"):
            rows = dict(line.split(" ", 1) for line in (recipe / "data/all" / name).read_text().splitlines())
            write_kv(d / name, {u: rows[u] for u in members})
        shutil.copy(recipe / "data/all/classes.txt", d / "classes.txt")
    for model in ("init_16k", "ft_1000", "basd_1000", "cssd_1000"):
        save_model(recipe / "exp/fold1" / model / "best.pth", "mobilenetv2", MOBILENET)
    args = ["--rates", "1000", "--duration", "1.0", "--stop_stage", "10", "--skip_train", "true",
            "--deploy", "false", "--privacy", "false"]
    out = run(recipe, "cls.sh", *args)
    assert "Stage 3" not in out and "Stage 7" not in out
    for model, rate in (("init_16k", 16000), ("init_16k", 1000), ("cssd_1000", 1000)):
        assert (recipe / "exp/fold1" / model / f"score_{rate}" / "summary.json").exists()
    again = run(recipe, "cls.sh", *args)
    assert "fold 1: score cssd_1000 at 1000 Hz): exp/fold1/cssd_1000/score_1000 up to date, skipped" in again
    # A test set of your own: checked against the class list, featurised, scored by every model.
    mine = tmp_path / "site2"
    site = speech_dir(mine, speakers=2, per_speaker=2, seed=7)
    write_kv(mine / "utt2label", {u: ("dog" if u.startswith("s0") else "rain") for u in site})
    out = run(recipe, "cls.sh", *args, "--test_sets", str(mine), "--stage", "2")
    assert f"Stage 2: test set {mine}: check it, import it" in out
    assert "Stage 2 (features at 1000 Hz): dump/feats/1000 up to date, skipped" in out
    for model, rate in (("init_16k", 16000), ("init_16k", 1000), ("cssd_1000", 1000)):
        summary = recipe / "exp/fold1" / model / f"score_{rate}_site2" / "summary.json"
        assert json.loads(summary.read_text())["num_utts"] == 4
    from kdspeech.report.cls_runs import SYSTEMS, runs_of
    from kdspeech.report.cls_test_sets import test_set_sections
    (title, text), = test_set_sections(runs_of(recipe / "exp", [], []), ["1"], [1000], SYSTEMS, "macro_accuracy",
                                       ["site2"])
    assert title == "Test set site2: macro accuracy (%)" and "(4 clips)" in text and "| cssd: " in text
    write_kv(mine / "utt2label", {u: ("cat" if u.startswith("s0") else "rain") for u in site})
    proc = subprocess.run(["./cls.sh", *args, "--test_sets", str(mine), "--stage", "2"], cwd=recipe,
                          capture_output=True, text=True, env=helpers.recipe_env(), timeout=600)
    assert proc.returncode == 1 and "1 labels are not classes of data/all/classes.txt: 'cat'" in proc.stderr


def test_models_select_the_systems_every_stage_trains():
    """--models selects the systems of every stage, training included (utils/template_lib.sh
    selected_systems): a model and the systems it distils from, in list order; a model no system
    trains (made elsewhere) selects nothing."""
    script = f"""
    . {helpers.REPO}/utils/stage.sh
    . {helpers.REPO}/utils/template_lib.sh
    declare -A sys_conf=([t1]=a [t2]=a [s1]=a [s2]=a [b]=a) sys_deps=([s2]="t1 t2" [t1]="" [t2]="" [s1]="" [b]="s2")
    sys_names=(t1 t2 s1 s2 b)
    for models in "s2" "s1 elsewhere" "b" "elsewhere"; do echo "$(selected_systems "$models" | tr '\\n' ' ')|"; done
    """
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["t1 t2 s2 |", "s1 |", "t1 t2 s2 b |", "|"]
