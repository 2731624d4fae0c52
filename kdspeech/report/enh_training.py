"""How the trainings of a recipe went, for its RESULTS.md: the model each chose as best.pth
(``trainer.best``) and the validation metrics recorded every ``trainer.eval_every`` epochs
(history.json ``eval`` entries), as tables and PNGs by epoch.
"""

import json
import os

from kdspeech.errors import KdError
from kdspeech.plot import plot_learning_curves
from kdspeech.report.score_dirs import label
from kdspeech.results import link_from, markdown_table


def selection_section(curves):
    """How each training chose its best.pth: the figure of trainer.best, the epoch, the value."""
    from kdspeech.train.selection import selection_summary

    rows = []
    for name, exp_dir in curves.items():
        s = selection_summary(exp_dir)
        chosen = (f"average of epochs {', '.join(map(str, s['averaged']))}" if s["averaged"]
                  else f"epoch {s['epoch']}")
        rows.append([name, f"{s['key']} ({s['mode']})", chosen, s["value"], s["epochs"]])
    table = markdown_table(["model", "selected by", "best.pth", "value at the best epoch", "epochs run"], rows)
    return ("Model selection", table)


def curves_sections(curves, plot_dir, out):
    """PNG per validation metric (epoch on x, one line per exp dir) and a table of the values."""
    series = {}
    for name, exp_dir in curves.items():
        path = os.path.join(exp_dir, "history.json")
        if not os.path.exists(path):
            raise KdError("no history.json: train this model first", path)
        with open(path, encoding="utf-8") as handle:
            history = json.load(handle)
        for entry in history:
            for metric, value in (entry.get("eval") or {}).items():
                series.setdefault(metric, {}).setdefault(name, []).append((entry["epoch"], value))
    sections = []
    for metric, by_name in series.items():
        name = label(metric)
        png = os.path.join(plot_dir, f"valid_{metric}_by_epoch.png")
        plot_learning_curves(by_name, f"validation {name}", png, title=f"validation {name} by epoch")
        epochs = sorted({e for points in by_name.values() for e, _ in points})
        rows = [[e, *(dict(points).get(e) for points in by_name.values())] for e in epochs]
        link = link_from(out, png)
        sections.append((f"Validation {name} during training",
                         markdown_table(["epoch", *by_name], rows) + f"\n![validation {name}]({link})\n"))
    return sections
