"""egs/esc50/cls end to end (stages 1-13 but download, ablations and privacy) on 12 real ESC-50 clips of the
shared corpus, one fold, one rate, one epoch: every stage runs, RESULTS.md and the plot are written,
and a re-run skips every stage."""

import csv
import os
import subprocess
from pathlib import Path

import soundfile as sf

import recipe_helpers as helpers


TRAIN = """task: classification
data: {}
batch_size: 4
model: {name: mobilenetv2, conf: {width: 0.125, dropout: 0.0}}
loss: [{name: ce, weight: 1.0}]
optim: {name: adam, lr: 1.0e-3, betas: [0.9, 0.999]}
trainer: {max_epochs: 1, num_threads: 1, tensorboard: false}
"""
GRID = "pipeline: cssd\nrate: 1000\nfold: 1\nalpha: [0.5]\nT: [2]\n"


def small_esc50(corpora, dst, classes=("dog", "rooster", "rain"), per_class=4):
    """A fake ESC-50 root: the first clips of a few classes (audio linked), csv rows unchanged."""
    (dst / "audio").mkdir(parents=True)
    (dst / "meta").mkdir()
    src = corpora / "esc50"
    with open(src / "meta" / "esc50.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    keep = []
    for c in classes:
        keep += [r for r in rows if r["category"] == c][:per_class]
    for r in keep:
        stem = Path(r["filename"]).stem
        os.symlink(src / "audio" / f"{stem}.flac", dst / "audio" / f"{stem}.flac")
    with open(dst / "meta" / "esc50.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)
    return dst


def copy_recipe(dst):
    helpers.copy_recipe("esc50/cls", dst, "cls/cls.sh")
    (dst / "conf" / "test").mkdir()
    (dst / "conf" / "test" / "train.yaml").write_text(TRAIN)
    (dst / "conf" / "test" / "grid.yaml").write_text(GRID)
    return dst


def test_esc50_recipe_small(corpora, tmp_path):
    root = small_esc50(corpora, tmp_path / "ESC-50")
    recipe = copy_recipe(tmp_path / "recipe")
    env = helpers.recipe_env()
    env["KDSPEECH_ESC50"] = str(root)
    args = ["./run.sh", "--conf_dir", "conf/test", "--folds", "1", "--rates", "1000", "--duration", "1.0",
            "--local_data_opts", "--resplit true --num_folds 2 --valid_fraction 0.3", "--privacy", "false",
            "--deploy", "false", "--fold_subset", "true"]
    proc = subprocess.run(args, cwd=recipe, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    for model in ("init_16k", "ft_1000", "basd_1000", "cssd_1000"):
        assert (recipe / "exp" / "fold1" / model / "best.pth").exists(), model
    assert (recipe / "exp" / "fold1" / "init_16k" / "score_1000" / "summary.json").exists()
    assert "alpha: 0.5" in (recipe / "exp" / "grid" / "best.yaml").read_text()
    text = (recipe / "exp" / "results" / "RESULTS.md").read_text()   # the run's; RESULTS.md is the reference
    assert "CSSD (teacher: 16 kHz model on 16 kHz audio)" in text and "TODO" not in text
    assert "1 kHz (paper)" in text and "| 44.4 |" in text          # the paper's MobileNetV2, fine-tuned at 1 kHz
    assert "```sh\n./run.sh --conf_dir conf/test --folds 1 " in text  # the command the user ran
    assert "mobilenetv2 (width 0.125); 16 kHz generation 1 epochs, fine-tuning 1 epochs" in text
    assert "WARNING: --folds '1' leaves out fold 2 of the 2 that stage 1 dealt" in proc.stderr
    assert (recipe / "exp" / "results" / "results" / "fold_ft_vs_cssd.png").stat().st_size > 1000
    # --ngpu 0 (the default) trains on the CPU even where a GPU is visible.
    log = (recipe / "exp" / "fold1" / "init_16k" / "log" / "train.log").read_text()
    assert "trainer.device=cpu" in log and "launch.py: --ngpu 0, on the CPU" in log
    again = subprocess.run(args, cwd=recipe, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0
    started = [l for l in again.stderr.splitlines() if " Stage " in l and "skipped" not in l]
    skipped = [l for l in again.stderr.splitlines() if "up to date, skipped" in l]
    assert len(started) == len(skipped) >= 12, again.stderr[-3000:]


def test_esc50_clip_at_another_rate_is_named_and_fails_strict_rate(corpora, tmp_path):
    root = small_esc50(corpora, tmp_path / "ESC-50", classes=("dog", "rain"), per_class=2)
    clip = sorted((root / "audio").iterdir())[0]
    x, sr = sf.read(clip, dtype="float32")
    clip.unlink()
    sf.write(clip, x[::2], sr // 2, format="FLAC")          # 22.05 kHz among 44.1 kHz clips
    recipe = copy_recipe(tmp_path / "recipe")
    env = helpers.recipe_env()
    env["KDSPEECH_ESC50"] = str(root)
    args = ["./run.sh", "--conf_dir", "conf/test", "--folds", "1", "--rates", "1000", "--duration", "1.0",
            "--local_data_opts", "--resplit true --num_folds 2 --valid_fraction 0.3", "--stop_stage", "2",
            "--fold_subset", "true"]
    proc = subprocess.run(args + ["--strict_rate", "true"], cwd=recipe, capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 1
    assert f"at {sr // 2} Hz" in proc.stderr and clip.stem in proc.stderr and "stage 2" in proc.stderr
    proc = subprocess.run(args, cwd=recipe, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warnings in dump/feats/" in proc.stderr and f"at {sr // 2} Hz" in proc.stderr


def test_esc50_cpu_scale_is_one_option_and_its_numbers_agree():
    """--conf_dir conf/cpu is the whole CPU setting; RESULTS.md, run.sh and the conf say 12 and 8 epochs."""
    recipe = helpers.REPO / "egs" / "esc50" / "cls"
    conf = (recipe / "conf" / "cpu" / "cls.conf").read_text()
    assert "--init_args=trainer.max_epochs=12" in conf.splitlines()
    assert "max_epochs: 8" in (recipe / "conf" / "cpu" / "train.yaml").read_text()
    results = (recipe / "RESULTS.md").read_text()
    assert "16 kHz generation 12 epochs, every other training 8 epochs" in results
    run_sh = (recipe / "run.sh").read_text()
    assert "--conf_dir conf/cpu" in run_sh and "16 kHz\n# generation 12 epochs, other trainings 8" in run_sh
    assert "max_epochs=16" not in run_sh
