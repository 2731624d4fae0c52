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
"""

import numpy as np

from kdspeech.errors import KdError


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


def error_rates(scores, labels):
    """``(thresholds, miss rates, false-alarm rates)`` from accept-all to reject-all."""
    scores, labels = _check(scores, labels)
    order = np.argsort(scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    targets, nontargets = labels.sum(), (~labels).sum()
    # threshold just above position i rejects trials 0..i: misses = targets among them
    misses = np.concatenate([[0], np.cumsum(labels)])
    false_alarms = nontargets - np.concatenate([[0], np.cumsum(~labels)])
    keep = np.concatenate([[True], scores[1:] != scores[:-1], [True]])  # equal scores move together
    thresholds = np.concatenate([scores, [np.inf]])[keep]
    return thresholds, misses[keep] / targets, false_alarms[keep] / nontargets


def eer(scores, labels):
    """Equal error rate (fraction) of the trials."""
    _, p_miss, p_fa = error_rates(scores, labels)
    i = int(np.argmax(p_miss >= p_fa))  # first point where misses catch up with false alarms
    if i == 0:
        return float(p_fa[0])
    gap_before = p_fa[i - 1] - p_miss[i - 1]
    gap_after = p_miss[i] - p_fa[i]
    t = gap_before / (gap_before + gap_after) if gap_before + gap_after > 0 else 0.0
    return float(p_miss[i - 1] + t * (p_miss[i] - p_miss[i - 1]))


def min_dcf(scores, labels, p_target=0.01, c_miss=1.0, c_fa=1.0):
    """Minimum normalised detection cost over all thresholds."""
    _, p_miss, p_fa = error_rates(scores, labels)
    cost = c_miss * p_miss * p_target + c_fa * p_fa * (1.0 - p_target)
    return float(cost.min() / min(c_miss * p_target, c_fa * (1.0 - p_target)))


def compute(names, scores, labels):
    """``{name: value}`` for ``eer`` / ``min_dcf`` in ``names`` on one trial list."""
    functions = {"eer": eer, "min_dcf": min_dcf}
    return {name: functions[name](scores, labels) for name in names}


def score_family(names, utt):
    raise KdError(f"{', '.join(names)}: trial metrics need a trial list, not one utterance")


def read_trial_list(path):
    """``[(enroll, test, 1|0)]`` from a trial list in either common layout: Kaldi's
    ``<enroll> <test> target|nontarget`` (or 1|0 last) or VoxCeleb's ``<1|0> <enroll> <test>``."""
    trials = []
    for number, fields in _lines(path):
        if len(fields) == 3 and fields[2] in ("target", "nontarget", "1", "0"):
            trials.append((fields[0], fields[1], int(fields[2] in ("target", "1"))))
        elif len(fields) == 3 and fields[0] in ("1", "0"):
            trials.append((fields[1], fields[2], int(fields[0])))
        else:
            raise KdError("expected '<enroll> <test> target|nontarget' or '<1|0> <enroll> <test>'", path, number)
    if not trials:
        raise KdError("no trials", path)
    return trials


def read_trials(trials_path, scores_path):
    """``(scores, labels, n_trials)`` from a trial list (``read_trial_list``) and a
    ``<enroll> <test> <score>`` file; every trial needs a score (the file and line are named)."""
    labels = {(e, t): label for e, t, label in read_trial_list(trials_path)}
    scores = {}
    for number, fields in _lines(scores_path):
        try:
            scores[(fields[0], fields[1])] = float(fields[2])
            if len(fields) != 3:
                raise ValueError
        except (IndexError, ValueError):
            raise KdError("expected '<enroll> <test> <score>'", scores_path, number) from None
    missing = [pair for pair in labels if pair not in scores]
    if missing:
        raise KdError(f"{len(missing)} trial(s) of {trials_path} have no score (e.g. "
                      f"{' '.join(missing[0])})", scores_path)
    pairs = list(labels)
    return np.array([scores[p] for p in pairs]), np.array([labels[p] for p in pairs]), len(pairs)


def _lines(path):
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line.split()
    except OSError as err:
        raise KdError(f"cannot read: {err}", path) from None
