"""Sections of a classification RESULTS.md for test sets of your own (cls.sh --test_sets): every fold's
models (and every architecture and seed's) scored on the whole set, the metric's mean ± std over them,
one table per set beside the recipe's own Table 1.
"""

import json
from pathlib import Path

from kdspeech.errors import KdError
from kdspeech.report.cls_runs import FULL, pct_cell, pct_stats, run_dirs
from kdspeech.results import markdown_table


def set_summary(run, fold, model, rate, name):
    path = Path(run) / f"fold{fold}" / model / f"score_{rate}_{name}" / "summary.json"
    if not path.exists():
        raise KdError(f"score summary of test set {name} missing (is the score stage finished?)", path=path)
    return json.loads(path.read_text())


def test_set_sections(runs, folds, rates, systems, metric, names):
    """``[(title, markdown)]``, one per test set of ``names``: rows the systems (``(key, model
    pattern, description)`` of cls_runs), columns the rates; each cell over every (run, fold) model."""
    dirs = [d for arch_runs in runs.values() for _, d in arch_runs]
    sections = []
    for name in names:
        rows, count = [], None
        for key, pattern, description in systems:
            cells = []
            for rate in rates:
                values = []
                for run in run_dirs(dirs):
                    for fold in folds:
                        summary = set_summary(run, fold, pattern.format(r=rate), rate, name)
                        values.append(summary.get(metric))
                        count = summary.get("num_utts", count)
                cells.append(pct_cell(*pct_stats(values)))
            rows.append([f"{key}: {description}", *cells])
        full = [set_summary(run, fold, "init_16k", FULL, name).get(metric) for run in run_dirs(dirs) for fold in folds]
        rows.insert(0, ["16 kHz model at 16 kHz", pct_cell(*pct_stats(full)), *[""] * (len(rates) - 1)])
        header = ["system", *(f"{r} Hz" for r in rates)]
        text = (f"Every fold's model (of each run: {len(dirs)} x {len(folds)} models) scored on the whole set "
                f"`{name}`" + (f" ({count} clips)" if count else "") + f"; {metric.replace('_', ' ')} in %, mean "
                "± std over those models (the set is not one of the folds: none of its clips was trained on "
                "unless you put it in the CSV too).\n\n" + markdown_table(header, rows))
        sections.append((f"Test set {name}: {metric.replace('_', ' ')} (%)", text))
    return sections
