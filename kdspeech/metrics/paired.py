"""Paired comparison of two systems scored on the same utterances, over one or several training seeds.

``compare(system, baseline)`` takes the per-utterance scores of both (same utterances, same order)
and reports the mean difference ``system - baseline`` with

- a two-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, zero differences dropped as in
  Wilcoxon's original test; exact p for small sets without ties, normal approximation otherwise), and
- a percentile bootstrap confidence interval of the mean difference, from a fixed seed so that a
  RESULTS.md is reproducible.

**Training seeds.**  A paired test over utterances measures test-set noise only: at CPU scale a
difference between two trained systems can hold for one training seed and vanish at the next.  So a
system's scores may be a 2-D array ``[seeds, utterances]``, one row per training seed (the baseline
likewise, matched row by row, or 1-D when it was not trained, e.g. the noisy input).  The bootstrap
then resamples seeds with replacement and then utterances (the same utterances for every drawn seed),
so its CI covers both sources of noise; the Wilcoxon test runs on the per-utterance differences
averaged over seeds; ``per_seed`` lists each seed's mean difference.

**The one rule** (``Paired.confirmed``, used by every report): a difference is confirmed when

1. nothing was trained (``seeds == 0``) or at least ``MIN_SEEDS`` training seeds stand behind it,
2. the bootstrap CI excludes 0, and
3. the Wilcoxon p is below ``LEVEL``.

With one or two seeds ``Paired.verdict`` says "one seed: not a verdict" (or "2 seeds: ..."), whatever
the test says.  A 1-D comparison counts as one seed unless the caller says otherwise (``seeds=0``: two
systems neither of which was trained here; ``seeds=k``: the compared units are themselves k training
runs, e.g. (fold, seed) accuracies).  Pairs where either score is NaN (at any seed) are left out;
``n`` says how many utterances remain.
"""

import math
from dataclasses import dataclass

import numpy as np

from kdspeech.errors import KdError

RESAMPLES = 2000
SEED = 0
CONFIDENCE = 0.95
LEVEL = 0.05     # Wilcoxon p below which (with the CI excluding 0) a difference is confirmed
MIN_SEEDS = 3    # training seeds a comparison of trained systems needs before it can be confirmed


@dataclass(frozen=True)
class Paired:
    """``system - baseline`` over ``n`` utterances: means, bootstrap CI, Wilcoxon p; ``seeds`` training
    seeds stand behind it (0: nothing was trained), ``per_seed`` their mean differences (``seeds >= 2``)."""

    n: int
    mean_system: float
    mean_baseline: float
    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    seeds: int = 1
    per_seed: tuple = ()

    @property
    def significant(self):
        """Whether the CI excludes 0 (at the confidence it was computed with)."""
        return not math.isnan(self.ci_low) and (self.ci_low > 0 or self.ci_high < 0)

    @property
    def enough_seeds(self):
        """Whether training noise was measured: nothing trained, or ``MIN_SEEDS`` seeds or more."""
        return self.seeds == 0 or self.seeds >= MIN_SEEDS

    @property
    def confirmed(self):
        """The reports' one rule for "a real difference": enough training seeds, the CI excludes 0 and
        the Wilcoxon p is below ``LEVEL`` (the two tests agree)."""
        return (self.enough_seeds and self.n >= 2 and self.significant
                and not math.isnan(self.p_value) and self.p_value < LEVEL)

    @property
    def direction(self):
        """+1 or -1, the sign of a confirmed difference; 0 where none is confirmed."""
        return 0 if not self.confirmed else 1 if self.ci_low > 0 else -1

    @property
    def verdict(self):
        """``confirmed``, ``not shown``, or ``one seed: not a verdict`` / ``2 seeds: not a verdict``."""
        if not self.enough_seeds:
            return f"{'one seed' if self.seeds == 1 else f'{self.seeds} seeds'}: not a verdict"
        return "confirmed" if self.confirmed else "not shown"


def bootstrap_ci(diff, resamples=RESAMPLES, seed=SEED, confidence=CONFIDENCE, chunk=250):
    """Percentile bootstrap interval ``(low, high)`` of the mean of ``diff``: 1-D over utterances, or
    2-D ``[seeds, utterances]``, resampling seeds and then utterances (the same utterance draw for every
    drawn seed)."""
    diff = np.asarray(diff, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = []
    if diff.ndim == 1:
        for start in range(0, resamples, chunk):  # bounded memory for long test sets
            size = min(chunk, resamples - start)
            means.append(diff[rng.integers(0, len(diff), size=(size, len(diff)))].mean(axis=1))
    else:
        n_seeds, n_utts = diff.shape
        for start in range(0, resamples, chunk):
            size = min(chunk, resamples - start)
            seed_counts = draw_counts(rng, size, n_seeds)        # [size, seeds]
            utt_counts = draw_counts(rng, size, n_utts)          # [size, utterances]
            per_seed = utt_counts @ diff.T                        # [size, seeds]: sums over drawn utts
            means.append((seed_counts * per_seed).sum(axis=1) / (n_seeds * n_utts))
    means = np.concatenate(means)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def draw_counts(rng, size, n):
    """``[size, n]`` multiplicities of ``size`` draws of ``n`` items with replacement."""
    picks = rng.integers(0, n, size=(size, n))
    counts = np.zeros((size, n))
    np.add.at(counts, (np.repeat(np.arange(size), n), picks.ravel()), 1.0)
    return counts


def wilcoxon_p(diff):
    """Two-sided p of the Wilcoxon signed-rank test; 1.0 when every difference is zero."""
    from scipy.stats import wilcoxon

    diff = np.asarray(diff, dtype=np.float64)
    if not np.any(diff != 0):
        return 1.0
    return float(wilcoxon(diff, zero_method="wilcox", alternative="two-sided").pvalue)


def as_runs(scores, name, what="paired scores"):
    """``scores`` as a 2-D ``[seeds, utterances]`` array (a 1-D one is one row); ``what`` names them
    in the error."""
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise KdError(f"{what} ({name}) must be 1-D [utterances] or 2-D [seeds, utterances], "
                      f"got shape {array.shape}")
    return array


def compare(system, baseline, resamples=RESAMPLES, seed=SEED, confidence=CONFIDENCE, seeds=None):
    """``Paired`` statistics of ``system - baseline`` over the utterances both scored (not NaN).

    ``system``: 1-D per-utterance scores, or 2-D ``[seeds, utterances]`` (one row per training seed);
    ``baseline``: the same shape (its rows matched with the system's seed by seed), or 1-D when it was
    not trained.  ``seeds``: how many training seeds stand behind the comparison: by default 1 for a 1-D
    one and the number of rows for a 2-D one; 0 when neither side was trained here; a caller whose
    baseline was trained fewer times than the system passes the smaller count."""
    system_runs, baseline_runs = as_runs(system, "system"), as_runs(baseline, "baseline")
    one_d = np.ndim(system) == 1 and np.ndim(baseline) == 1
    if system_runs.shape[1] != baseline_runs.shape[1] or (
            baseline_runs.shape[0] not in (1, system_runs.shape[0])
            and system_runs.shape[0] != 1):
        raise KdError(f"paired scores need the same utterances (and seeds, or a 1-D baseline), got shapes "
                      f"{np.shape(system)} and {np.shape(baseline)}")
    runs = max(system_runs.shape[0], baseline_runs.shape[0])
    system_runs = np.broadcast_to(system_runs, (runs, system_runs.shape[1]))
    baseline_runs = np.broadcast_to(baseline_runs, (runs, baseline_runs.shape[1]))
    n_seeds = int(seeds) if seeds is not None else 1 if one_d else runs
    valid = ~(np.isnan(system_runs) | np.isnan(baseline_runs)).any(axis=0)
    system_runs, baseline_runs = system_runs[:, valid], baseline_runs[:, valid]
    n = system_runs.shape[1]
    if n == 0:
        nan = float("nan")
        return Paired(0, nan, nan, nan, nan, nan, nan, n_seeds)
    diff = system_runs - baseline_runs
    per_seed = tuple(float(d) for d in diff.mean(axis=1)) if runs > 1 else ()
    if n < 2:
        low = high = p = float("nan")
    else:
        low, high = bootstrap_ci(diff[0] if runs == 1 else diff, resamples, seed, confidence)
        p = wilcoxon_p(diff.mean(axis=0))
    return Paired(n, float(system_runs.mean()), float(baseline_runs.mean()), float(diff.mean()), low, high, p,
                  n_seeds, per_seed)


def compare_maps(system, baseline, seeds=None):
    """``compare`` of ``{utt: score}`` maps on the utterances every map has (a missing or NaN score
    leaves its utterance out).  ``system`` / ``baseline``: one map, or a list of maps, one per training
    seed (a baseline list is matched seed by seed with the system's; one map serves every seed)."""
    sys_maps = system if isinstance(system, (list, tuple)) else [system]
    base_maps = baseline if isinstance(baseline, (list, tuple)) else [baseline]
    utts = sorted(set.intersection(*(set(m) for m in sys_maps + base_maps)))

    def rows(maps):
        values = [[m[u] for u in utts] for m in maps]
        return values[0] if len(values) == 1 else values

    sys_rows, base_rows = rows(sys_maps), rows(base_maps)
    if len(sys_maps) == 1 and len(base_maps) > 1:   # a one-seed system against a many-seed baseline
        sys_rows = [sys_rows] * len(base_maps)
    return compare(sys_rows, base_rows, seeds=seeds)


def format_per_seed(result, scale=1.0, digits=3):
    """The per-seed mean differences, ``+0.176 / -0.065 / -0.032``; ``-`` for a one-seed comparison."""
    if not result.per_seed:
        return "-"
    return " / ".join(f"{scale * d:+.{digits}f}" for d in result.per_seed)


def compare_rows(system_rows, baseline_rows, column):
    """``compare`` on column ``column`` of two ``{utt: {column: value}}`` maps (common utterances)."""
    utts = sorted(set(system_rows) & set(baseline_rows))
    return compare([system_rows[u][column] for u in utts], [baseline_rows[u][column] for u in utts])


def format_p(p):
    """A p-value for a table: ``<0.001``, else three decimals; ``-`` when undefined."""
    if p is None or math.isnan(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_diff(result, scale=1.0, digits=3):
    """``+0.123 [+0.045, +0.201]`` (mean difference and bootstrap CI, times ``scale``)."""
    if math.isnan(result.mean_diff):
        return "-"
    if math.isnan(result.ci_low):
        return f"{scale * result.mean_diff:+.{digits}f}"
    return (f"{scale * result.mean_diff:+.{digits}f} "
            f"[{scale * result.ci_low:+.{digits}f}, {scale * result.ci_high:+.{digits}f}]")


def paired_compare(a, b, n_boot=RESAMPLES, seed=SEED):
    """``compare(a, b)`` as a plain dict: ``n, mean_diff (a - b), ci_low, ci_high, p_wilcoxon``."""
    result = compare(a, b, resamples=n_boot, seed=seed)
    return {"n": result.n, "mean_diff": result.mean_diff, "ci_low": result.ci_low,
            "ci_high": result.ci_high, "p_wilcoxon": result.p_value}
