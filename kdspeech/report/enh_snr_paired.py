"""Paired tests of two models by input SNR, each model pooled over its seeds: the section of an
enhancement RESULTS.md that says at which SNR one model beats another, and with what confidence.

A spec is ``A1+A2:B1+B2=DATA_DIR``: each side is one or more ``--system`` names (the same model trained
with different seeds, on the same test set; both sides list their seeds in the same order, or one side
is a single system, e.g. the noisy input); the utterance is kept only where every system of both sides
scored it.  ``kdspeech.metrics.paired.compare`` resamples the seeds and then the utterances, so a
verdict holds across training seeds, and needs ``MIN_SEEDS`` of them.  ``DATA_DIR`` is the mixture dir
whose ``utt2snr`` groups them.
"""

import os

from kdspeech.data.datadir import read_kv
from kdspeech.errors import KdError
from kdspeech.metrics import paired
from kdspeech.plot import plot_differences_by_snr
from kdspeech.report.enh_paired import training_seeds
from kdspeech.report.paired_metric import compare_metric, speaker_groups
from kdspeech.report.score_dirs import GROUP_TITLES, label, ratio_counts, read_utterance_scores
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


def seed_scores(per_system, metric):
    """``[{utt: score}]`` of one metric, one map per system (seed) of a side; None when one lacks it.
    ``per_system`` holds each system's ``read_utterance_scores``."""
    scores = [system.get(metric) for system in per_system]
    return None if any(s is None for s in scores) else scores


def higher_is_better(metric):
    from kdspeech.metrics.registry import METRICS
    try:
        return METRICS.get(metric).higher_is_better
    except KdError:
        return True


def verdict(result, higher=True):
    """``A better``, ``B better`` or ``not shown`` (``Paired.confirmed``: CI and Wilcoxon agreeing)."""
    if not result.enough_seeds:
        return result.verdict
    if not result.direction:
        return "not shown"
    return "A better" if (result.direction > 0) == higher else "B better"


def snr_comparison_section(a_names, b_names, data_dir, score_dirs, metrics):
    """``((title, markdown), {metric: [(snr, mean, ci_low, ci_high)]})``: A - B per metric, by input SNR
    and over all, seeds pooled per side; ``(None, {})`` when no metric is on both sides."""
    snr = read_kv(os.path.join(data_dir, "utt2snr"))
    a_title, b_title = " + ".join(a_names), " + ".join(b_names)
    if len(a_names) != len(b_names) and 1 not in (len(a_names), len(b_names)):
        raise KdError(f"{a_title} against {b_title}: the sides have {len(a_names)} and {len(b_names)} seeds; "
                      f"give both the same seeds (in the same order), or one system on one side")
    seeds = training_seeds(a_names, b_names, score_dirs)   # a side trained fewer times limits the verdict
    a_scores = [read_utterance_scores(score_dirs[n]) for n in a_names]   # each scores.tsv read once
    b_scores = [read_utterance_scores(score_dirs[n]) for n in b_names]
    speakers = speaker_groups(data_dir)   # WER / CER: resample speakers with all their utterances
    rows, curves = [], {}
    for metric in metrics:
        a, b = seed_scores(a_scores, metric), seed_scores(b_scores, metric)
        if a is None or b is None:
            continue
        utts = sorted(set.intersection(*(set(m) for m in a + b)))
        missing = [u for u in utts if u not in snr]
        if missing:
            raise KdError(f"utterance {missing[0]} is scored but has no SNR", path=data_dir)
        groups = {}
        for u in utts:
            groups.setdefault(float(snr[u]), []).append(u)
        for key in [*sorted(groups), "all"]:
            group = utts if key == "all" else groups[key]
            result = compare_metric(a_scores, b_scores, metric, utts=group, groups=speakers, seeds=seeds)
            if result is None:
                break   # WER / CER scored without their counts
            if key != "all":
                curves.setdefault(metric, []).append((key, result.mean_diff, result.ci_low, result.ci_high))
            rows.append([label(metric), "all" if key == "all" else format(key, "g"), result.n,
                         result.mean_baseline, result.mean_system, paired.format_diff(result),
                         paired.format_per_seed(result), paired.format_p(result.p_value),
                         verdict(result, higher_is_better(metric))])
    if not rows:
        return None, {}
    seeds = f"{len(a_names)} and {len(b_names)} trainings" if len(a_names) + len(b_names) > 2 else "one training each"
    text = (f"A = {a_title}, B = {b_title} ({seeds}, matched seed by seed).  Per {GROUP_TITLES['snr']}: the "
            f"mean per-utterance difference A - B with a 95 % CI from a bootstrap ({paired.RESAMPLES} resamples) "
            f"that resamples the training seeds and then the utterances, each seed's difference, and the "
            f"two-sided Wilcoxon p on the differences averaged over seeds; the verdict names the better side "
            f"only where {paired.MIN_SEEDS} or more seeds stand behind it, the CI excludes 0 and p < "
            f"{paired.LEVEL} (lower is better for WER and CER, higher for the other metrics).")
    if any(ratio_counts(m) for m in metrics):
        text += ("  WER and CER: the difference of corpus rates (total errors / total reference words or "
                 "characters of the utterances compared), the Wilcoxon test on per-utterance error counts"
                 + (", the bootstrap over speakers (utt2spk), each with all its utterances" if speakers else "")
                 + ".")
    text += "\n\n"
    table = markdown_table(["metric", "SNR (dB)", "utts", "B", "A", "A - B [95 % CI]", "per seed",
                            "p (Wilcoxon)", "verdict"], rows)
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
