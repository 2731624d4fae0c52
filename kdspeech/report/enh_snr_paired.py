"""Paired tests of two models by input SNR, each model pooled over its seeds: the section of an
enhancement RESULTS.md that says at which SNR one model beats another, and with what confidence.

A spec is ``A1+A2:B1+B2=DATA_DIR``: each side is one or more ``--system`` names (the same model trained
with different seeds, on the same test set); an utterance's score on a side is the mean over its systems
(the utterance is kept only where every system of both sides scored it), so the test is over utterances
with the seed variance averaged in.  ``DATA_DIR`` is the mixture dir whose ``utt2snr`` groups them.
"""

import os

from kdspeech.data.datadir import read_kv
from kdspeech.errors import KdError
from kdspeech.metrics import paired
from kdspeech.plot import plot_differences_by_snr
from kdspeech.report.score_dirs import GROUP_TITLES, label, read_utterance_scores
from kdspeech.results import link_from, markdown_table


def parse_snr_comparison(spec, systems):
    """``(a_names, b_names, data_dir)`` of ``A1+A2:B1+B2=DATA_DIR``, each name a --system."""
    pair, sep, data_dir = spec.partition("=")
    a, colon, b = pair.partition(":")
    sides = [[n for n in side.split("+") if n] for side in (a, b)]
    if not sep or not data_dir or not colon or not all(sides):
        raise KdError(f"--compare_snr {spec!r}: expected A[+A2...]:B[+B2...]=DATA_DIR")
    for name in sides[0] + sides[1]:
        if name not in systems:
            raise KdError(f"--compare_snr {spec}: {name} is not one of the --system names")
    if set(sides[0]) & set(sides[1]):
        raise KdError(f"--compare_snr {spec}: a system is on both sides")
    return sides[0], sides[1], data_dir


def comparison_name(a_names, b_names):
    """A short name of a comparison for a plot's legend: the test set when every system is
    "<model>/<that set>", else "A - B" in full."""
    sets = {name.rpartition("/")[2] for name in a_names + b_names if "/" in name}
    if len(sets) == 1 and all("/" in name for name in a_names + b_names):
        return sets.pop()
    return f"{' + '.join(a_names)} - {' + '.join(b_names)}"


def pooled_scores(per_system, metric):
    """``{utt: mean over the systems}`` of one metric, on the utterances every system scored;
    ``per_system`` holds each system's ``read_utterance_scores``."""
    scores = [system.get(metric) for system in per_system]
    if any(s is None for s in scores):
        return None
    utts = set.intersection(*(set(s) for s in scores))
    return {u: sum(s[u] for s in scores) / len(scores) for u in utts}


def higher_is_better(metric):
    from kdspeech.metrics.registry import METRICS
    try:
        return METRICS.get(metric).higher_is_better
    except KdError:
        return True


def verdict(result, higher=True):
    """``A better``, ``B better`` or ``not shown`` (``Paired.confirmed``: CI and Wilcoxon agreeing)."""
    if not result.direction:
        return "not shown"
    return "A better" if (result.direction > 0) == higher else "B better"


def snr_comparison_section(a_names, b_names, data_dir, score_dirs, metrics):
    """``((title, markdown), {metric: [(snr, mean, ci_low, ci_high)]})``: A - B per metric, by input SNR
    and over all, seeds pooled per side; ``(None, {})`` when no metric is on both sides."""
    snr = read_kv(os.path.join(data_dir, "utt2snr"))
    a_title, b_title = " + ".join(a_names), " + ".join(b_names)
    a_scores = [read_utterance_scores(score_dirs[n]) for n in a_names]   # each scores.tsv read once
    b_scores = [read_utterance_scores(score_dirs[n]) for n in b_names]
    rows, curves = [], {}
    for metric in metrics:
        a, b = pooled_scores(a_scores, metric), pooled_scores(b_scores, metric)
        if a is None or b is None:
            continue
        utts = sorted(set(a) & set(b))
        missing = [u for u in utts if u not in snr]
        if missing:
            raise KdError(f"utterance {missing[0]} is scored but has no SNR", path=data_dir)
        groups = {}
        for u in utts:
            groups.setdefault(float(snr[u]), []).append(u)
        for key in [*sorted(groups), "all"]:
            group = utts if key == "all" else groups[key]
            result = paired.compare([a[u] for u in group], [b[u] for u in group])
            if key != "all":
                curves.setdefault(metric, []).append((key, result.mean_diff, result.ci_low, result.ci_high))
            rows.append([label(metric), "all" if key == "all" else format(key, "g"), result.n,
                         result.mean_baseline, result.mean_system, paired.format_diff(result),
                         paired.format_p(result.p_value), verdict(result, higher_is_better(metric))])
    if not rows:
        return None, {}
    seeds = f"{len(a_names)} and {len(b_names)} trainings" if len(a_names) + len(b_names) > 2 else "one training each"
    text = (f"A = {a_title}, B = {b_title} ({seeds}; an utterance's score is the mean over a side's "
            f"trainings).  Per {GROUP_TITLES['snr']}: the mean per-utterance difference A - B with a "
            f"bootstrap 95 % CI ({paired.RESAMPLES} resamples) and the two-sided Wilcoxon p; the verdict names the "
            f"better side only where the CI excludes 0 and p < {paired.LEVEL} (lower is better for WER and CER, "
            f"higher for the other metrics).\n\n")
    table = markdown_table(["metric", "SNR (dB)", "utts", "B", "A", "A - B [95 % CI]", "p (Wilcoxon)",
                            "verdict"], rows)
    return (f"{a_title} against {b_title} by input SNR", text + table), curves


def models_of(names):
    """``"s2 + s2_seed2"`` of ``["s2/test", "s2_seed2/test"]``: a side's models without their test set."""
    return " + ".join(dict.fromkeys(n.rpartition("/")[0] or n for n in names))


def difference_plots(comparisons, plot_dir, out, what="A - B"):
    """One PNG per metric: A - B with its CI by SNR, a line per comparison (e.g. per test set);
    ``comparisons`` maps a line's name to the curves of ``snr_comparison_section``; ``what`` names
    the difference in the titles.  Returns the markdown image links."""
    by_metric = {}
    for name, curves in comparisons.items():
        for metric, rows in curves.items():
            by_metric.setdefault(metric, {})[name] = rows
    links = []
    for metric, series in by_metric.items():
        png = os.path.join(plot_dir, f"{metric}_paired_difference_by_snr.png")
        plot_differences_by_snr(series, f"{label(metric)} difference", png,
                                title=f"{label(metric)}: {what} by input SNR (95 % CI)")
        links.append(f"![{label(metric)} {what} by SNR]({link_from(out, png)})")
    return links
