"""Paired comparison of two systems' error rates (WER, CER) on the same utterances.

A corpus error rate is ``sum(errors) / sum(reference lengths)`` (``kdspeech.metrics.transcript.
corpus_rate``), not a mean of per-utterance ratios, so the difference of two systems is compared as
that: ``compare_rate(system_errors, baseline_errors, lengths)`` returns a ``kdspeech.metrics.paired.
Paired`` whose ``mean_system`` / ``mean_baseline`` are the two corpus rates and ``mean_diff`` their
difference, with

- a percentile bootstrap CI of that difference: utterances resampled with replacement (or, with
  ``groups``, e.g. each utterance's speaker, whole groups with all their utterances), the ratio of
  sums recomputed on every resample (``RESAMPLES`` resamples from ``SEED``, as ``paired.compare``);
- the two-sided Wilcoxon signed-rank p of the per-utterance error-count differences
  (``paired.wilcoxon_p``).

Training seeds: ``system_errors`` may be 2-D ``[seeds, utterances]``, one row per training seed;
``baseline_errors`` likewise (matched row by row) or 1-D, shared by every seed (an untrained input
such as the noisy mixtures).  The bootstrap then draws seeds with replacement and then utterances
(the same utterances for every drawn seed); the statistic is the corpus rate of the drawn system
seeds pooled minus the baseline's.  The Wilcoxon test runs on the per-utterance error-count
differences averaged over seeds, and ``per_seed`` holds each seed's rate difference.

    from kdspeech.metrics.paired_rate import compare_rate
    result = compare_rate([3, 0, 1], [4, 1, 1], [10, 4, 6])     # errors, errors, reference words
    result.mean_system, result.mean_diff                           # 0.2, -0.1
    compare_rate([[3, 0, 1], [2, 1, 1]], [4, 1, 1], [10, 4, 6])   # two training seeds, one baseline

Utterances whose errors (at any seed) or length are NaN are left out; ``n`` counts the others.
"""

import numpy as np

from kdspeech.errors import KdError
from kdspeech.metrics.paired import CONFIDENCE, RESAMPLES, SEED, Paired, as_runs, draw_counts, wilcoxon_p


def _rows(errors, name):
    return as_runs(errors, name, what="error counts")


def _rate(errors, lengths):
    """Corpus rate of ``errors`` ([seeds, utts], pooled over seeds) on references ``lengths``."""
    total = errors.shape[0] * lengths.sum()
    return float(errors.sum() / total) if total else float("nan")


def _group_index(groups, n):
    """``(index of each utterance's group, number of groups)``; every utterance its own group if None."""
    if groups is None:
        return np.arange(n), n
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise KdError(f"groups need one label per utterance ({n}), got shape {groups.shape}")
    labels, index = np.unique(groups, return_inverse=True)
    return index, len(labels)


def bootstrap_rate_ci(system, baseline, lengths, groups=None, resamples=RESAMPLES, seed=SEED,
                      confidence=CONFIDENCE, chunk=250):
    """Percentile interval ``(low, high)`` of ``rate(system) - rate(baseline)``: ``system``
    ``[seeds, utts]``, ``baseline`` ``[seeds, utts]`` (matched rows) or ``[1, utts]``, ``lengths``
    ``[utts]``; seeds drawn first (when there are several), then utterances or ``groups``."""
    n_seeds, n_utts = system.shape
    index, n_units = _group_index(groups, n_utts)
    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, resamples, chunk):  # bounded memory for long test sets
        size = min(chunk, resamples - start)
        seed_counts = draw_counts(rng, size, n_seeds) if n_seeds > 1 else np.ones((size, 1))
        weights = draw_counts(rng, size, n_units)[:, index]           # [size, utts]
        words = n_seeds * (weights @ lengths)                           # drawn references, every seed
        with np.errstate(invalid="ignore", divide="ignore"):
            sys_rate = (seed_counts * (weights @ system.T)).sum(axis=1) / words
            if baseline.shape[0] == 1:
                base_rate = (weights @ baseline[0]) / (words / n_seeds)
            else:
                base_rate = (seed_counts * (weights @ baseline.T)).sum(axis=1) / words
        diffs.append(sys_rate - base_rate)
    diffs = np.concatenate(diffs)
    diffs = diffs[~np.isnan(diffs)]  # a draw of empty references only has no rate
    if not len(diffs):
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(diffs, [tail, 100.0 - tail])
    return float(low), float(high)


def compare_rate(system_errors, baseline_errors, lengths, groups=None, resamples=RESAMPLES, seed=SEED,
                 confidence=CONFIDENCE, seeds=None):
    """``Paired`` statistics of the corpus rate of ``system_errors`` minus that of ``baseline_errors``.

    ``system_errors``: per-utterance error counts, 1-D, or 2-D ``[seeds, utterances]``;
    ``baseline_errors``: the same shape (rows matched seed by seed) or 1-D (shared by every seed);
    ``lengths``: each utterance's reference length (words for WER, characters for CER);
    ``groups``: optional label per utterance (its speaker): the bootstrap resamples groups, each with
    all its utterances; ``seeds``: training seeds behind a 1-D comparison, as in ``paired.compare``
    (default 1; 0 when neither side was trained here); a 2-D one has as many as its rows.
    """
    system, baseline = _rows(system_errors, "system"), _rows(baseline_errors, "baseline")
    lengths = np.asarray(lengths, dtype=np.float64)
    n_utts = system.shape[1]
    if lengths.shape != (n_utts,) or baseline.shape[1] != n_utts:
        raise KdError(f"paired error counts need the same utterances: system {np.shape(system_errors)}, "
                      f"baseline {np.shape(baseline_errors)}, lengths {np.shape(lengths)}")
    if system.shape[0] == 1 and baseline.shape[0] > 1:   # one run against several seeds of the baseline
        system = np.repeat(system, baseline.shape[0], axis=0)
    if baseline.shape[0] not in (1, system.shape[0]):
        raise KdError(f"the baseline has {baseline.shape[0]} seeds and the system {system.shape[0]}: "
                      "give it one row per system seed, or one row for all")
    one_d = np.ndim(system_errors) == 1 and np.ndim(baseline_errors) == 1
    n_seeds = int(seeds) if seeds is not None else 1 if one_d else system.shape[0]
    valid = ~(np.isnan(system).any(axis=0) | np.isnan(baseline).any(axis=0) | np.isnan(lengths))
    system, baseline, lengths = system[:, valid], baseline[:, valid], lengths[valid]
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n_utts,):
            raise KdError(f"groups need one label per utterance ({n_utts}), got shape {groups.shape}")
        groups = groups[valid]
    n = system.shape[1]
    nan = float("nan")
    if n == 0:
        return Paired(0, nan, nan, nan, nan, nan, nan, seeds=n_seeds)
    rate_system, rate_baseline = _rate(system, lengths), _rate(baseline, lengths)
    per_seed = ()
    if system.shape[0] > 1:
        per_seed = tuple(_rate(system[k:k + 1], lengths) - _rate(baseline[k:k + 1] if baseline.shape[0] > 1
                                                                  else baseline, lengths)
                         for k in range(system.shape[0]))
    low = high = p = nan
    if n >= 2:
        low, high = bootstrap_rate_ci(system, baseline, lengths, groups, resamples, seed, confidence)
        p = wilcoxon_p(system.mean(axis=0) - baseline.mean(axis=0))
    return Paired(n, rate_system, rate_baseline, rate_system - rate_baseline, low, high, p,
                  seeds=n_seeds, per_seed=per_seed)


def compare_rate_maps(system, baseline, lengths, groups=None, seeds=None):
    """``compare_rate`` of ``{utt: errors}`` maps on the utterances every map has.

    ``system`` / ``baseline``: one map, or a list of maps, one per training seed (a baseline list is
    matched seed by seed; one map serves every seed); ``lengths``: ``{utt: reference length}``, or a
    list of such maps (one per scored system) that must agree where they overlap; ``groups``:
    optional ``{utt: group}`` (every compared utterance needs one).
    """
    sys_maps = list(system) if isinstance(system, (list, tuple)) else [system]
    base_maps = list(baseline) if isinstance(baseline, (list, tuple)) else [baseline]
    length_maps = list(lengths) if isinstance(lengths, (list, tuple)) else [lengths]
    utts = sorted(set.intersection(*(set(m) for m in sys_maps + base_maps + length_maps)))
    for utt in utts:
        if len({m[utt] for m in length_maps}) > 1:
            raise KdError(f"utterance {utt} has reference lengths {sorted({m[utt] for m in length_maps})} "
                          "in the compared score files: they were scored against different references")
    if groups is not None:
        missing = [u for u in utts if u not in groups]
        if missing:
            raise KdError(f"utterance {missing[0]} has no group (speaker) for the bootstrap")
        groups = [groups[u] for u in utts]

    def rows(maps):
        values = [[m[u] for u in utts] for m in maps]
        return values[0] if len(values) == 1 else values

    return compare_rate(rows(sys_maps), rows(base_maps), [length_maps[0][u] for u in utts], groups,
                        seeds=seeds)
