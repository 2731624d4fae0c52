"""Verification metrics from a trial list: equal error rate and minimum detection cost.

``scores``: one score per trial, higher meaning "same speaker"; ``labels``: 1 for a target trial, 0
for a non-target one.  A trial is accepted when its score is at or above the threshold; every
threshold between consecutive scores is considered, plus accept-all and reject-all.

- ``eer``: the error rate where the miss rate equals the false-alarm rate, linearly interpolated
  between the two operating points where they cross (a fraction, not %).
- ``min_dcf``: ``min over thresholds of (C_miss P_miss P_target + C_fa P_fa (1 - P_target)) /
  min(C_miss P_target, C_fa (1 - P_target))``, the normalised detection cost of NIST SRE and the
  VoxCeleb challenges (P_target 0.01, C_miss = C_fa = 1 by default); 1.0 is the cost of a system
  that always gives the same answer.

Both take optional ``weights``: how many times each trial counts, ``[N]`` or a batch ``[R, N]`` (one
row per bootstrap resample, ``kdspeech.metrics.trials_bootstrap``); a batch gives one value per row,
NaN for a row with no target or no non-target weight.

Trial lists are read here and nowhere else (``read_trial_list``): a pair listed twice, also swapped
or with the other label, is an error naming both lines.
"""

from typing import NamedTuple

import numpy as np

from kdspeech.errors import KdError


class Trial(NamedTuple):
    enroll: str
    test: str
    label: int   # 1 target, 0 non-target
    line: int    # line of the trial file


def _check(scores, labels):
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if scores.shape != labels.shape:
        raise KdError(f"{len(scores)} scores but {len(labels)} labels")
    if not np.all(np.isin(labels, (0, 1))):
        raise KdError("labels must be 1 (target) or 0 (non-target)")
    if not np.all(np.isfinite(scores)):
        raise KdError("trial scores must be finite numbers")
    labels = labels.astype(bool)
    if labels.all() or not labels.any():
        raise KdError("a trial list needs both target and non-target trials")
    return scores, labels


def error_rates(scores, labels, weights=None):
    """``(thresholds, miss rates, false-alarm rates)`` from accept-all to reject-all; with ``weights``
    ``[..., N]`` the rates are ``[..., thresholds]`` (trials counted that many times)."""
    scores, labels = _check(scores, labels)
    order = np.argsort(scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    keep = np.concatenate([[True], scores[1:] != scores[:-1], [True]])  # equal scores move together
    thresholds = np.concatenate([scores, [np.inf]])[keep]
    # the threshold just above sorted position i rejects trials 0..i: how many targets / non-targets is that
    before = np.flatnonzero(keep)
    targets, nontargets = np.flatnonzero(labels), np.flatnonzero(~labels)
    targets_before, nontargets_before = np.searchsorted(targets, before), np.searchsorted(nontargets, before)
    if weights is None:
        misses, rejected = targets_before.astype(np.float64), nontargets_before.astype(np.float64)
        total_t, total_n = float(len(targets)), float(len(nontargets))
    else:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape[-1:] != scores.shape or np.any(weights < 0):
            raise KdError(f"trial weights must be >= 0 and [..., {len(scores)}], got {weights.shape}")
        misses, total_t = _cumulative(weights[..., order[targets]], targets_before)
        rejected, total_n = _cumulative(weights[..., order[nontargets]], nontargets_before)
    with np.errstate(invalid="ignore", divide="ignore"):  # no weight in a class: NaN rates
        return thresholds, misses / total_t, (total_n - rejected) / total_n


def _cumulative(weights, counts):
    """Sums of the first ``counts`` weights (along the last axis), and the total."""
    cum = np.zeros(weights.shape[:-1] + (weights.shape[-1] + 1,))
    np.cumsum(weights, axis=-1, out=cum[..., 1:])
    return cum[..., counts], cum[..., -1:]


def _value(x):
    return float(x) if np.ndim(x) == 0 else x


def eer_from_rates(p_miss, p_fa):
    """EER of the operating points ``error_rates`` gives (along the last axis)."""
    i = np.argmax(p_miss >= p_fa, axis=-1)[..., None]  # first point where misses catch up with false alarms
    before = np.maximum(i - 1, 0)
    m0, f0 = np.take_along_axis(p_miss, before, -1)[..., 0], np.take_along_axis(p_fa, before, -1)[..., 0]
    m1, f1 = np.take_along_axis(p_miss, i, -1)[..., 0], np.take_along_axis(p_fa, i, -1)[..., 0]
    gap_before, gap_after = f0 - m0, m1 - f1
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(gap_before + gap_after > 0, gap_before / (gap_before + gap_after), 0.0)
    out = np.where(i[..., 0] == 0, f1, m0 + t * (m1 - m0))
    return _value(np.where(np.isnan(p_miss[..., 0]) | np.isnan(p_fa[..., 0]), np.nan, out))


def min_dcf_from_rates(p_miss, p_fa, p_target=0.01, c_miss=1.0, c_fa=1.0):
    """MinDCF of the operating points ``error_rates`` gives (along the last axis)."""
    cost = c_miss * p_miss * p_target + c_fa * p_fa * (1.0 - p_target)
    return _value(cost.min(axis=-1) / min(c_miss * p_target, c_fa * (1.0 - p_target)))


def eer(scores, labels, weights=None):
    """Equal error rate (fraction) of the trials; one per row of ``weights`` ``[R, N]``."""
    return eer_from_rates(*error_rates(scores, labels, weights)[1:])


def min_dcf(scores, labels, p_target=0.01, c_miss=1.0, c_fa=1.0, weights=None):
    """Minimum normalised detection cost over all thresholds; one per row of ``weights`` ``[R, N]``."""
    return min_dcf_from_rates(*error_rates(scores, labels, weights)[1:], p_target, c_miss, c_fa)


FROM_RATES = {"eer": eer_from_rates, "min_dcf": min_dcf_from_rates}


def compute(names, scores, labels, weights=None):
    """``{name: value}`` for ``eer`` / ``min_dcf`` in ``names`` on one trial list (one operating curve
    for all of them); with ``weights`` ``[R, N]``, ``{name: [R]}``."""
    _, p_miss, p_fa = error_rates(scores, labels, weights)
    return {name: FROM_RATES[name](p_miss, p_fa) for name in names}


def score_family(names, utt):
    raise KdError(f"{', '.join(names)}: trial metrics need a trial list, not one utterance")


def read_trial_list(path):
    """``[Trial(enroll, test, 1|0, line)]`` from a trial list in either common layout: Kaldi's
    ``<enroll> <test> target|nontarget`` (or 1|0 last) or VoxCeleb's ``<1|0> <enroll> <test>``.

    One pair, one trial: the same pair twice, the swapped pair, or a pair listed once as target and
    once as non-target is an error naming both lines (nothing is merged)."""
    trials, seen = [], {}
    for number, fields in _lines(path):
        if len(fields) == 3 and fields[2] in ("target", "nontarget", "1", "0"):
            trial = Trial(fields[0], fields[1], int(fields[2] in ("target", "1")), number)
        elif len(fields) == 3 and fields[0] in ("1", "0"):
            trial = Trial(fields[1], fields[2], int(fields[0]), number)
        else:
            raise KdError("expected '<enroll> <test> target|nontarget' or '<1|0> <enroll> <test>'", path, number)
        key = tuple(sorted((trial.enroll, trial.test)))
        if key in seen:
            first = seen[key]
            kind = ("contradicts" if first.label != trial.label else
                    "swaps" if first.enroll != trial.enroll else "repeats")
            raise KdError(f"trial '{_show(trial)}' {kind} the trial '{_show(first)}' of {path}:{first.line}: "
                          "one pair, one trial (remove one of the two lines)", path, number)
        seen[key] = trial
        trials.append(trial)
    if not trials:
        raise KdError("no trials", path)
    return trials


class TrialSpeakers(NamedTuple):
    names: tuple          # speaker ids (sorted)
    enroll: np.ndarray    # per trial, index in ``names`` of its enrolment speaker
    test: np.ndarray      # per trial, index in ``names`` of its test speaker


def trial_speakers(trials, utt2spk, trials_path="trials", utt2spk_path="utt2spk"):
    """The enrolment and test speaker of each trial (``utt2spk``: ``{utt: speaker}``).  A trial naming
    an utterance that ``utt2spk`` lacks, a target trial of two speakers or a non-target trial of one
    speaker is an error naming the trial's line."""
    sides = []
    for trial in trials:
        pair = []
        for utt in (trial.enroll, trial.test):
            if utt not in utt2spk:
                raise KdError(f"trial '{_show(trial)}' names utterance '{utt}', which has no speaker in "
                              f"{utt2spk_path}", trials_path, trial.line)
            pair.append(utt2spk[utt])
        if (pair[0] == pair[1]) != bool(trial.label):
            raise KdError(f"trial '{_show(trial)}': {utt2spk_path} gives speakers '{pair[0]}' and '{pair[1]}'",
                          trials_path, trial.line)
        sides.append(pair)
    names = tuple(sorted({s for pair in sides for s in pair}))
    index = {s: i for i, s in enumerate(names)}
    ids = np.array([[index[a], index[b]] for a, b in sides], dtype=np.int64).reshape(-1, 2)
    return TrialSpeakers(names, ids[:, 0], ids[:, 1])


def read_trial_speakers(trials_path, trials=None, utt2spk_path=None):
    """``trial_speakers`` of a trial list with the ``utt2spk`` of its data dir (the file beside it,
    unless ``utt2spk_path``)."""
    import os

    from kdspeech.data.datadir import read_kv

    trials = read_trial_list(trials_path) if trials is None else trials
    utt2spk_path = utt2spk_path or os.path.join(os.path.dirname(str(trials_path)), "utt2spk")
    return trial_speakers(trials, read_kv(utt2spk_path), trials_path, utt2spk_path)


def _show(trial):
    return f"{trial.enroll} {trial.test} {'target' if trial.label else 'nontarget'}"


def read_scores(scores_path, trials, trials_path="trials"):
    """Scores of ``trials`` (``read_trial_list``), in trial order, from a ``<enroll> <test> <score>``
    file: every trial needs exactly one score, and a score of a pair that is not a trial is an error."""
    wanted = {(t.enroll, t.test): t for t in trials}
    scores, where = {}, {}
    for number, fields in _lines(scores_path):
        try:
            if len(fields) != 3:
                raise ValueError
            pair, value = (fields[0], fields[1]), float(fields[2])
        except ValueError:
            raise KdError("expected '<enroll> <test> <score>'", scores_path, number) from None
        if pair in where:
            raise KdError(f"'{' '.join(pair)}' is scored twice (also {scores_path}:{where[pair]})",
                          scores_path, number)
        if pair not in wanted:
            raise KdError(f"'{' '.join(pair)}' is not a trial of {trials_path} (scores of another trial "
                          "list? score again)", scores_path, number)
        scores[pair], where[pair] = value, number
    missing = [t for t in trials if (t.enroll, t.test) not in scores]
    if missing:
        raise KdError(f"{len(missing)} trial(s) of {trials_path} have no score (e.g. "
                      f"{missing[0].enroll} {missing[0].test}, {trials_path}:{missing[0].line}); score again",
                      scores_path)
    return np.array([scores[(t.enroll, t.test)] for t in trials])


def read_trials(trials_path, scores_path):
    """``(scores, labels, n_trials)`` from a trial list (``read_trial_list``) and its scores
    (``read_scores``)."""
    trials = read_trial_list(trials_path)
    scores = read_scores(scores_path, trials, trials_path)
    return scores, np.array([t.label for t in trials]), len(trials)


def _lines(path):
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line.split()
    except OSError as err:
        raise KdError(f"cannot read: {err}", path) from None
