"""Paired comparison of two systems scored on the same utterances.

``compare(system, baseline)`` takes the per-utterance scores of both (same order, same
utterances) and reports the mean difference ``system - baseline`` with

- a two-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, zero differences dropped as in
  Wilcoxon's original test; exact p for small sets without ties, normal approximation otherwise), and
- a percentile bootstrap confidence interval of the mean difference (utterances resampled with
  replacement, ``resamples`` times, from a fixed seed, so a RESULTS.md is reproducible).

Pairs where either score is NaN are left out; ``n`` says how many remain.
"""

import math
from dataclasses import dataclass

import numpy as np

from kdspeech.errors import KdError

RESAMPLES = 2000
SEED = 0
CONFIDENCE = 0.95
LEVEL = 0.05  # Wilcoxon p below which (with the CI excluding 0) a difference is confirmed


@dataclass(frozen=True)
class Paired:
    n: int
    mean_system: float
    mean_baseline: float
    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float

    @property
    def significant(self):
        """Whether the CI excludes 0 (at the confidence it was computed with)."""
        return not math.isnan(self.ci_low) and (self.ci_low > 0 or self.ci_high < 0)

    @property
    def confirmed(self):
        """The reports' one rule for "a real difference": the CI excludes 0 and the Wilcoxon p is below
        ``LEVEL`` (the two tests agree)."""
        return self.n >= 2 and self.significant and not math.isnan(self.p_value) and self.p_value < LEVEL

    @property
    def direction(self):
        """+1 or -1, the sign of a confirmed difference; 0 where none is confirmed."""
        return 0 if not self.confirmed else 1 if self.ci_low > 0 else -1


def bootstrap_ci(diff, resamples=RESAMPLES, seed=SEED, confidence=CONFIDENCE, chunk=250):
    """Percentile bootstrap interval ``(low, high)`` of the mean of ``diff``."""
    diff = np.asarray(diff, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, resamples, chunk):  # bounded memory for long test sets
        size = min(chunk, resamples - start)
        means.append(diff[rng.integers(0, len(diff), size=(size, len(diff)))].mean(axis=1))
    means = np.concatenate(means)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def wilcoxon_p(diff):
    """Two-sided p of the Wilcoxon signed-rank test; 1.0 when every difference is zero."""
    from scipy.stats import wilcoxon

    diff = np.asarray(diff, dtype=np.float64)
    if not np.any(diff != 0):
        return 1.0
    return float(wilcoxon(diff, zero_method="wilcox", alternative="two-sided").pvalue)


def compare(system, baseline, resamples=RESAMPLES, seed=SEED, confidence=CONFIDENCE):
    """``Paired`` statistics of ``system - baseline`` over the utterances both scored (not NaN)."""
    system = np.asarray(system, dtype=np.float64)
    baseline = np.asarray(baseline, dtype=np.float64)
    if system.shape != baseline.shape or system.ndim != 1:
        raise KdError(f"paired scores need equal 1-D lengths, got {system.shape} and {baseline.shape}")
    valid = ~(np.isnan(system) | np.isnan(baseline))
    system, baseline = system[valid], baseline[valid]
    n = len(system)
    if n == 0:
        nan = float("nan")
        return Paired(0, nan, nan, nan, nan, nan, nan)
    diff = system - baseline
    if n < 2:
        low = high = p = float("nan")
    else:
        low, high = bootstrap_ci(diff, resamples, seed, confidence)
        p = wilcoxon_p(diff)
    return Paired(n, float(system.mean()), float(baseline.mean()), float(diff.mean()), low, high, p)


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
