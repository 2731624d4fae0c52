"""Several architectures and seeds in the classification recipes: make_results_cls on the exp layout
``exp/<arch>/seed<s>/fold<k>/...`` (statistics over (fold, seed) pairs equal kdspeech.metrics.paired's
on the same numbers), and egs/esc50/cls run with --archs and --seeds end to end at toy scale."""

import json
import subprocess

import numpy as np
import pytest
import yaml

import recipe_helpers as helpers
from kdspeech.bin import make_results_cls
from kdspeech.errors import KdError
from kdspeech.metrics import paired
from kdspeech.report.cls_paired import ordering_sentence

CLASSES = ("coughing", "dog", "rain", "vacuum_cleaning")
# Probability of a right answer per system: BASD and CSSD clearly above fine-tuning, CSSD ~ BASD.
SKILL = {"init_16k@16000": 0.9, "init_16k": 0.2, "ft": 0.45, "basd": 0.7, "cssd": 0.72, "basd2": 0.5, "cssdlow": 0.6}


def write_exp(exp, archs=("cnn14", "mobilenetv2"), seeds=("1", "2", "3"), folds=("1", "2", "3"), rates=(1000, 2000),
              clips=40, layout="multi", seed=0):
    """Score dirs of every system; returns ``{(arch, seed, fold, model, rate): macro_accuracy}``."""
    rng = np.random.default_rng(seed)
    models = [("init_16k", 16000)] + [(m, r) for r in rates for m in
                                      ("init_16k", f"ft_{r}", f"basd_{r}", f"cssd_{r}", f"basd2_{r}")]
    models += [(f"cssdlow_{r}", r) for r in rates if r > min(rates)]
    values = {}
    for arch in archs:
        for s in seeds:
            run = exp if layout == "single" else exp / arch / f"seed{s}"
            for k in folds:
                for model, r in models:
                    key = "init_16k@16000" if r == 16000 else "init_16k" if model == "init_16k" else model.split("_")[0]
                    p = SKILL[key] + rng.normal(0, 0.05)
                    refs = [CLASSES[i % len(CLASSES)] for i in range(clips)]
                    right = (rng.random(clips) < p).astype(int)
                    d = run / f"fold{k}" / model / f"score_{r}"
                    d.mkdir(parents=True)
                    (d / "scores.tsv").write_text("utt\treference\tprediction\tcorrect\n" + "".join(
                        f"u{i:03d}\t{c}\t{c if ok else 'other'}\t{ok}\n" for i, (c, ok) in enumerate(zip(refs, right))))
                    macro = float(np.mean([right[[c == x for x in refs]].mean() for c in CLASSES]))
                    (d / "summary.json").write_text(json.dumps({"macro_accuracy": macro, "accuracy": right.mean(),
                                                                "macro_f1": macro, "num_utts": clips}))
                    values[(arch, s, k, model, r)] = macro
                (run / f"fold{k}" / "init_16k" / "config.yaml").write_text(
                    yaml.safe_dump({"model": {"name": arch, "conf": {"width": 0.25}}, "trainer": {"max_epochs": 3}}))
        grid = exp / "grid" if layout == "single" else exp / arch / "grid"
        grid.mkdir(parents=True, exist_ok=True)
        (grid / "best.yaml").write_text(yaml.safe_dump({"alpha": 0.5, "T": 2.0, "metric": "macro_accuracy", "value": 0.6,
                                                        "grid": [{"alpha": 0.5, "T": 2.0, "macro_accuracy": 0.6}]}))
    return values


def results(tmp_path, *extra, archs="cnn14 mobilenetv2", seeds="1 2 3", folds="1 2 3"):
    out = tmp_path / "RESULTS.md"
    args = ["--exp", str(tmp_path / "exp"), "--folds", folds, "--rates", "1000 2000", "--out", str(out),
            "--plot_dir", str(tmp_path / "results"), *extra]
    if archs:
        args += ["--archs", archs, "--seeds", seeds]
    make_results_cls.main(args)
    return out.read_text()


def section(text, heading):
    start = text.index("## " + heading)
    end = text.find("\n## ", start + 3)
    return text[start: end if end > 0 else None]


def test_statistics_over_fold_seed_pairs_equal_paired_py(tmp_path):
    values = write_exp(tmp_path / "exp")
    text = results(tmp_path, "--ablations")
    for arch in ("cnn14", "mobilenetv2"):
        table1 = section(text, "Table 1: macro accuracy (%), " + arch)
        assert f"{arch} (width 0.25); 16 kHz generation 3 epochs" in table1 and "mean ± std over 3 folds x 3 seeds" in table1
        stats = section(text, f"Paired differences over (fold, seed) runs and the paper's ordering, {arch}")
        for r in (1000, 2000):
            def of(model):
                return [values[(arch, s, k, model, r)] for s in "123" for k in "123"]
            ft = of(f"ft_{r}")
            mean, std = 100 * np.mean(ft), 100 * np.std(ft)
            assert "| fine-tuned at the low rate (cross-entropy) |" in table1
            assert f"{mean:.1f} ± {std:.1f}" in table1
            for a, b in (("basd", "ft"), ("cssd", "ft"), ("cssd", "basd")):
                res = paired.compare(of(f"{a}_{r}"), of(f"{b}_{r}"), seeds=3)
                assert res.n == 9
                row = (f"| {r // 1000} kHz | {a} - {b} | 9 | {100 * res.mean_baseline:.3f} | {100 * res.mean_system:.3f} "
                       f"| {paired.format_diff(res, scale=100, digits=1)} | {paired.format_p(res.p_value)} |")
                assert row in stats, (row, stats)
            # BASD and CSSD beat fine-tuning by ~25 points on every pair: both > steps at the 5 % level
            sentence = next(l for l in stats.splitlines() if l.startswith(f"- **{arch}, {r // 1000} kHz**"))
            assert "(9 (fold, seed) pairs)" in sentence
            assert "BASD > fine-tuned: holds at the 5 % level (CI above 0, Wilcoxon p < 0.05)" in sentence
            assert "CSSD > fine-tuned: holds at the 5 % level" in sentence
            cssd_basd = paired.compare(of(f"cssd_{r}"), of(f"basd_{r}"), seeds=3)
            if cssd_basd.ci_high < 0:
                assert "does not hold" in sentence
            elif cssd_basd.mean_diff >= 0:
                assert "ordering CSSD >= BASD > fine-tuned holds (both > steps at the 5 % level)" in sentence
        # Per-fold table: mean over seeds; per-clip pairs pooled over folds and seeds (3 x 3 x 40 clips)
        assert "| 1 kHz | cssd - ft | 120 |" in section(text, f"Paired comparisons per clip (all folds, seeds resampled), {arch}")
        assert (tmp_path / "results" / f"fold_ft_vs_cssd_{arch}.png").stat().st_size > 1000
    s53 = section(text, "Section 5.3")
    assert "| system | rate | ours (cnn14) | ours (mobilenetv2) |" in s53
    # The ablations' paired differences; the second generation is 20 points below the first on every pair
    s53p = section(text, "Section 5.3: paired differences")
    for arch in ("cnn14", "mobilenetv2"):
        for a, b, r in (("basd2", "basd", 1000), ("cssdlow", "cssd", 2000), ("cssdlow", "ft", 2000)):
            res = paired.compare(*([values[(arch, s, k, f"{m}_{r}", r)] for s in "123" for k in "123"] for m in (a, b)), seeds=3)
            verdict = ("A higher" if res.ci_low > 0 else "A lower") if res.confirmed else "not shown"
            assert a != "basd2" or verdict == "A lower"
            row = (f"| {arch} | {r // 1000} kHz | {a} - {b} | 9 | {100 * res.mean_baseline:.3f} | "
                   f"{100 * res.mean_system:.3f} | {paired.format_diff(res, scale=100, digits=1)} | "
                   f"{paired.format_p(res.p_value)} | {verdict} | n/r |")
            assert row in s53p, (row, s53p)


def test_ordering_sentence_says_when_the_paper_ordering_fails():
    base = [0.3, 0.31, 0.29, 0.3, 0.33, 0.28, 0.32, 0.3]
    worse = paired.compare([b - 0.1 + 0.003 * i for i, b in enumerate(base)], base, seeds=3)
    better = paired.compare([b + 0.1 + 0.003 * i for i, b in enumerate(base)], base, seeds=3)
    tie = paired.compare([b + (0.01 if i % 2 else -0.01) for i, b in enumerate(base)], base, seeds=3)
    text = ordering_sentence("x", 1000, {("basd", "ft"): worse, ("cssd", "ft"): better, ("cssd", "basd"): better},
                             {"ft": 45.1, "basd": 50.2, "cssd": 49.8})
    assert "CSSD >= BASD > fine-tuned does not hold (a step reversed at the 5 % level)" in text
    assert "BASD > fine-tuned: reversed at the 5 % level (CI below 0, Wilcoxon p < 0.05)" in text
    assert "Paper: does not hold (fine-tuned 45.1, BASD 50.2, CSSD 49.8)." in text
    text = ordering_sentence("x", 2000, {("basd", "ft"): better, ("cssd", "ft"): better, ("cssd", "basd"): tie})
    assert "holds (both > steps at the 5 % level)" in text
    assert "CSSD >= BASD: holds on the mean, not significant (CI includes 0)" in text


def test_a_ci_above_0_without_the_wilcoxon_test_is_not_confirmed():
    """Five pairs all above 0: the bootstrap CI excludes 0 but no two-sided Wilcoxon p can be < 0.05."""
    up = paired.compare([0.4, 0.42, 0.41, 0.4, 0.43], [0.3, 0.31, 0.29, 0.3, 0.33], seeds=3)
    assert up.significant and up.p_value >= 0.05 and not up.confirmed
    text = ordering_sentence("x", 1000, {("basd", "ft"): up, ("cssd", "ft"): up, ("cssd", "basd"): up})
    assert "BASD > fine-tuned: holds on the mean, not significant (CI above 0 but Wilcoxon p >= 0.05)" in text
    assert "holds on the means (not every > step at the 5 % level)" in text


def test_default_layout_is_one_run_and_archs_go_with_seeds(tmp_path):
    write_exp(tmp_path / "exp", archs=("resnet38",), seeds=("1",), layout="single")
    text = results(tmp_path, "--grid", str(tmp_path / "exp" / "grid" / "best.yaml"), archs="")
    assert "mean ± std over 3 folds\n" in text and "x 1 seeds" not in text
    assert "## Paired differences over (fold, seed) runs and the paper's ordering\n" in text
    assert "alpha = 0.5, T = 2.0" in text and (tmp_path / "results" / "fold_ft_vs_cssd.png").exists()
    with pytest.raises(KdError, match="--archs and --seeds go together"):
        make_results_cls.main(["--exp", str(tmp_path / "exp"), "--folds", "1", "--rates", "1000", "--archs", "cnn14",
                               "--out", str(tmp_path / "R.md"), "--plot_dir", str(tmp_path / "p")])


TRAIN = """task: classification
data: {{}}
batch_size: 4
model: {{name: {arch}, conf: {{width: {width}, dropout: 0.0}}}}
loss: [{{name: ce, weight: 1.0}}]
optim: {{name: adam, lr: 1.0e-3, betas: [0.9, 0.999]}}
trainer: {{max_epochs: 1, num_threads: 1, tensorboard: false}}
"""


def test_esc50_recipe_two_archs_two_seeds(corpora, tmp_path):
    from test_recipe_cls import GRID, small_esc50

    root = small_esc50(corpora, tmp_path / "ESC-50", classes=("dog", "rain", "coughing"), per_class=4)
    recipe = tmp_path / "recipe"
    helpers.copy_recipe("esc50/cls", recipe, "cls/cls.sh")
    conf = recipe / "conf" / "test"
    conf.mkdir()
    (conf / "train.yaml").write_text(TRAIN.format(arch="mobilenetv2", width=0.125))
    (conf / "train_resnet38.yaml").write_text(TRAIN.format(arch="resnet38", width=0.03125))
    (conf / "grid.yaml").write_text(GRID)
    env = helpers.recipe_env()
    env["KDSPEECH_ESC50"] = str(root)
    common = ["./run.sh", "--conf_dir", "conf/test", "--folds", "1", "--rates", "1000", "--duration", "1.0",
              "--local_data_opts", "--resplit true --num_folds 2 --valid_fraction 0.3", "--privacy", "false",
              "--deploy", "false", "--fold_subset", "true"]
    # An architecture without a config is refused before any training, naming the file to write.
    proc = subprocess.run(common + ["--archs", "mobilenetv2 cnn14", "--seeds", "1"], cwd=recipe,
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 1 and "no conf/test/train_cnn14.yaml for architecture cnn14" in proc.stderr
    assert not (recipe / "exp" / "mobilenetv2").exists()

    args = common + ["--archs", "mobilenetv2 resnet38", "--seeds", "1 2"]
    proc = subprocess.run(args, cwd=recipe, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    exp = recipe / "exp"
    for arch in ("mobilenetv2", "resnet38"):
        assert (exp / arch / "grid" / "best.yaml").exists()     # one grid per architecture
        for s in ("1", "2"):
            run = exp / arch / f"seed{s}" / "fold1" / "init_16k"
            assert yaml.safe_load((run / "config.yaml").read_text())["model"]["name"] == arch
            assert json.loads((run / "env.json").read_text())["seed"] == int(s)
            assert (exp / arch / f"seed{s}" / "fold1" / "cssd_1000" / "score_1000" / "summary.json").exists()
            assert not (exp / arch / f"seed{s}" / "grid").exists()
    assert not (exp / "fold1").exists()
    text = (exp / "results" / "RESULTS.md").read_text()   # the run's; RESULTS.md is the reference
    assert "## Table 1: macro accuracy (%), resnet38 (width 0.03125)" in text
    assert "mean ± std over 1 fold x 2 seeds" in text
    assert "| 1 kHz (paper) |" in text and "| 44.4 |" in text   # mobilenetv2's fine-tuned 1 kHz, ESC-50
    assert "| coughing | 1 kHz |" in text                    # Table 2 class of the paper present here
    again = subprocess.run(args, cwd=recipe, capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 0
    started = [l for l in again.stderr.splitlines() if " Stage " in l and "skipped" not in l]
    skipped = [l for l in again.stderr.splitlines() if "up to date, skipped" in l]
    assert len(started) == len(skipped) >= 4 * 8, again.stderr[-3000:]


def test_links_to_plots_and_tables_are_relative_to_the_results_file(tmp_path):
    """A results file inside its plot dir (results/ablations/RESULTS.md) links the files beside it."""
    write_exp(tmp_path / "exp", archs=("cnn14",), seeds=("1", "2"), folds=("1", "2"))
    out = tmp_path / "results" / "ablations" / "RESULTS.md"
    make_results_cls.main(["--exp", str(tmp_path / "exp"), "--folds", "1 2", "--rates", "1000 2000", "--out", str(out),
                           "--plot_dir", str(out.parent), "--archs", "cnn14", "--seeds", "1 2"])
    text = out.read_text()
    assert "(Figure 2: [fold_ft_vs_cssd_cnn14.png](fold_ft_vs_cssd_cnn14.png))" in text
    assert "all classes in per_class_1000.tsv)" in text
    assert (out.parent / "fold_ft_vs_cssd_cnn14.png").exists() and (out.parent / "per_class_1000.tsv").exists()
