"""Pick alpha and T of the distillation loss from a grid of runs by a validation metric.

    python -m kdspeech.bin.select_grid_cls --runs exp/grid --score valid_1000 --metric macro_accuracy \\
        --out exp/grid/best.yaml

Every ``<runs>/a<alpha>_T<T>/<score>/summary.json`` (kdspeech.bin.score_cls on validation clips) is
read; the best value of ``--metric`` (the recipe's headline metric: macro_accuracy, macro_f1...) wins,
ties go to the first in (alpha, T) order.  ``best.yaml`` holds ``alpha``,
``T``, the metric, its value and every grid point's value.
"""

import argparse
import json
import re
from pathlib import Path

import yaml

from kdspeech.cli import run_main
from kdspeech.errors import KdError
from kdspeech.atomic import atomic_write_text

RUN = re.compile(r"^a(?P<alpha>[0-9.eE+-]+)_T(?P<T>[0-9.eE+-]+)$")


def collect(runs, score, metric):
    points = []
    for d in sorted(Path(runs).iterdir()):
        m = RUN.match(d.name)
        if not m or not d.is_dir():
            continue
        summary = d / score / "summary.json"
        if not summary.exists():
            raise KdError("grid run has no validation score (did its stage finish?)", path=summary)
        values = json.loads(summary.read_text())
        if metric not in values:
            raise KdError(f"no '{metric}' here (it has {', '.join(sorted(values))})", path=summary)
        value = values[metric]
        points.append((float(m["alpha"]), float(m["T"]), float(value)))
    if not points:
        raise KdError("no grid runs (a<alpha>_T<T> dirs) found", path=runs)
    return sorted(points)


def select(points):
    best = points[0]
    for p in points[1:]:
        if p[2] > best[2]:
            best = p
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", required=True)
    p.add_argument("--score", required=True, help="name of the score dir in each run")
    p.add_argument("--metric", default="macro_accuracy")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    points = collect(args.runs, args.score, args.metric)
    alpha, T, value = select(points)
    out = {"alpha": alpha, "T": T, "metric": args.metric, "value": value,
           "grid": [{"alpha": a, "T": t, args.metric: v} for a, t, v in points]}
    atomic_write_text(args.out, yaml.safe_dump(out, sort_keys=False))
    print(f"best alpha {alpha}, T {T}: validation {args.metric} {value:.4f} (of {len(points)} points)")
    return 0


if __name__ == "__main__":
    run_main(main)
