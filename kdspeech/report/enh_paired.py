"""Paired tests of two systems on the utterances both scored (``kdspeech.metrics.paired.compare``:
mean difference, bootstrap 95 % CI, Wilcoxon p), and the "Paired comparisons" section of an
enhancement RESULTS.md.
"""

from kdspeech.metrics import paired
from kdspeech.report.score_dirs import label, read_utterance_scores
from kdspeech.results import markdown_table


def comparison_rows(a_scores, b_scores, metrics):
    """``[(metric, Paired)]``: a - b of each metric both have, on the utterances both scored."""
    rows = []
    for metric in metrics:
        if metric not in a_scores or metric not in b_scores:
            continue
        a, b = a_scores[metric], b_scores[metric]
        utts = sorted(set(a) & set(b))
        result = paired.compare([a[u] for u in utts], [b[u] for u in utts])
        if result.n:
            rows.append((metric, result))
    return rows


def comparisons_section(pairs, score_dirs, metrics):
    """The paired tests of every ``a:b`` comparison, one row per metric."""
    cache = {}

    def scores(name):
        if name not in cache:
            cache[name] = read_utterance_scores(score_dirs[name])
        return cache[name]

    rows = []
    for a, b in pairs:
        for metric, result in comparison_rows(scores(a), scores(b), metrics):
            rows.append([f"{a} - {b}", label(metric), result.n, result.mean_baseline, result.mean_system,
                         paired.format_diff(result), paired.format_p(result.p_value)])
    if not rows:
        return None
    text = (f"Per-utterance differences on the utterances both systems scored (an undefined score "
            f"leaves its utterance out): the mean with a bootstrap 95 % confidence interval ({paired.RESAMPLES} "
            f"resamples) and the p-value of a two-sided Wilcoxon signed-rank test.  Lower is better for "
            f"WER and CER, higher for the other metrics.\n\n")
    return ("Paired comparisons", text + markdown_table(
        ["comparison (A - B)", "metric", "utts", "B", "A", "A - B [95 % CI]", "p (Wilcoxon)"], rows))
