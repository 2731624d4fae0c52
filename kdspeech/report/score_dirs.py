"""Score dirs of ``kdspeech.bin.score`` (``summary.json``, ``scores.tsv``) as the enhancement and PSE
results makers read them: the dirs of one system joined into one summary, per-utterance scores by
metric, a system's figure over any set of utterances (``figure``: a ratio metric's corpus rate, the
mean of the others), the metrics that get a column, and their headings.
"""

import math

import os

from kdspeech.errors import KdError
from kdspeech.metrics.scores import read_scores, read_summary

GROUP_TITLES = {"snr": "input SNR (dB)", "noise": "noise type"}


def label(metric):
    """A metric's column heading: the registry's label (WER and CER are fractions, as scored)."""
    from kdspeech.metrics.registry import METRICS
    try:
        return METRICS.get(metric).label
    except KdError:
        return metric


def _count_columns():
    """Per-utterance count columns of the registry's metrics (wer_errors, cer_chars...): they pool a
    corpus rate in the summary and are not figures of their own."""
    from kdspeech.metrics.registry import METRICS
    return {c for name in METRICS.names() for c in METRICS.get(name).counts}


def ratio_counts(metric):
    """``(errors column, reference length column)`` of a ratio metric (WER, CER); ``None`` otherwise."""
    from kdspeech.metrics.registry import METRICS
    try:
        return METRICS.get(metric).counts or None
    except KdError:
        return None


def figure(scores, metric, utts):
    """A system's ``metric`` over ``utts`` from its ``read_utterance_scores``: for WER and CER the
    corpus rate ``sum(errors) / sum(reference lengths)`` (``transcript.corpus_rate``), for other metrics
    the mean (undefined scores left out); ``None`` when undefined or not scored."""
    counts = ratio_counts(metric)
    if counts:
        if not all(c in scores for c in counts):
            return None   # a score file without the counts cannot pool a corpus rate
        from kdspeech.metrics.transcript import corpus_rate

        errors, lengths = (scores[c] for c in counts)
        value = corpus_rate([errors[u] for u in utts], [lengths[u] for u in utts])
    elif metric in scores:
        values = [scores[metric][u] for u in utts if not math.isnan(scores[metric][u])]
        value = math.fsum(values) / len(values) if values else float("nan")
    else:
        return None
    return None if math.isnan(value) else value


def read_summaries(score_dirs, name):
    """One summary from several score dirs of the same system (their metrics joined)."""
    merged = {"metrics": [], "overall": {}}
    for path in score_dirs:
        summary = read_summary(path)
        metrics = summary.get("metrics") or [m for m in summary["overall"] if m != "n"]
        clash = [m for m in metrics if m in merged["metrics"]]
        if clash:
            raise KdError(f"--system {name}: metric {clash[0]} is in two of its score dirs", path)
        merged["metrics"] += metrics
        merged["n"] = max(merged.get("n", 0), summary.get("n", summary["overall"].get("n", 0)))
        merged["overall"].update({k: v for k, v in summary["overall"].items() if k != "n"})
        merged["overall"]["n"] = max(merged["overall"].get("n", 0), summary["overall"].get("n", 0))
        for group in GROUP_TITLES:
            for key, values in summary.get(group, {}).items():
                merged.setdefault(group, {}).setdefault(key, {}).update(values)
    return merged


def read_utterance_scores(score_dirs):
    """``{metric: {utt: value}}`` from the scores.tsv of each score dir."""
    by_metric = {}
    for path in score_dirs:
        metrics, rows = read_scores(os.path.join(path, "scores.tsv"))
        for i, metric in enumerate(metrics):
            by_metric[metric] = {utt: values[i] for utt, values in rows.items()}
    return by_metric


def metric_names(summaries):
    names = []
    for summary in summaries.values():
        names += [m for m in summary.get("metrics", summary["overall"]) if m != "n" and m not in names]
    counts = _count_columns()
    return [m for m in names if m not in counts]
