"""The exp tree of a low-rate classification recipe (egs/TEMPLATE/cls) as its RESULTS.md reads it.

Which run dirs there are (one run, or one per architecture and seed), the systems trained at each low
rate, their score summaries and per-clip ``scores.tsv`` (kdspeech.bin.score_cls), the model a run
trained, and a metric's mean ± std over runs in %.
"""

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from kdspeech.errors import KdError

FULL = 16000
SYSTEMS = [("raw", "init_16k", "16 kHz model, evaluated at the low rate"),
           ("ft", "ft_{r}", "fine-tuned at the low rate (cross-entropy)"),
           ("basd", "basd_{r}", "BASD (teacher: fine-tuned low-rate model)"),
           ("cssd", "cssd_{r}", "CSSD (teacher: 16 kHz model on 16 kHz audio)")]
ABLATIONS = [("basd2", "basd2_{r}", "BASD, second generation"),
             ("cssdlow", "cssdlow_{r}", "lowest-rate fine-tuned model as teacher")]


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


def run_dirs(exp):
    return list(exp) if isinstance(exp, (list, tuple)) else [exp]


def pooled_per_class(exp, folds, model, rate):
    """Per-class accuracy over the test clips of all folds (and of every run dir in ``exp``) together."""
    hits, total = defaultdict(int), defaultdict(int)
    for d in run_dirs(exp):
        for k in folds:
            for _, ref, _, correct in _score_lines(Path(d) / f"fold{k}" / model / f"score_{rate}" / "scores.tsv"):
                total[ref] += 1
                hits[ref] += int(correct)
    return {c: hits[c] / total[c] for c in sorted(total)}


def clip_correctness(exp, folds, model, rate):
    """``{(run, fold, utt): 1.0 or 0.0}`` from the test clips' scores.tsv of every fold (and run dir)."""
    return {(i, k, f[0]): float(f[3]) for i, d in enumerate(run_dirs(exp)) for k in folds
            for f in _score_lines(Path(d) / f"fold{k}" / model / f"score_{rate}" / "scores.tsv")}


def pct_stats(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None, None
    return 100 * float(np.mean(values)), 100 * float(np.std(values))


def pct_cell(mean, std):
    return "-" if mean is None else f"{mean:.1f} ± {std:.1f}"


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
