"""egs/user_data/cls as a newcomer meets it: a CSV of participants' clips, stage 1 fingerprinting the
CSV and the clips' folder, folds derived from stage 1, the grid selected by macro F1 and run in
parallel, progress on the console, RESULTS.md with the user's command and no paper columns; and
the CSV's errors as one message naming the line, without a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

import recipe_helpers as helpers
from kdspeech.bin import select_grid_cls

SCRIPT = helpers.REPO / "egs" / "user_data" / "cls" / "local" / "prepare_csv.py"
TRAIN = """task: classification
data: {}
batch_size: 4
model: {name: mobilenetv2, conf: {width: 0.125, dropout: 0.0}}
loss: [{name: ce, weight: 1.0}]
optim: {name: adam, lr: 1.0e-3, betas: [0.9, 0.999]}
trainer: {max_epochs: 1, num_threads: 1, tensorboard: false}
"""
GRID = "pipeline: cssd\nrate: 1000\nfold: 1\nalpha: [0.3, 0.7]\nT: [2]\n"


def clip(path, freq, sr=16000, dur=1.0, channels=1):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * dur)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    sf.write(path, np.stack([x] * channels, 1) if channels > 1 else x, sr)


def user_csv(root, participants=4, per_class=2):
    lines = ["path,label,participant"]
    for p in range(participants):
        for c, (label, freq) in enumerate((("low", 200), ("mid", 400), ("high", 700))):
            for i in range(per_class):
                name = f"clips/p{p}/{label}_{i}.wav"
                clip(root / name, freq * (1 + 0.05 * i + 0.02 * p))
                lines.append(f"{name},{label},P{p}")
    (root / "my.csv").write_text("\n".join(lines) + "\n")
    return root / "my.csv"


def prepare(csv, out, **env):
    return subprocess.run([sys.executable, str(SCRIPT), "--csv", str(csv), "--out", str(out)],
                          capture_output=True, text=True, env=dict(os.environ, **env))


def test_a_wrong_header_or_missing_clip_is_one_message_without_traceback(tmp_path):
    csv = user_csv(tmp_path, participants=1, per_class=1)
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\nclips/p0/low_0.wav,low\n")
    proc = prepare(bad, tmp_path / "all", KDSPEECH_STAGE="1 (data preparation)")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"ERROR [stage 1 (data preparation)] {bad}:1: header must be "
                                   "path,label,fold or path,label,participant (got file,label; unknown: file)")
    # Every bad row in one message (issue 20: one per run), each with its line, nothing written.
    rows = csv.read_text().splitlines()
    csv.write_text("\n".join(rows[:2] + ["clips/absent.wav,low,P0", "clips/p0/mid_0.wav,,P0"] + rows[2:]) + "\n")
    proc = prepare(csv, tmp_path / "all", KDSPEECH_STAGE="1 (data preparation)")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"ERROR [stage 1 (data preparation)] {csv}: 2 of 5 rows cannot be used")
    assert f"line 3: {tmp_path / 'clips' / 'absent.wav'}: audio file not found" in proc.stderr
    assert "line 4: empty label" in proc.stderr
    assert not (tmp_path / "all").exists()


def test_a_stereo_or_empty_clip_names_its_csv_line_and_utterance(tmp_path):
    csv = user_csv(tmp_path, participants=1, per_class=1)
    clip(tmp_path / "clips" / "p0" / "mid_0.wav", 400, channels=2)
    proc = prepare(csv, tmp_path / "all")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    mid = tmp_path / "clips" / "p0" / "mid_0.wav"
    assert f"line 3: {mid}: 2 channels, expected mono" in proc.stderr
    sf.write(mid, np.zeros(0, np.float32), 16000)
    proc = prepare(csv, tmp_path / "all")
    assert f"line 3: {mid}: empty (0 samples)" in proc.stderr


def test_clips_outside_the_csvs_folder_are_named_in_a_warning(tmp_path):
    audio = tmp_path / "elsewhere" / "corpus"
    for name in ("a/x.wav", "b/y.flac"):
        clip(audio / name, 300)
    (tmp_path / "lists").mkdir()
    csv = tmp_path / "lists" / "my.csv"
    csv.write_text(f"path,label,fold\n{audio / 'a/x.wav'},dog,1\n{audio / 'b/y.flac'},cat,2\n")
    proc = prepare(csv, tmp_path / "all")
    assert proc.returncode == 0, proc.stderr
    ids = [line.split()[0] for line in (tmp_path / "all" / "wav.scp").read_text().splitlines()]
    assert ids == ["x", "y"]
    assert f"2 of 2 clips lie outside the CSV's folder {tmp_path / 'lists'} (e.g. {audio / 'a/x.wav'})" in proc.stderr
    # The durations --duration auto reads, from the headers.
    assert (tmp_path / "all" / "utt2dur").read_text() == "x 1.000\ny 1.000\n"


def test_the_grid_selects_by_the_recipes_metric(tmp_path):
    # accuracy and F1 disagree: (0.3, 2) is best by macro accuracy, (0.7, 2) by macro F1
    for (a, t), (acc, f1) in {(0.3, 2): (0.8, 0.5), (0.7, 2): (0.6, 0.7)}.items():
        d = tmp_path / f"a{a}_T{t}" / "valid_1000"
        d.mkdir(parents=True)
        (d / "summary.json").write_text(f'{{"macro_accuracy": {acc}, "macro_f1": {f1}}}')
    for metric, best in (("macro_accuracy", 0.3), ("macro_f1", 0.7)):
        select_grid_cls.main(["--runs", str(tmp_path), "--score", "valid_1000", "--metric", metric,
                              "--out", str(tmp_path / "best.yaml")])
        out = yaml.safe_load((tmp_path / "best.yaml").read_text())
        assert out["alpha"] == best and out["metric"] == metric
    cls_sh = (helpers.REPO / "egs" / "TEMPLATE" / "cls" / "cls.sh").read_text()
    assert '--metric "${metric}"' in cls_sh and "--metric macro_accuracy" not in cls_sh


def copy_recipe(dst):
    helpers.copy_recipe("user_data/cls", dst, "cls/cls.sh")
    (dst / "conf" / "test").mkdir()
    (dst / "conf" / "test" / "train.yaml").write_text(TRAIN)
    (dst / "conf" / "test" / "grid.yaml").write_text(GRID)
    (dst / "conf" / "test" / "cls.conf").write_text("# test scale\n--train_jobs=2\n--deploy=false\n")
    return dst


def run(recipe, *args, csv):
    env = helpers.recipe_env()
    env["KDSPEECH_USER_CSV"] = str(csv)
    return subprocess.run(["./run.sh", *args], cwd=recipe, capture_output=True, text=True, env=env,
                          timeout=900)


def test_user_data_recipe(tmp_path):
    recipe = copy_recipe(tmp_path / "recipe")
    csv = user_csv(recipe)   # the CSV and its clips inside the recipe's folder (issue 20: stage 1 re-ran on every call)
    clip(recipe / "clips" / "p0" / "low_0.wav", 200, dur=0.5)   # one short clip: padded to the others' 1 s
    common = ["--rates", "1000", "--local_data_opts", "--num_folds 2 --valid_fraction 0.3"]
    # --conf_dir last: any position; its cls.conf sets --train_jobs 2 and --deploy false.
    proc = run(recipe, *common, "--conf_dir", "conf/test", csv=csv)
    assert proc.returncode == 0, proc.stderr[-4000:]
    err = proc.stderr
    # Folds: the 2 that stage 1 dealt (no --folds given), participants whole.
    assert (recipe / "data" / "all" / "folds.txt").read_text().count("\n") == 2
    for k in (1, 2):
        assert (recipe / "exp" / f"fold{k}" / "cssd_1000" / "score_1000" / "summary.json").exists()
    # The grid: by macro F1, its 2 points trained at the same time (both start before either ends).
    assert yaml.safe_load((recipe / "exp" / "grid" / "best.yaml").read_text())["metric"] == "macro_f1"
    starts = [i for i, l in enumerate(err.splitlines()) if "Stage 6: grid cssd" in l]
    first_end = min(i for i, l in enumerate(err.splitlines()) if "exp/grid/a0." in l and ": epoch 1/1" in l)
    assert len(starts) == 2 and max(starts) < first_end, err
    # Progress of every training on the console.
    assert "exp/fold1/init_16k: epoch 1/1, train loss " in err and "exp/fold2/cssd_1000: epoch 1/1" in err
    text = (recipe / "exp" / "results" / "RESULTS.md").read_text()   # the run's; RESULTS.md is the reference
    assert "(paper)" not in text and "TODO" not in text
    assert "| system | 1 kHz |" in text
    assert "## Table 1: macro f1 (%), mobilenetv2 (width 0.125); 16 kHz generation 1 epochs" in text
    assert "```sh\n./run.sh --rates 1000 --local_data_opts --num_folds\\ 2" in text
    # --duration auto: the longest clip's 1 s, and the one clip it pads said at stage 2.
    assert "1 s per clip (--duration 1): 1 of 24 clips zero-padded, 0 cut" in err
    assert "--conf_dir conf/test\n```" in text

    # --folds naming fewer folds than stage 1 dealt is refused, saying how many clips go untested.
    proc = run(recipe, *common, "--conf_dir", "conf/test", "--folds", "1", csv=csv)
    assert proc.returncode == 1
    assert "--folds '1' leaves out fold 2 of the 2 that stage 1 dealt: " in proc.stderr
    assert "--fold_subset true" in proc.stderr

    # The run's own data/, dump/, exp/ beside the CSV are not stage 1's inputs: a re-run skips it.
    proc = run(recipe, *common, "--conf_dir", "conf/test", "--stop_stage", "1", csv=csv)
    assert "Stage 1 (data preparation): data/all up to date, skipped" in proc.stderr
    # A corrected CSV row re-runs stage 1 and the features, saying why.
    csv.write_text(csv.read_text().replace("clips/p3/high_1.wav,high,P3", "clips/p3/high_1.wav,mid,P3"))
    proc = run(recipe, *common, "--conf_dir", "conf/test", "--stop_stage", "2", csv=csv)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"Stage 1 (data preparation): re-running: input {csv} or a file it lists changed" in proc.stderr
    assert "Stage 2 (features at 16000 Hz): re-running: input data/all changed" in proc.stderr
    # A clip the CSV does not list changes nothing; a listed clip replaced re-runs stage 1, naming it.
    clip(recipe / "clips" / "p9" / "new.wav", 500)
    proc = run(recipe, *common, "--conf_dir", "conf/test", "--stop_stage", "1", csv=csv)
    assert "Stage 1 (data preparation): data/all up to date, skipped" in proc.stderr
    clip(recipe / "clips" / "p2" / "mid_1.wav", 450)
    proc = run(recipe, *common, "--conf_dir", "conf/test", "--stop_stage", "1", csv=csv)
    assert f"1 changed, e.g. {recipe / 'clips' / 'p2' / 'mid_1.wav'}" in proc.stderr


def test_help_lists_the_user_options_only(tmp_path):
    recipe = copy_recipe(tmp_path / "recipe")
    proc = subprocess.run(["./run.sh", "--help"], cwd=recipe, capture_output=True, text=True, env=helpers.recipe_env())
    assert proc.returncode == 0, proc.stderr
    for option in ("--conf_dir", "--rates", "--duration", "--folds", "--test_sets", "--pretrained"):
        assert f"\n  {option} " in proc.stdout, option
    for internal in ("--grid_dir", "--run_command", "--archs", "--precompute_teacher", "--results_dir"):
        assert f"\n  {internal} " not in proc.stdout, internal
    assert "Every other option of ./cls.sh is accepted too" in proc.stdout
