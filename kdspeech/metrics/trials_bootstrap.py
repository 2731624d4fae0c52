"""Confidence intervals of EER and MinDCF, and paired differences of two systems, by a bootstrap over
speakers.

Trials are not independent: every trial of one speaker shares that speaker's voice, so resampling
trials gives intervals that are too narrow.  The unit resampled here is the speaker.

**Which speakers a trial belongs to.**  A trial belongs to both its enrolment and its test speaker
(``kdspeech.metrics.trials.trial_speakers``, from the ``utt2spk`` of the trial list's data dir).  One
resample draws ``S`` speakers with replacement from the ``S`` speakers of the list, ``c_s`` being the
number of times speaker ``s`` is drawn, and treats each copy of a speaker as a speaker of its own: the
resampled list holds the trials a list over those copies would hold, namely

- a target trial of speaker ``s``: ``c_s`` times (once per copy),
- a non-target trial of speakers ``s`` and ``t``: ``c_s * c_t`` times (once per pair of copies),

so a trial is kept when both its sides are in the resample, with that multiplicity.  EER and MinDCF
are computed on these weighted trials (``kdspeech.metrics.trials`` with ``weights``); a resample with
no target or no non-target trial (possible with very few speakers) is left out, and ``resamples``
says how many were used.  The interval is the percentile interval of ``RESAMPLES`` resamples drawn from
``kdspeech.metrics.paired.SEED``.

**Several training seeds.**  A system may be given as a list of score arrays over the same trials, one
per training seed.  Its figure is then the mean over seeds, and a resample first draws seeds with
replacement, then speakers (the same speaker draw for every seed): the interval covers both the
training-seed spread and the speaker sampling.

**Paired differences** (``compare_trials``): ``system - baseline`` of EER and MinDCF on the same
trials with the same resamples for both systems (the same speaker draws, and, with seeds, the same
seed draws: seed ``i`` of one system is paired with seed ``i`` of the other; a system given once, such
as a fixed pretrained teacher, is paired with every seed of the other).  Each metric's result is a
``kdspeech.metrics.paired.Paired``: ``n`` is the number of speakers, ``mean_system`` /
``mean_baseline`` the two figures (means over seeds), ``per_seed`` each seed's difference, ``seeds``
the training seeds behind it (as in ``kdspeech.metrics.paired.compare``), and ``p_value`` the two-sided
bootstrap p of the same resamples (twice the smaller share of resampled differences at or beyond 0 on
either side, with the usual +1 correction).  That p is not a second, independent test (no Wilcoxon
test over trials, whose dependence is the point here), so for these results ``Paired.confirmed``
amounts to "enough seeds and the speaker-bootstrap CI of the EER (or MinDCF) difference excludes 0",
and ``Paired.verdict`` words it.  Verdicts are on EER and MinDCF differences, never on score margins:
scores of two models are not on one scale, and a score-level test can call a difference of a system
with collapsed embeddings (scores spread over 0.001) significant while its EER says otherwise.
"""

from dataclasses import dataclass

import numpy as np

from kdspeech.errors import KdError
from kdspeech.metrics.paired import CONFIDENCE, RESAMPLES, SEED, Paired
from kdspeech.metrics.trials import compute

METRICS = ("eer", "min_dcf")
_CELLS = 4_000_000  # trial weights held at once (resamples x trials), bounding memory


@dataclass(frozen=True)
class Interval:
    """A figure of one system (the mean over its seeds) with its speaker-bootstrap interval."""
    value: float
    ci_low: float
    ci_high: float
    speakers: int
    resamples: int        # resamples used (those with both target and non-target trials)
    per_seed: tuple = ()  # the figure of each seed, when several


def _score_sets(scores, n_trials, what):
    """One system's scores as a list of ``[N]`` arrays, one per seed: from a list of them, a 2-D array
    ``[seeds, N]`` or one ``[N]`` array."""
    if not isinstance(scores, (list, tuple)):
        scores = np.asarray(scores, dtype=np.float64)
        scores = [scores] if scores.ndim == 1 else list(scores)
    sets = [np.asarray(s, dtype=np.float64) for s in scores]
    if not sets or any(s.shape != (n_trials,) for s in sets):
        raise KdError(f"{what}: expected scores of the {n_trials} trials (or one such array per seed), "
                      f"got {[s.shape for s in sets]}")
    return sets


def _draws(n_speakers, n_seeds, resamples, seed):
    """``(speaker counts [R, S], seed indices [R, n_seeds])`` of every resample; the speaker draws do not
    depend on the number of seeds."""
    speaker_seq, seed_seq = np.random.SeedSequence(seed).spawn(2)
    counts = np.random.default_rng(speaker_seq).multinomial(n_speakers, np.full(n_speakers, 1.0 / n_speakers),
                                                            size=resamples)
    if n_seeds == 1:
        return counts, np.zeros((resamples, 1), dtype=np.int64)
    return counts, np.random.default_rng(seed_seq).integers(0, n_seeds, size=(resamples, n_seeds))


def trial_weights(counts, labels, speakers):
    """``[R, N]`` multiplicity of each trial in each resample, from the speaker counts ``[R, S]``: ``c_s``
    for a target trial of speaker ``s``, ``c_s * c_t`` for a non-target trial of ``s`` and ``t``."""
    counts = np.asarray(counts, dtype=np.float64)
    enrol, test = counts[:, speakers.enroll], counts[:, speakers.test]
    return np.where(np.asarray(labels).astype(bool), enrol, enrol * test)


def _resampled(scores, labels, speakers, counts, metrics):
    """``{metric: [R]}`` of one score array on every resample of ``counts``."""
    out = {m: [] for m in metrics}
    step = max(1, _CELLS // max(1, len(labels)))
    for start in range(0, len(counts), step):
        weights = trial_weights(counts[start:start + step], labels, speakers)
        for m, values in compute(metrics, scores, labels, weights=weights).items():
            out[m].append(values)
    return {m: np.concatenate(v) for m, v in out.items()}


def _table(sets, labels, speakers, counts, metrics):
    """``{metric: (full-data value per seed [k], resampled values [k, R])}``."""
    full = [compute(metrics, s, labels) for s in sets]
    full = {m: np.array([f[m] for f in full]) for m in metrics}
    per_set = [_resampled(s, labels, speakers, counts, metrics) for s in sets]
    return {m: (full[m], np.stack([p[m] for p in per_set])) for m in metrics}


def _pooled(values, seed_draws):
    """Mean over each resample's drawn seeds: ``values`` ``[k, R]``, ``seed_draws`` ``[R, k']``."""
    return values[seed_draws, np.arange(values.shape[1])[:, None]].mean(axis=1)


def _percentiles(values, confidence):
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_p(diffs):
    """Two-sided p of "the difference is 0" from resampled differences (NaN ones left out)."""
    diffs = diffs[~np.isnan(diffs)]
    if not len(diffs):
        return float("nan")
    below = (1 + np.sum(diffs <= 0)) / (len(diffs) + 1)
    above = (1 + np.sum(diffs >= 0)) / (len(diffs) + 1)
    return float(min(1.0, 2.0 * min(below, above)))


def trial_intervals(scores, labels, speakers, metrics=METRICS, resamples=RESAMPLES, seed=SEED,
                    confidence=CONFIDENCE):
    """``{metric: Interval}`` of one system: ``scores`` over the trials (or one array per training seed),
    ``labels`` 1/0, ``speakers`` a ``kdspeech.metrics.trials.TrialSpeakers``."""
    sets = _score_sets(scores, len(labels), "trial_intervals")
    counts, seed_draws = _draws(len(speakers.names), len(sets), resamples, seed)
    out = {}
    for m, (full, values) in _table(sets, labels, speakers, counts, metrics).items():
        pooled = _pooled(values, seed_draws)
        low, high = _percentiles(pooled, confidence) if len(speakers.names) >= 2 else (float("nan"),) * 2
        out[m] = Interval(float(full.mean()), low, high, len(speakers.names), int(np.sum(~np.isnan(pooled))),
                          tuple(float(v) for v in full) if len(sets) > 1 else ())
    return out


def compare_trials(system, baseline, labels, speakers, metrics=METRICS, resamples=RESAMPLES, seed=SEED,
                   confidence=CONFIDENCE, seeds=None):
    """``{metric: Paired}`` of ``system - baseline`` on the same trials (see the module notes).

    ``system`` / ``baseline``: scores over the trials, or a list of such arrays, one per training seed
    (both the same number of seeds, or one of them a single array); ``labels`` 1/0; ``speakers`` a
    ``kdspeech.metrics.trials.TrialSpeakers``.  ``seeds``: the training seeds behind the comparison
    (default: the smaller number of arrays, so a system trained once against one trained three times
    counts as one seed; 0 when neither system was trained here)."""
    a_sets = _score_sets(system, len(labels), "compare_trials (system)")
    b_sets = _score_sets(baseline, len(labels), "compare_trials (baseline)")
    k = max(len(a_sets), len(b_sets))
    if len(a_sets) not in (1, k) or len(b_sets) not in (1, k):
        raise KdError(f"compare_trials: {len(a_sets)} seeds against {len(b_sets)}: give both systems the "
                      "same seeds (or one of them once)")
    n = len(speakers.names)
    counts, seed_draws = _draws(n, k, resamples, seed)
    a_table = _table(a_sets, labels, speakers, counts, metrics)
    b_table = _table(b_sets, labels, speakers, counts, metrics)
    out = {}
    for m in metrics:
        (a_full, a_values), (b_full, b_values) = a_table[m], b_table[m]
        a_full, b_full = np.broadcast_to(a_full, (k,)), np.broadcast_to(b_full, (k,))
        diffs = np.broadcast_to(a_values, (k, len(counts))) - np.broadcast_to(b_values, (k, len(counts)))
        pooled = _pooled(diffs, seed_draws)
        low, high = _percentiles(pooled, confidence) if n >= 2 else (float("nan"),) * 2
        out[m] = Paired(n=n, mean_system=float(a_full.mean()), mean_baseline=float(b_full.mean()),
                        mean_diff=float((a_full - b_full).mean()), ci_low=low, ci_high=high,
                        p_value=bootstrap_p(pooled) if n >= 2 else float("nan"),
                        seeds=min(len(a_sets), len(b_sets)) if seeds is None else int(seeds),
                        per_seed=tuple(float(d) for d in a_full - b_full) if k > 1 else ())
    return out
