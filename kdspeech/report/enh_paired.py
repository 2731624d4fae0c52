"""Paired tests of two systems on the utterances both scored (``kdspeech.metrics.paired.compare``:
mean difference, bootstrap 95 % CI, Wilcoxon p; for WER and CER the difference of corpus rates,
``kdspeech.metrics.paired_rate.compare_rate``), and the "Paired comparisons" section of an
enhancement RESULTS.md.

A system trained at several seeds (``<model>_seed<k>`` beside ``<model>``, ``specs.seed_group``) is
compared as one system over its seeds: the bootstrap resamples the seeds and then the utterances, and
the verdict needs ``paired.MIN_SEEDS`` of them.
"""

from pathlib import Path

from kdspeech.errors import KdError
from kdspeech.metrics import paired
from kdspeech.report.paired_metric import compare_metric
from kdspeech.report.score_dirs import label, read_utterance_scores
from kdspeech.report.specs import is_extra_seed, seed_group
from kdspeech.results import markdown_table


def trained(dirs):
    """Whether the system of these score dirs (``exp/<model>/score_<set>``) was trained in this run: its
    exp dir has the trainer's ``history.json`` (the noisy input, a classical filter or a pretrained model
    has none, and a comparison of two such has no training noise)."""
    dirs = [dirs] if isinstance(dirs, (str, Path)) else dirs
    return any((Path(d).parent / "history.json").is_file() for d in dirs)


def training_seeds(a_names, b_names, score_dirs):
    """The training seeds behind a comparison: the fewer of the two sides' (a side counts only if it was
    trained here); 0 when neither was, e.g. a classical filter against the noisy input."""
    counts = [len(names) for names in (a_names, b_names) if any(trained(score_dirs[n]) for n in names)]
    return min(counts) if counts else 0


def comparison_rows(a_scores, b_scores, metrics, seeds=None):
    """``[(metric, Paired)]``: a - b of each metric both have, on the utterances both scored (WER and
    CER as the difference of corpus rates: ``paired_metric.compare_metric``).  ``a_scores`` /
    ``b_scores``: one system's ``read_utterance_scores``, or a list of them, one per training seed;
    ``seeds``: as ``paired.compare``'s (0 when neither side was trained)."""
    rows = []
    for metric in metrics:
        result = compare_metric(a_scores, b_scores, metric, seeds=seeds)
        if result is not None and result.n:
            rows.append((metric, result))
    return rows


def seed_sides(a, b, names):
    """The seed groups of a comparison's two sides; an error when both have several seeds, unequally."""
    a_names, b_names = seed_group(a, names), seed_group(b, names)
    if len(a_names) != len(b_names) and 1 not in (len(a_names), len(b_names)):
        raise KdError(f"--compare {a}:{b}: {a} has {len(a_names)} training seeds and {b} {len(b_names)}; "
                      "train both at the same seeds")
    return a_names, b_names


def comparisons_section(pairs, score_dirs, metrics):
    """The paired tests of every ``a:b`` comparison, one row per metric (a system's seeds together)."""
    cache = {}

    def scores(name):
        if name not in cache:
            cache[name] = read_utterance_scores(score_dirs[name])
        return cache[name]

    rows = []
    for a, b in pairs:
        if is_extra_seed(a, score_dirs) or is_extra_seed(b, score_dirs):
            continue   # in the row of its first seed
        a_names, b_names = seed_sides(a, b, score_dirs)
        counts = sorted({len(names) for names in (a_names, b_names)
                         if len(names) > 1 or any(trained(score_dirs[n]) for n in names)})
        title = f"{a} - {b}" + ("" if not counts or counts == [1] else f" ({' and '.join(map(str, counts))} seeds)")
        for metric, result in comparison_rows([scores(n) for n in a_names], [scores(n) for n in b_names], metrics,
                                              seeds=training_seeds(a_names, b_names, score_dirs)):
            rows.append([title, label(metric), result.n, result.mean_baseline, result.mean_system,
                         paired.format_diff(result), paired.format_per_seed(result),
                         paired.format_p(result.p_value), result.verdict])
    if not rows:
        return None
    text = (f"Per-utterance differences on the utterances both systems scored (an undefined score "
            f"leaves its utterance out): the mean (for WER and CER the difference of the corpus rates, "
            f"total errors / total reference words or characters, on those utterances) with a bootstrap 95 % "
            f"confidence interval ({paired.RESAMPLES} "
            f"resamples; over a system's training seeds and then the utterances), each seed's difference and the "
            f"p-value of a two-sided Wilcoxon signed-rank test (for WER and CER on the per-utterance error "
            f"counts).  A verdict needs {paired.MIN_SEEDS} training "
            f"seeds, the CI excluding 0 and p < {paired.LEVEL}.  Lower is better for WER and CER, higher for "
            f"the other metrics.\n\n")
    return ("Paired comparisons", text + markdown_table(
        ["comparison (A - B)", "metric", "utts", "B", "A", "A - B [95 % CI]", "per seed", "p (Wilcoxon)",
         "verdict"], rows))
