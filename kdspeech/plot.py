"""PNG plots for RESULTS.md: metric against SNR per system, paired differences by SNR, and learning curves.

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


def snr_panels(systems, reference=None):
    """``{test set: {model: [(snr, value)]}}`` from ``{"model/test set": {snr: value}}`` (a name without
    "/" goes to the panel ""); with ``reference`` (a model, e.g. "noisy") every value becomes its
    difference from the reference's value at the same SNR of the same panel (SNRs the reference lacks
    are dropped; a panel without the reference keeps its values)."""
    panels = {}
    for name, by_snr in systems.items():
        model, _, test = name.rpartition("/") if "/" in name else (name, "", "")
        points = _finite_points(by_snr.items())
        if points:
            panels.setdefault(test, {})[model] = points
    if reference:
        for members in panels.values():
            if reference not in members:
                continue
            base = dict(members[reference])
            for model, points in members.items():
                members[model] = [(x, y - base[x]) for x, y in points if x in base]
    return panels


def plot_metric_by_snr(systems, metric, path, title=None, reference=None):
    """``metric`` against input SNR, one panel per test set (names "model/test set"), one line per
    model in the same colour and marker in every panel, the legend outside the panels.  With
    ``reference`` the lines are differences from that model (drawn as the dashed zero line): the
    improvement over the noisy input reads better than the raw metric, which mostly follows the SNR."""
    panels = snr_panels(systems, reference)
    models = list(dict.fromkeys(m for members in panels.values() for m in members))
    count = max(len(panels), 1)
    fig, grid = plt.subplots(1, count, figsize=(4.6 * count, 4.2), sharey=True, squeeze=False)
    for axes, (test, members) in zip(grid[0], panels.items()):
        snrs = set()
        for model, points in members.items():
            xs, ys = zip(*points) if points else ((), ())
            snrs.update(xs)
            i = models.index(model)
            dashed = model == reference and reference in members
            axes.plot(xs, ys, marker=None if dashed else MARKERS[i % len(MARKERS)], color=f"C{i % 10}",
                      linestyle="--" if dashed else "-", label=model)
        if 0 < len(snrs) <= 12:
            axes.set_xticks(sorted(snrs))
        axes.set_xlabel("input SNR (dB)")
        axes.set_title(test)
        axes.grid(True, alpha=0.3)
    grid[0][0].set_ylabel(f"{metric} - {reference}" if reference else metric)
    fig.suptitle(title or f"{metric} by input SNR")
    handles = {h.get_label(): h for axes in grid[0] for h in axes.lines}
    if handles:
        fig.legend(handles.values(), handles.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return _save_png(fig, path)


def plot_differences_by_snr(series, ylabel, path, title=None):
    """Paired differences with their confidence intervals against input SNR: ``series`` maps a line's
    name to ``[(snr, mean, ci_low, ci_high)]``; a zero line marks "no difference"."""
    fig, axes = plt.subplots(figsize=(6.4, 4.2))
    for i, (name, rows) in enumerate(series.items()):
        rows = sorted((float(x), m, lo, hi) for x, m, lo, hi in rows if not math.isnan(m))
        if not rows:
            continue
        xs, means, lows, highs = zip(*rows)
        errors = [[max(m - lo, 0) if not math.isnan(lo) else 0 for m, lo in zip(means, lows)],
                  [max(hi - m, 0) if not math.isnan(hi) else 0 for m, hi in zip(means, highs)]]
        offset = 0.4 * (i - (len(series) - 1) / 2)   # side by side at each SNR
        axes.errorbar([x + offset for x in xs], means, yerr=errors, marker=MARKERS[i % len(MARKERS)],
                      capsize=3, label=name)
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel("input SNR (dB)")
    axes.set_ylabel(ylabel)
    axes.set_title(title or ylabel)
    axes.grid(True, alpha=0.3)
    if axes.lines or axes.containers:
        axes.legend()
    return _save_png(fig, path)


def plot_learning_curves(curves, ylabel, path, title=None, right=(), right_ylabel=None):
    """One line per curve: x = epoch, y = value; ``curves`` maps a name to ``[(epoch, value)]``.  The
    curves named in ``right`` go on a second y axis at the right (``right_ylabel``), for losses of
    different scales in one figure (the Charishma paper's Fig. 3)."""
    fig, axes = plt.subplots(figsize=(6.4, 4.4))
    twin = axes.twinx() if any(name in curves for name in right) else None
    for index, (name, points) in enumerate(curves.items()):
        points = _finite_points(points)
        if not points:
            continue
        xs, ys = zip(*points)
        marker = MARKERS[index % len(MARKERS)] if len(points) <= 30 else None
        on_right = twin is not None and name in right
        (twin if on_right else axes).plot(xs, ys, marker=marker, linestyle="--" if on_right else "-",
                                          color=f"C{index}", label=f"{name} (right axis)" if on_right else name)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    if twin is not None:
        twin.set_ylabel(right_ylabel or ylabel)
    if title:
        axes.set_title(title)
    axes.grid(True, alpha=0.3)
    lines = axes.lines + (twin.lines if twin is not None else [])
    if lines:
        axes.legend(lines, [line.get_label() for line in lines])
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
