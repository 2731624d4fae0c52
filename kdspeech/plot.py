"""PNG plots for RESULTS.md: metric against SNR per system, and learning curves.

Matplotlib runs on the Agg backend (no display on cluster nodes); each PNG is written to a
temporary file and renamed, so a link in RESULTS.md never points at a half-written image.
"""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from kdspeech.atomic import atomic_path  # noqa: E402

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def _save_png(fig, path):
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _finite_points(pairs):
    """(x, y) pairs as floats, sorted by x, without missing or NaN values."""
    points = []
    for x, y in pairs:
        if y is None:
            continue
        x, y = float(x), float(y)
        if not (math.isnan(x) or math.isnan(y)):
            points.append((x, y))
    return sorted(points)


def plot_metric_by_snr(systems, metric, path, title=None):
    """One line with markers per system: x = input SNR (dB), y = ``metric``.

    ``systems`` maps a system name to ``{snr: value}``; SNR keys may be numbers or strings such as
    ``"-5"`` (as read back from summary.json).
    """
    fig, axes = plt.subplots(figsize=(6.4, 4.4))
    snrs = set()
    for index, (name, by_snr) in enumerate(systems.items()):
        points = _finite_points(by_snr.items())
        if not points:
            continue
        xs, ys = zip(*points)
        snrs.update(xs)
        axes.plot(xs, ys, marker=MARKERS[index % len(MARKERS)], label=name)
    if 0 < len(snrs) <= 12:
        axes.set_xticks(sorted(snrs))
    axes.set_xlabel("input SNR (dB)")
    axes.set_ylabel(metric)
    axes.set_title(title or f"{metric} by input SNR")
    axes.grid(True, alpha=0.3)
    if axes.lines:
        axes.legend()
    return _save_png(fig, path)


def plot_learning_curves(curves, ylabel, path, title=None):
    """One line per curve: x = epoch, y = value; ``curves`` maps a name to ``[(epoch, value)]``."""
    fig, axes = plt.subplots(figsize=(6.4, 4.4))
    for index, (name, points) in enumerate(curves.items()):
        points = _finite_points(points)
        if not points:
            continue
        xs, ys = zip(*points)
        marker = MARKERS[index % len(MARKERS)] if len(points) <= 30 else None
        axes.plot(xs, ys, marker=marker, label=name)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    if title:
        axes.set_title(title)
    axes.grid(True, alpha=0.3)
    if axes.lines:
        axes.legend()
    return _save_png(fig, path)


def plot_tradeoff(points, chosen, xlabel, ylabel, path, title=None, line_label=None):
    """A sweep of one setting as a line through ``{label: (x, y)}`` points (in order), each labelled,
    the ``chosen`` label starred (e.g. SIG against BAK for each similarity scale alpha)."""
    fig, axes = plt.subplots(figsize=(5.6, 4.4))
    xs = [x for x, _ in points.values()]
    ys = [y for _, y in points.values()]
    axes.plot(xs, ys, marker="o", linestyle="-", color="tab:blue", label=line_label)
    for name, x, y in zip(points, xs, ys):
        axes.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if chosen in points:
        x, y = points[chosen]
        axes.plot([x], [y], marker="*", markersize=16, color="tab:red", linestyle="none",
                  label=f"chosen: {chosen}")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if title:
        axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend()
    return _save_png(fig, path)
