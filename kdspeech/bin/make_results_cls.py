"""RESULTS.md of a low-rate classification recipe (egs/TEMPLATE/cls), laid out like Liang et al.'s Table 1.

    python -m kdspeech.bin.make_results_cls --exp exp --folds "1 2 3 4 5" --rates "1000 2000" \\
        --metric macro_accuracy --out RESULTS.md --plot_dir results [--paper conf/paper.yaml] \\
        [--grid exp/grid/best.yaml] [--ablations] [--title T] [--note "text"] [--command "./run.sh ..."]

Reads ``<exp>/fold<k>/<model>/score_<rate>/summary.json`` and ``scores.tsv`` (kdspeech.bin.score_cls).
Writes: Table 1 (systems x rates, mean and standard deviation over folds in %, the paper's numbers
beside ours only when ``--paper`` is given; its title names the model: architecture, width, epochs of
each generation, from the exp dirs' config.yaml and history.json), paired comparisons per clip (BASD
and CSSD against fine-tuning, CSSD against BASD: the accuracy difference with a bootstrap 95 % CI
and a Wilcoxon signed-rank p, all folds' test clips pooled), the per-fold table, per-class accuracy before and after CSSD pooled over folds (Table 2),
``<plot_dir>/fold_ft_vs_cssd.png`` (Figure 2) and ``<plot_dir>/per_class_<rate>.tsv``.  ``--deploy``
takes the deploy.json of ``kdspeech.bin.deploy``; its ``deploy.md`` is included when it is next to it.
"""

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from kdspeech.cli import run_main
from kdspeech.atomic import atomic_write_text
from kdspeech.errors import KdError
from kdspeech.metrics import paired
from kdspeech.results import markdown_table, write_results

FULL = 16000
SYSTEMS = [("raw", "init_16k", "16 kHz model, evaluated at the low rate"),
           ("ft", "ft_{r}", "fine-tuned at the low rate (cross-entropy)"),
           ("basd", "basd_{r}", "BASD (teacher: fine-tuned low-rate model)"),
           ("cssd", "cssd_{r}", "CSSD (teacher: 16 kHz model on 16 kHz audio)")]
ABLATIONS = [("basd2", "basd2_{r}", "BASD, second generation"),
             ("cssdlow", "cssdlow_{r}", "lowest-rate fine-tuned model as teacher")]


def load_summary(exp, fold, model, rate):
    path = Path(exp) / f"fold{fold}" / model / f"score_{rate}" / "summary.json"
    if not path.exists():
        raise KdError("score summary missing (is the score stage finished?)", path=path)
    return json.loads(path.read_text())


def pooled_per_class(exp, folds, model, rate):
    """Per-class accuracy over the test clips of all folds together."""
    hits, total = defaultdict(int), defaultdict(int)
    for k in folds:
        path = Path(exp) / f"fold{k}" / model / f"score_{rate}" / "scores.tsv"
        for line in path.read_text().splitlines()[1:]:
            _, ref, _, correct = line.split("\t")
            total[ref] += 1
            hits[ref] += int(correct)
    return {c: hits[c] / total[c] for c in sorted(total)}


def clip_correctness(exp, folds, model, rate):
    """``{(fold, utt): 1.0 or 0.0}`` from the test clips' scores.tsv of every fold."""
    out = {}
    for k in folds:
        path = Path(exp) / f"fold{k}" / model / f"score_{rate}" / "scores.tsv"
        if not path.exists():
            raise KdError("per-clip scores missing (is the score stage finished?)", path=path)
        for number, line in enumerate(path.read_text().splitlines()[1:], start=2):
            fields = line.split("\t")
            if len(fields) != 4 or fields[3] not in ("0", "1"):
                raise KdError("expected 'utt<TAB>reference<TAB>prediction<TAB>correct(0/1)'", path, number)
            out[(k, fields[0])] = float(fields[3])
    return out


PAIRS = [("basd", "ft"), ("cssd", "ft"), ("cssd", "basd")]


def paired_section(exp, folds, rates, systems):
    """Per-clip paired comparisons (system - baseline accuracy, in points) at each rate."""
    rows = []
    for r in rates:
        for a, b in PAIRS:
            if a not in systems or b not in systems:
                continue
            ca = clip_correctness(exp, folds, systems[a].format(r=r), r)
            cb = clip_correctness(exp, folds, systems[b].format(r=r), r)
            clips = sorted(set(ca) & set(cb))
            result = paired.compare([ca[c] for c in clips], [cb[c] for c in clips])
            rows.append([f"{r // 1000} kHz", f"{a} - {b}", result.n, 100 * result.mean_baseline,
                         100 * result.mean_system, paired.format_diff(result, scale=100, digits=1),
                         paired.format_p(result.p_value)])
    text = ("Each test clip scores 1 when classified right, so a difference is one of plain accuracy "
            "(not the class-averaged figure of Table 1), in points, over the test clips of all folds. "
            f"95 % CI: bootstrap of the mean difference ({paired.RESAMPLES} resamples, seed "
            f"{paired.SEED}); p: two-sided Wilcoxon signed-rank test (clips both systems get right, "
            "or both wrong, drop out, so it tests the clips where they disagree).\n\n")
    return text + markdown_table(["rate", "comparison (A - B)", "clips", "B accuracy (%)",
                                  "A accuracy (%)", "A - B [95 % CI]", "p (Wilcoxon)"], rows)


def _pct(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None, None
    return 100 * float(np.mean(values)), 100 * float(np.std(values))


def _cell(mean, std):
    return "-" if mean is None else f"{mean:.1f} ± {std:.1f}"


def paper_cell(paper, arch, key):
    value = (paper or {}).get(arch, {}).get(key)
    if value is None or value == "TODO":
        return "TODO"
    return f"{float(value):.1f}"


def _epochs(exp_dir, conf):
    """Epochs a training ran (history.json), else its max_epochs."""
    history = Path(exp_dir) / "history.json"
    if history.exists():
        try:
            entries = json.loads(history.read_text())
            entries = entries.get("epochs", entries) if isinstance(entries, dict) else entries
            if isinstance(entries, list) and entries:
                return len(entries)
        except (ValueError, AttributeError):
            pass
    return (conf.get("trainer") or {}).get("max_epochs")


def describe_model(exp, fold, rates):
    """``cnn14 (width 0.0625); 16 kHz generation 12 epochs, fine-tuning 8, distillation 8``."""
    def conf_of(name):
        path = Path(exp) / f"fold{fold}" / name / "config.yaml"
        return yaml.safe_load(path.read_text()) if path.exists() else None

    init = conf_of("init_16k")
    if init is None:
        raise KdError("config of the 16 kHz model missing (is stage 3 finished?)",
                      path=Path(exp) / f"fold{fold}" / "init_16k" / "config.yaml")
    model = init["model"]
    width = (model.get("conf") or {}).get("width")
    text = model["name"] + (f" (width {width:g})" if isinstance(width, (int, float)) and width != 1 else "")
    parts = []
    r = min(rates)
    for label, name in (("16 kHz generation", "init_16k"), ("fine-tuning", f"ft_{r}"), ("distillation", f"cssd_{r}")):
        conf = conf_of(name)
        epochs = None if conf is None else _epochs(Path(exp) / f"fold{fold}" / name, conf)
        if epochs is not None:
            parts.append(f"{label} {epochs} epochs")
    return text + ("; " + ", ".join(parts) if parts else "")


def plot_folds(per_fold, folds, rates, metric, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kdspeech.plot import _save_png

    fig, axes = plt.subplots(1, len(rates), figsize=(4.5 * len(rates), 3.4), squeeze=False)
    x = np.arange(len(folds))
    for ax, r in zip(axes[0], rates):
        ft = [100 * per_fold[("ft", r)][k] for k in folds]
        cssd = [100 * per_fold[("cssd", r)][k] for k in folds]
        ax.bar(x - 0.2, ft, 0.4, label="fine-tuned")
        ax.bar(x + 0.2, cssd, 0.4, label="CSSD")
        ax.set_xticks(x, [f"fold {k}" for k in folds])
        ax.set_title(f"{int(r) // 1000} kHz")
        ax.set_ylabel(f"{metric.replace('_', ' ')} (%)")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(loc="lower left")
    fig.tight_layout()
    _save_png(fig, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True)
    p.add_argument("--folds", required=True, help="space-separated fold names")
    p.add_argument("--rates", required=True, help="space-separated low rates (Hz)")
    p.add_argument("--metric", default="macro_accuracy", choices=["macro_accuracy", "accuracy", "macro_f1"])
    p.add_argument("--out", required=True)
    p.add_argument("--plot_dir", required=True)
    p.add_argument("--paper", help="YAML: <arch>: {<system>_<rate>: value in %%}")
    p.add_argument("--grid", help="best.yaml of the grid search")
    p.add_argument("--ablations", action="store_true")
    p.add_argument("--title", default="low-rate audio classification")
    p.add_argument("--note", default="", help="text put under the title (e.g. the run's scale and time)")
    p.add_argument("--privacy", help="wer.json of kdspeech.bin.privacy_wer")
    p.add_argument("--deploy", help="deploy.json of kdspeech.bin.deploy")
    p.add_argument("--command", help="the command the user ran (run.sh ...), recorded in RESULTS.md")
    args = p.parse_args(argv)
    folds, rates = args.folds.split(), [int(r) for r in args.rates.split()]
    paper = yaml.safe_load(Path(args.paper).read_text()) if args.paper else None
    conf = yaml.safe_load((Path(args.exp) / f"fold{folds[0]}" / "init_16k" / "config.yaml").read_text())
    arch = conf["model"]["name"]
    systems = SYSTEMS + (ABLATIONS if args.ablations else [])

    per_fold = {}
    for name, pattern, _ in systems:
        for r in rates:
            model = pattern.format(r=r)
            if name == "cssdlow" and r == min(rates):
                continue
            per_fold[(name, r)] = {k: load_summary(args.exp, k, model, r)[args.metric] for k in folds}
    full = {k: load_summary(args.exp, k, "init_16k", FULL)[args.metric] for k in folds}

    # The paper's columns only where there is a paper (--paper): not for a user's own data.
    if paper is not None:
        header = ["system"] + [h for r in rates for h in (f"{r // 1000} kHz (ours)", f"{r // 1000} kHz (paper)")]
    else:
        header = ["system"] + [f"{r // 1000} kHz" for r in rates]
    rows = [["16 kHz model at 16 kHz (upper reference)"]
            + [x for _ in rates for x in ((_cell(*_pct(full.values())), "-") if paper is not None
                                          else (_cell(*_pct(full.values())),))]]
    for name, _, label in systems:
        row = [label]
        for r in rates:
            vals = per_fold.get((name, r))
            row.append(_cell(*_pct(vals.values())) if vals else "-")
            if paper is not None:
                row.append(paper_cell(paper, arch, f"{name}_{r}"))
        rows.append(row)
    table1 = markdown_table(header, rows)

    fold_header = ["system", "rate"] + [f"fold {k}" for k in folds] + ["mean"]
    fold_rows = [["16 kHz model", "16 kHz"] + [f"{100 * full[k]:.1f}" for k in folds] + [f"{_pct(full.values())[0]:.1f}"]]
    for (name, r), vals in per_fold.items():
        fold_rows.append([name, f"{r // 1000} kHz"] + [f"{100 * vals[k]:.1f}" for k in folds]
                         + [f"{_pct(vals.values())[0]:.1f}"])
    table_folds = markdown_table(fold_header, fold_rows)

    plot_dir = Path(args.plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    class_sections = []
    for r in rates:
        before = pooled_per_class(args.exp, folds, f"ft_{r}", r)
        after = pooled_per_class(args.exp, folds, f"cssd_{r}", r)
        diff = sorted(before, key=lambda c: after[c] - before[c], reverse=True)
        lines = ["class\tfine_tuned\tcssd\tchange"] + [f"{c}\t{before[c]:.4f}\t{after[c]:.4f}\t{after[c] - before[c]:+.4f}"
                                                       for c in diff]
        atomic_write_text(plot_dir / f"per_class_{r}.tsv", "\n".join(lines) + "\n")
        show = diff[:5] + [c for c in diff[-5:] if c not in diff[:5]]
        rows = [[c, f"{100 * before[c]:.1f}", f"{100 * after[c]:.1f}", f"{100 * (after[c] - before[c]):+.1f}"] for c in show]
        class_sections.append((f"Per-class accuracy before and after CSSD at {r // 1000} kHz (Table 2; pooled over folds, "
                               f"5 largest gains and losses; all classes in {plot_dir.name}/per_class_{r}.tsv)",
                               markdown_table(["class", "fine-tuned (%)", "CSSD (%)", "change"], rows)))
    plot_folds(per_fold, folds, rates, args.metric, plot_dir / "fold_ft_vs_cssd.png")

    checks = []
    for r in rates:
        ft, basd, cssd = (_pct(per_fold[(n, r)].values())[0] for n in ("ft", "basd", "cssd"))
        checks.append(f"- {r // 1000} kHz: BASD {'>' if basd > ft else '<='} fine-tuned ({basd:.1f} vs {ft:.1f}), "
                      f"CSSD {'>' if cssd > ft else '<='} fine-tuned ({cssd:.1f} vs {ft:.1f}), "
                      f"CSSD {'>=' if cssd >= basd else '<'} BASD.")
    grid = ""
    if args.grid and Path(args.grid).exists():
        g = yaml.safe_load(Path(args.grid).read_text())
        grid = (f"Distillation loss alpha*CE + (1-alpha)*T^2*KL with alpha = {g['alpha']}, T = {g['T']}, chosen by "
                f"validation {g['metric']} ({100 * g['value']:.1f} %) over "
                + ", ".join(f"({x['alpha']}, {x['T']}): {100 * x[g['metric']]:.1f}" for x in g["grid"]) + ".")
    model_text = describe_model(args.exp, folds[0], rates)
    sections = [("Table 1: " + args.metric.replace("_", " ") + f" (%), {model_text}; mean ± std over {len(folds)} folds",
                 (args.note + "\n\n" if args.note else "") + table1 + "\n\n" + grid),
                ("The paper's claim, checked on this run", "\n".join(checks)),
                ("Paired comparisons per clip (all folds pooled)",
                 paired_section(args.exp, folds, rates, {name: pattern for name, pattern, _ in SYSTEMS})),
                ("Per fold (Figure 2: " + f"[{plot_dir.name}/fold_ft_vs_cssd.png]({plot_dir.name}/fold_ft_vs_cssd.png))",
                 table_folds)] + class_sections
    if args.privacy:
        wer = json.loads(Path(args.privacy).read_text())
        all_rates = sorted({int(r) for src in wer.values() for r in src}, reverse=True)
        rows = [[src] + [f"{100 * wer[src][str(r)]['wer']:.1f}" if str(r) in wer[src] else "-" for r in all_rates]
                + [next(iter(wer[src].values()))["num_utts"]] for src in wer]
        sections.append(("Privacy: pocketsphinx (en-us) WER of speech heard through each microphone rate "
                         "(automatic counterpart of the paper's Table 3), %",
                         markdown_table(["speech"] + [f"{r / 1000:g} kHz" for r in all_rates] + ["utterances"], rows)))
    deploy_md = Path(args.deploy).with_name("deploy.md") if args.deploy else None
    if deploy_md is not None and deploy_md.exists():  # kdspeech.bin.deploy's own table (ONNX included)
        dep = json.loads(Path(args.deploy).read_text())
        sections.append((f"Deployment: one {dep['duration_s']:g} s clip, batch 1", deploy_md.read_text()))
    elif args.deploy:
        dep = json.loads(Path(args.deploy).read_text())
        rows = [[m["model"], f"{m['parameters'] / 1e6:.3f}", f"{m['macs'] / 1e9:.3f}", f"{m['latency_ms']:.1f}"]
                for m in dep["models"]]
        sections.append((f"Deployment: one {dep['duration_s']:g} s clip, batch 1, {dep['num_threads']} CPU thread "
                         "(MACs of conv/linear layers; the log-mel front end not counted)",
                         markdown_table(["model", "parameters (M)", "GMACs", "latency (ms)"], rows)))
    write_results(args.out, args.title, sections, command=args.command)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_main(main)
