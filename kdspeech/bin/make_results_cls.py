"""RESULTS.md of a low-rate classification recipe (egs/TEMPLATE/cls), laid out like Liang et al.'s tables.

    python -m kdspeech.bin.make_results_cls --exp exp --folds "1 2 3 4 5" --rates "1000 2000" \\
        --metric macro_accuracy --out RESULTS.md --plot_dir results [--paper conf/paper.yaml] \\
        [--archs "cnn14 mobilenetv2" --seeds "1 2 3"] [--grid exp/grid/best.yaml] [--ablations] \\
        [--privacy exp/privacy/wer.json] [--deploy exp/deploy/deploy.json] [--title T] [--note N] [--command C]

Exp layout: one run (``<exp>/fold<k>/<model>/score_<rate>/``, cls.sh's default) or, with ``--archs`` /
``--seeds``, one run per architecture and seed (``<exp>/<arch>/seed<s>/fold<k>/...``, the grid of an
architecture in ``<exp>/<arch>/grid/best.yaml``).  Each score dir holds ``summary.json`` and
``scores.tsv`` (kdspeech.bin.score_cls).

Writes, per architecture: Table 1 (mean ± std over folds x seeds, in %, the paper's column for that
architecture with ``--paper``), the paired difference of BASD and CSSD against fine-tuning (and CSSD
against BASD) over (fold, seed) pairs (``kdspeech.metrics.paired``: bootstrap 95 % CI, Wilcoxon p) with
a sentence per rate on whether the paper's ordering CSSD >= BASD > fine-tuned holds, per-clip paired
comparisons, the per-fold table and ``<plot_dir>/fold_ft_vs_cssd[_<arch>].png`` (Figure 2).  Then
Table 2 (per class before/after CSSD, pooled over folds and seeds, beside the paper's classes that
exist here; ``<plot_dir>/per_class_<rate>.tsv``), section 5.3 (ablations), Table 3 (WER by rate of
each ASR backend of ``kdspeech.bin.privacy_wer`` beside the paper's human WER; battery life: the
paper's only) and the deployment table.  The paper YAML layout is described in
``egs/esc50/cls/conf/paper.yaml``.
"""

import argparse
import json
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from kdspeech.atomic import atomic_write_text
from kdspeech.cli import run_main
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
PAIRS = [("basd", "ft"), ("cssd", "ft"), ("cssd", "basd")]
LABEL = {"ft": "fine-tuned", "basd": "BASD", "cssd": "CSSD"}


def runs_of(exp, archs, seeds):
    """``{arch: [(seed, run dir)]}``: ``<exp>/<arch>/seed<s>`` for each, or ``{None: [(None, exp)]}``."""
    if not archs and not seeds:
        return {None: [(None, Path(exp))]}
    return {a: [(s, Path(exp) / a / f"seed{s}") for s in seeds] for a in archs}


def load_summary(exp, fold, model, rate):
    path = Path(exp) / f"fold{fold}" / model / f"score_{rate}" / "summary.json"
    if not path.exists():
        raise KdError("score summary missing (is the score stage finished?)", path=path)
    return json.loads(path.read_text())


def _score_lines(path):
    if not path.exists():
        raise KdError("per-clip scores missing (is the score stage finished?)", path=path)
    for number, line in enumerate(path.read_text().splitlines()[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 4 or fields[3] not in ("0", "1"):
            raise KdError("expected 'utt<TAB>reference<TAB>prediction<TAB>correct(0/1)'", path, number)
        yield fields


def _dirs(exp):
    return list(exp) if isinstance(exp, (list, tuple)) else [exp]


def pooled_per_class(exp, folds, model, rate):
    """Per-class accuracy over the test clips of all folds (and of every run dir in ``exp``) together."""
    hits, total = defaultdict(int), defaultdict(int)
    for d in _dirs(exp):
        for k in folds:
            for _, ref, _, correct in _score_lines(Path(d) / f"fold{k}" / model / f"score_{rate}" / "scores.tsv"):
                total[ref] += 1
                hits[ref] += int(correct)
    return {c: hits[c] / total[c] for c in sorted(total)}


def clip_correctness(exp, folds, model, rate):
    """``{(run, fold, utt): 1.0 or 0.0}`` from the test clips' scores.tsv of every fold (and run dir)."""
    return {(i, k, f[0]): float(f[3]) for i, d in enumerate(_dirs(exp)) for k in folds
            for f in _score_lines(Path(d) / f"fold{k}" / model / f"score_{rate}" / "scores.tsv")}


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
            "(not the class-averaged figure of Table 1), in points, over the test clips of all folds"
            + (" and seeds" if len(_dirs(exp)) > 1 else "") + ". "
            f"95 % CI: bootstrap of the mean difference ({paired.RESAMPLES} resamples, seed "
            f"{paired.SEED}); p: two-sided Wilcoxon signed-rank test (clips both systems get right, "
            "or both wrong, drop out, so it tests the clips where they disagree).\n\n")
    return text + markdown_table(["rate", "comparison (A - B)", "clips", "B accuracy (%)",
                                  "A accuracy (%)", "A - B [95 % CI]", "p (Wilcoxon)"], rows)


def run_paired(values, a, b):
    """``paired.compare`` of systems ``a`` and ``b`` over the (fold, seed) keys both have."""
    keys = sorted(set(values[a]) & set(values[b]), key=str)
    return paired.compare([values[a][k] for k in keys], [values[b][k] for k in keys])


def _pct(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None, None
    return 100 * float(np.mean(values)), 100 * float(np.std(values))


def _cell(mean, std):
    return "-" if mean is None else f"{mean:.1f} ± {std:.1f}"


def paper_value(paper, section, arch, key):
    """A paper number in % (None: not reported; "TODO": not filled in)."""
    table = (paper or {}).get(section, paper if section == "table1" else {}) or {}
    value = (table.get(arch) or {}).get(key)
    if value is None or value == "TODO":
        return value
    return float(value) * (100.0 if (paper or {}).get("scale") == "fraction" else 1.0)


def paper_cell(paper, arch, key, section="table1"):
    value = paper_value(paper, section, arch, key)
    return "n/r" if value is None else value if value == "TODO" else f"{value:.1f}"


def _verdict(result, strict):
    """How a relation A > B (strict) or A >= B stands on the paired difference A - B."""
    if result.n < 2 or math.isnan(result.ci_low):
        return "on the mean only (too few pairs for a confidence interval)", result.mean_diff > 0 or (
            not strict and result.mean_diff == 0)
    if result.ci_high < 0:
        return "reversed at 95 % confidence (CI below 0)", False
    if result.ci_low > 0:
        return "holds at 95 % confidence (CI above 0)", True
    holds = result.mean_diff > 0 or (not strict and result.mean_diff >= 0)
    return ("holds on the mean, not significant (CI includes 0)" if holds
            else "fails on the mean, not significant (CI includes 0)"), holds


def ordering_sentence(label, rate, cmp, paper_means=None):
    """One sentence on CSSD >= BASD > fine-tuned from the paired results ``cmp[(a, b)]``."""
    parts, holds, sure, reversed_ = [], True, True, False
    for (a, b), strict in ((("basd", "ft"), True), (("cssd", "basd"), False), (("cssd", "ft"), True)):
        res = cmp[(a, b)]
        text, ok = _verdict(res, strict)
        holds &= ok
        reversed_ |= text.startswith("reversed")
        if strict:  # a strict step is established when its CI is above 0
            sure &= ok and "95 %" in text
        parts.append(f"{LABEL[a]} {'>' if strict else '>='} {LABEL[b]}: {text}, "
                     f"{paired.format_diff(res, scale=100, digits=1)} points, p {paired.format_p(res.p_value)}")
    n = cmp[("basd", "ft")].n
    head = (f"- **{label}, {rate // 1000} kHz** ({n} (fold, seed) pairs): the paper's ordering CSSD >= BASD > "
            f"fine-tuned {'holds' if holds else 'does not hold'}"
            + ((" (a step reversed at 95 % confidence)" if reversed_ else " on the means (no step reversed at 95 %"
                " confidence)") if not holds else " (both > steps at 95 % confidence)" if sure
               else " on the means (not every > step at 95 % confidence)") + ". "
            + "; ".join(parts) + ".")
    if paper_means and all(paper_means.get(s) is not None for s in ("ft", "basd", "cssd")):
        p = paper_means
        ok = p["cssd"] >= p["basd"] > p["ft"]
        head += (f" Paper: {'holds' if ok else 'does not hold'} (fine-tuned {p['ft']:.1f}, BASD {p['basd']:.1f}, "
                 f"CSSD {p['cssd']:.1f}).")
    return head


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


def model_conf(exp, fold):
    path = Path(exp) / f"fold{fold}" / "init_16k" / "config.yaml"
    if not path.exists():
        raise KdError("config of the 16 kHz model missing (is stage 3 finished?)", path=path)
    return yaml.safe_load(path.read_text())


def describe_model(exp, fold, rates):
    """``cnn14 (width 0.0625); 16 kHz generation 12 epochs, fine-tuning 8, distillation 8``."""
    model = model_conf(exp, fold)["model"]
    width = (model.get("conf") or {}).get("width")
    text = model["name"] + (f" (width {width:g})" if isinstance(width, (int, float)) and width != 1 else "")
    parts = []
    r = min(rates)
    for label, name in (("16 kHz generation", "init_16k"), ("fine-tuning", f"ft_{r}"), ("distillation", f"cssd_{r}")):
        path = Path(exp) / f"fold{fold}" / name / "config.yaml"
        epochs = _epochs(path.parent, yaml.safe_load(path.read_text())) if path.exists() else None
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
        ax.bar(x - 0.2, [100 * per_fold[("ft", r)][k] for k in folds], 0.4, label="fine-tuned")
        ax.bar(x + 0.2, [100 * per_fold[("cssd", r)][k] for k in folds], 0.4, label="CSSD")
        ax.set_xticks(x, [f"fold {k}" for k in folds])
        ax.set_title(f"{int(r) // 1000} kHz")
        ax.set_ylabel(f"{metric.replace('_', ' ')} (%)")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(loc="lower left")
    fig.tight_layout()
    _save_png(fig, path)


def collect(runs, folds, rates, systems, metric):
    """``{(system, rate): {(seed, fold): value}}`` of one architecture's runs; ``("full", 16000)``: 16 kHz."""
    values = {("full", FULL): {(s, k): load_summary(d, k, "init_16k", FULL)[metric] for s, d in runs for k in folds}}
    for name, pattern, _ in systems:
        for r in rates:
            if name == "cssdlow" and r == min(rates):
                continue
            values[(name, r)] = {(s, k): load_summary(d, k, pattern.format(r=r), r)[metric]
                                 for s, d in runs for k in folds}
    return values


def arch_sections(arch, runs, args, folds, rates, systems, paper, plot_name):
    """Table 1, paired (fold, seed) statistics and ordering sentences, per-clip pairs, per-fold table."""
    values = collect(runs, folds, rates, systems, args.metric)
    first = runs[0][1]
    n_seeds = len(runs)
    header = ["system"] + [h for r in rates for h in ((f"{r // 1000} kHz (ours)", f"{r // 1000} kHz (paper)")
                                                       if paper is not None else (f"{r // 1000} kHz",))]
    rows = []
    for name, label in [("full", "16 kHz model at 16 kHz (upper reference)")] + [(n, l) for n, _, l in systems]:
        row = [label]
        for r in rates:
            vals = values.get((name, FULL if name == "full" else r))
            row.append(_cell(*_pct(vals.values())) if vals else "-")
            if paper is not None:
                row.append(paper_cell(paper, arch, "init_16k_16000" if name == "full" else f"{name}_{r}"))
        rows.append(row)
    spread = f"{len(folds)} fold{'s' * (len(folds) != 1)}" + (f" x {n_seeds} seeds" if n_seeds > 1 else "")
    title = f"Table 1: {args.metric.replace('_', ' ')} (%), {describe_model(first, folds[0], rates)}; mean ± std over {spread}"
    single = runs[0][0] is None
    grid_path = (Path(args.grid) if args.grid else None) if single else Path(args.exp) / arch / "grid" / "best.yaml"
    body = (args.note + "\n\n" if args.note else "") + markdown_table(header, rows)
    if paper is not None:
        body += "\n(paper: the paper's number for this architecture at full width; n/r: not reported)\n"
    if grid_path is not None and grid_path.exists():
        g = yaml.safe_load(grid_path.read_text())
        body += (f"\nDistillation loss alpha*CE + (1-alpha)*T^2*KL with alpha = {g['alpha']}, T = {g['T']}, chosen by "
                 f"validation {g['metric']} ({100 * g['value']:.1f} %) over "
                 + ", ".join(f"({x['alpha']}, {x['T']}): {100 * x[g['metric']]:.1f}" for x in g["grid"]) + ".")
    stat_rows, sentences = [], []
    for r in rates:
        cmp = {(a, b): run_paired(values, (a, r), (b, r)) for a, b in PAIRS}
        for (a, b), res in cmp.items():
            stat_rows.append([f"{r // 1000} kHz", f"{a} - {b}", res.n, 100 * res.mean_baseline, 100 * res.mean_system,
                              paired.format_diff(res, scale=100, digits=1), paired.format_p(res.p_value)])
        means = {s: paper_value(paper, "table1", arch, f"{s}_{r}") for s in ("ft", "basd", "cssd")} if paper else None
        sentences.append(ordering_sentence(arch, r, cmp, {k: v for k, v in means.items() if v != "TODO"}
                                           if means else None))
    stats = (f"Each pair is one (fold, seed) run scored by {args.metric.replace('_', ' ')}; A - B in points with a "
             f"bootstrap 95 % CI ({paired.RESAMPLES} resamples, seed {paired.SEED}) and a two-sided Wilcoxon "
             "signed-rank p (kdspeech.metrics.paired).\n\n"
             + markdown_table(["rate", "comparison (A - B)", "pairs", "B (%)", "A (%)", "A - B [95 % CI]",
                               "p (Wilcoxon)"], stat_rows) + "\n" + "\n".join(sentences))
    fold_means = {key: {k: float(np.mean([v[(s, k)] for s, _ in runs])) for k in folds} for key, v in values.items()}
    fold_rows = [["16 kHz model" if n == "full" else n, f"{r // 1000} kHz"] + [f"{100 * vals[k]:.1f}" for k in folds]
                 + [f"{_pct(vals.values())[0]:.1f}"] for (n, r), vals in fold_means.items()]
    plot_dir = Path(args.plot_dir)
    plot_folds(fold_means, folds, rates, args.metric, plot_dir / plot_name)
    tag = "" if single else f", {arch}"
    return [(title, body),
            (f"Paired differences over (fold, seed) runs and the paper's ordering{tag}", stats),
            (f"Paired comparisons per clip (all folds{' and seeds' if n_seeds > 1 else ''} pooled){tag}",
             paired_section([d for _, d in runs], folds, rates, {n: p for n, p, _ in SYSTEMS})),
            (f"Per fold{' (mean over seeds)' if n_seeds > 1 else ''}{tag} (Figure 2: "
             f"[{plot_dir.name}/{plot_name}]({plot_dir.name}/{plot_name}))",
             markdown_table(["system", "rate"] + [f"fold {k}" for k in folds] + ["mean"], fold_rows))], values


def _norm(name):
    return re.sub(r"[\s_-]+", " ", str(name).strip().lower())


def class_sections(arch, runs, folds, rates, paper, plot_dir):
    """Table 2: per-class accuracy before/after CSSD (pooled), beside the paper's classes found here."""
    dirs = [d for _, d in runs]
    out, ours = [], {}
    for r in rates:
        before, after = pooled_per_class(dirs, folds, f"ft_{r}", r), pooled_per_class(dirs, folds, f"cssd_{r}", r)
        ours[r] = (before, after)
        diff = sorted(before, key=lambda c: after[c] - before[c], reverse=True)
        lines = ["class\tfine_tuned\tcssd\tchange"] + [f"{c}\t{before[c]:.4f}\t{after[c]:.4f}\t{after[c] - before[c]:+.4f}"
                                                       for c in diff]
        atomic_write_text(Path(plot_dir) / f"per_class_{r}.tsv", "\n".join(lines) + "\n")
        show = diff[:5] + [c for c in diff[-5:] if c not in diff[:5]]
        rows = [[c, f"{100 * before[c]:.1f}", f"{100 * after[c]:.1f}", f"{100 * (after[c] - before[c]):+.1f}"] for c in show]
        out.append((f"Per-class accuracy before and after CSSD at {r // 1000} kHz (Table 2; {arch or 'the model'}, "
                    f"pooled over folds{' and seeds' if len(dirs) > 1 else ''}, 5 largest gains and losses; all classes "
                    f"in {Path(plot_dir).name}/per_class_{r}.tsv)",
                    markdown_table(["class", "fine-tuned (%)", "CSSD (%)", "change"], rows)))
    t2 = (paper or {}).get("table2") or {}
    if t2.get("classes"):
        names = {_norm(c): c for c in ours[rates[0]][0]}
        rows = []
        for pc, cells in t2["classes"].items():
            c = names.get(_norm(pc))
            for r in rates:
                pf, pcs = cells.get(f"ft_{r}"), cells.get(f"cssd_{r}")
                if c is None or pf is None:
                    continue
                b, a = ours[r][0][c], ours[r][1][c]
                rows.append([c, f"{r // 1000} kHz", f"{100 * b:.1f}", f"{100 * a:.1f}", f"{100 * (a - b):+.1f}",
                             f"{100 * pf:.0f}", f"{100 * pcs:.0f}", f"{100 * (pcs - pf):+.0f}"])
        text = (f"Ours: {arch or 'the model'} pooled over the test clips of every fold; paper: {t2.get('arch')} "
                "averaged over its 5 folds (two decimals as printed).\n\n")
        text += (markdown_table(["class", "rate", "fine-tuned (ours)", "CSSD (ours)", "change (ours)",
                                 "fine-tuned (paper)", "CSSD (paper)", "change (paper)"], rows) if rows else
                 "None of the paper's Table 2 classes (" + ", ".join(t2["classes"]) + ") is a class of this corpus.")
        out.append(("Table 2 classes of the paper, ours beside theirs", text))
    return out


def section53(per_arch, rates, paper):
    """Section 5.3 of the paper (extra BASD generation, lower-rate teacher) beside our ablations."""
    lo = min(rates)
    hi = [r for r in rates if r > lo]
    keys = [("basd", lo, "BASD, first generation"), ("basd2", lo, "BASD, second generation")]
    for r in hi:
        keys += [("ft", r, "fine-tuned"), ("cssd", r, "CSSD (16 kHz teacher)"),
                 ("cssdlow", r, f"{lo // 1000} kHz fine-tuned model as teacher")]
    sec = (paper or {}).get("section53") or {}
    parch = next(iter(sec), None)
    header = ["system", "rate"] + [f"ours ({a})" for a in per_arch] + ([f"paper ({parch})"] if parch else [])
    rows = []
    for name, r, label in keys:
        row = [label, f"{r // 1000} kHz"] + [_cell(*_pct(v[(name, r)].values())) if (name, r) in v else "-"
                                             for v in per_arch.values()]
        if parch:
            row.append(paper_cell(paper, parch, f"{name}_{r}", "section53" if name in ("basd2", "cssdlow") else "table1"))
        rows.append(row)
    return ("Section 5.3: extra BASD generation and a lower-rate teacher (ours: mean ± std over folds x seeds)",
            markdown_table(header, rows))


def privacy_section(path, paper):
    """Table 3: WER (%) by microphone rate of every ASR backend, the paper's human WER and battery hours."""
    wer = json.loads(Path(path).read_text())
    backends = wer["backends"] if "backends" in wer else {"pocketsphinx": wer}  # single-backend wer.json
    t3 = (paper or {}).get("table3") or {}
    human = {int(k): v for k, v in (t3.get("wer_human_percent") or {}).items()}
    rates = sorted({int(r) for b in backends.values() for src in b.values() for r in src} | set(human), reverse=True)
    rows = []
    if human:
        rows.append(["human listeners (paper: LibriSpeech, 3 clips per rate)"]
                    + [f"{human[r]:.1f}" if r in human else "-" for r in rates] + ["9"])
    for backend, sources in backends.items():
        for src, by_rate in sources.items():
            rows.append([f"{backend}: {src}"] + [f"{100 * by_rate[str(r)]['wer']:.1f}" if str(r) in by_rate else "-"
                                                 for r in rates] + [next(iter(by_rate.values()))["num_utts"]])
    text = markdown_table(["speech (recogniser: corpus)"] + [f"{r / 1000:g} kHz" for r in rates] + ["utterances"], rows)
    battery = {int(k): v for k, v in (t3.get("battery_hours") or {}).items()}
    if battery:
        text += "\n" + markdown_table(["battery life, 300 mAh (hours)"] + [f"{r / 1000:g} kHz" for r in rates],
                                      [["paper (Apollo3 + SPH064 microphone)"] + [f"{battery[r]:.1f}" if r in battery
                                                                                   else "-" for r in rates],
                                       ["ours"] + ["not measured"] * len(rates)])
    return ("Table 3: privacy (WER of speech heard through each microphone rate, %) and power", text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True)
    p.add_argument("--folds", required=True, help="space-separated fold names")
    p.add_argument("--rates", required=True, help="space-separated low rates (Hz)")
    p.add_argument("--archs", default="", help="architectures of <exp>/<arch>/seed<s> runs")
    p.add_argument("--seeds", default="", help="seeds of <exp>/<arch>/seed<s> runs")
    p.add_argument("--metric", default="macro_accuracy", choices=["macro_accuracy", "accuracy", "macro_f1"])
    p.add_argument("--out", required=True)
    p.add_argument("--plot_dir", required=True)
    p.add_argument("--paper", help="YAML of the paper's numbers (layout: egs/esc50/cls/conf/paper.yaml)")
    p.add_argument("--grid", help="best.yaml of the grid search (one run; per architecture: <exp>/<arch>/grid)")
    p.add_argument("--ablations", action="store_true")
    p.add_argument("--title", default="low-rate audio classification")
    p.add_argument("--note", default="", help="text put under the title (e.g. the run's scale and time)")
    p.add_argument("--privacy", help="wer.json of kdspeech.bin.privacy_wer")
    p.add_argument("--deploy", help="deploy.json of kdspeech.bin.deploy")
    p.add_argument("--command", help="the command the user ran (run.sh ...), recorded in RESULTS.md")
    args = p.parse_args(argv)
    folds, rates = args.folds.split(), [int(r) for r in args.rates.split()]
    archs, seeds = args.archs.split(), args.seeds.split()
    if bool(archs) != bool(seeds):
        raise KdError("--archs and --seeds go together (the <exp>/<arch>/seed<s> layout)")
    paper = yaml.safe_load(Path(args.paper).read_text()) if args.paper else None
    runs = runs_of(args.exp, archs, seeds)
    if None in runs:  # one run: its architecture from the 16 kHz model's config
        runs = {model_conf(args.exp, folds[0])["model"]["name"]: runs[None]}
    systems = SYSTEMS + (ABLATIONS if args.ablations else [])
    plot_dir = Path(args.plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    sections, per_arch = [], {}
    for arch, arch_runs in runs.items():
        name = "fold_ft_vs_cssd.png" if not archs else f"fold_ft_vs_cssd_{arch}.png"
        secs, per_arch[arch] = arch_sections(arch, arch_runs, args, folds, rates, systems, paper, name)
        sections += secs
    t2_arch = ((paper or {}).get("table2") or {}).get("arch")
    class_arch = t2_arch if t2_arch in runs else next(iter(runs))
    sections += class_sections(class_arch, runs[class_arch], folds, rates, paper, plot_dir)
    if args.ablations:
        sections.append(section53(per_arch, rates, paper))
    if args.privacy:
        sections.append(privacy_section(args.privacy, paper))
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
    if paper and paper.get("artifacts"):
        sections.append(("The paper's numbers: extraction artifacts and inconsistencies",
                         "\n".join(f"- {a}" for a in paper["artifacts"])))
    write_results(args.out, args.title, sections, command=args.command)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_main(main)
