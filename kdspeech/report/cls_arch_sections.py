"""The sections of one architecture in a classification RESULTS.md: Table 1 (mean ± std over folds x
seeds, beside the paper's column), the paired differences over (fold, seed) runs with the sentences on
the paper's ordering, per-clip paired comparisons, the per-fold table and Figure 2
(``fold_ft_vs_cssd[_<arch>].png``).
"""

from pathlib import Path

import numpy as np
import yaml

from kdspeech.metrics import paired
from kdspeech.report.cls_paired import PAIRS, ordering_sentence, paired_section, run_paired
from kdspeech.report.cls_paper import paper_cell, paper_value
from kdspeech.report.cls_runs import FULL, SYSTEMS, collect, describe_model, pct_cell, pct_stats
from kdspeech.results import link_from, markdown_table


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


def arch_sections(arch, runs, args, folds, rates, systems, paper, plot_name, note=""):
    """Table 1 (``note`` above it), paired (fold, seed) statistics and ordering sentences, per-clip
    pairs, per-fold table."""
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
            row.append(pct_cell(*pct_stats(vals.values())) if vals else "-")
            if paper is not None:
                row.append(paper_cell(paper, arch, "init_16k_16000" if name == "full" else f"{name}_{r}"))
        rows.append(row)
    spread = f"{len(folds)} fold{'s' * (len(folds) != 1)}" + (f" x {n_seeds} seeds" if n_seeds > 1 else "")
    title = f"Table 1: {args.metric.replace('_', ' ')} (%), {describe_model(first, folds[0], rates)}; mean ± std over {spread}"
    single = runs[0][0] is None
    grid_path = (Path(args.grid) if args.grid else None) if single else Path(args.exp) / arch / "grid" / "best.yaml"
    body = (note + "\n\n" if note else "") + markdown_table(header, rows)
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
                 + [f"{pct_stats(vals.values())[0]:.1f}"] for (n, r), vals in fold_means.items()]
    plot_dir = Path(args.plot_dir)
    plot_folds(fold_means, folds, rates, args.metric, plot_dir / plot_name)
    tag = "" if single else f", {arch}"
    figure = link_from(args.out, plot_dir / plot_name)
    return [(title, body),
            (f"Paired differences over (fold, seed) runs and the paper's ordering{tag}", stats),
            (f"Paired comparisons per clip (all folds{', seeds resampled' if n_seeds > 1 else ''}){tag}",
             paired_section([d for _, d in runs], folds, rates, {n: p for n, p, _ in SYSTEMS})),
            (f"Per fold{' (mean over seeds)' if n_seeds > 1 else ''}{tag} (Figure 2: "
             f"[{figure}]({figure}))",
             markdown_table(["system", "rate"] + [f"fold {k}" for k in folds] + ["mean"], fold_rows))], values
