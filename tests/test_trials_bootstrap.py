"""Speaker-bootstrap CIs of EER / MinDCF and paired differences of two systems on the same trials."""

import numpy as np
import pytest

from kdspeech.errors import KdError
from kdspeech.metrics.trials import TrialSpeakers, eer, min_dcf
from kdspeech.metrics.trials_bootstrap import compare_trials, trial_intervals, trial_weights


def trial_list(speakers, per_speaker):
    """Every pair of ``speakers x per_speaker`` utterances: (labels, TrialSpeakers, utterance pairs)."""
    spk = np.repeat(np.arange(speakers), per_speaker)
    i, j = np.triu_indices(len(spk), 1)
    return ((spk[i] == spk[j]).astype(int), TrialSpeakers(tuple(f"s{k:02d}" for k in range(speakers)), spk[i], spk[j]),
            (i, j, spk))


def cosine_scores(pairs, noise, seed, dim=8):
    i, j, spk = pairs
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(100).normal(size=(spk.max() + 1, dim))
    emb = centres[spk] + noise * rng.normal(size=(len(spk), dim))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return np.sum(emb[i] * emb[j], axis=1)


def test_a_trial_counts_once_per_copy_of_its_speaker_or_pair_of_copies():
    # trials: target of A, target of B, non-targets A-B, A-C, B-C
    labels = np.array([1, 1, 0, 0, 0])
    speakers = TrialSpeakers(("A", "B", "C"), np.array([0, 1, 0, 0, 1]), np.array([0, 1, 1, 2, 2]))
    weights = trial_weights([[2, 0, 1], [1, 1, 1], [0, 3, 0]], labels, speakers)
    assert weights.tolist() == [[2, 0, 0, 2, 0], [1, 1, 1, 1, 1], [0, 3, 0, 0, 0]]


def test_errors_of_one_speaker_are_resampled_with_that_speaker():
    # 20 speakers separated perfectly, except that speaker 0's target trials score below every
    # non-target: a resample without speaker 0 (about a third of them) has an EER of 0
    labels, speakers, _ = trial_list(20, 3)
    scores = np.where(labels == 1, 1.0, 0.0)
    scores[(labels == 1) & (speakers.enroll == 0)] = -1.0
    result = trial_intervals(scores, labels, speakers)
    assert result["eer"].value == pytest.approx(eer(scores, labels)) and result["eer"].value > 0
    assert result["eer"].ci_low == 0.0 < result["eer"].value < result["eer"].ci_high
    assert result["eer"].speakers == 20 and result["eer"].resamples == 2000
    assert result["min_dcf"].value == pytest.approx(min_dcf(scores, labels))
    assert trial_intervals(scores, labels, speakers) == result            # seeded: the same numbers again


def test_the_same_ranking_on_another_scale_is_no_difference():
    # collapsed embeddings: scores spread over 0.001 but ranked as the other system's; EER and MinDCF
    # are equal on every resample, so nothing is confirmed whatever the scale
    labels, speakers, pairs = trial_list(12, 4)
    a = cosine_scores(pairs, 0.8, seed=1)
    results = compare_trials(a, 0.5 + 0.001 * a, labels, speakers, seeds=3)
    for result in results.values():
        assert result.mean_diff == 0 and result.ci_low == 0 and result.ci_high == 0 and result.p_value == 1.0
        assert not result.confirmed and result.verdict == "not shown"


def test_a_better_system_over_three_seeds_is_confirmed_with_per_seed_differences():
    labels, speakers, pairs = trial_list(12, 4)
    good = [cosine_scores(pairs, 0.5, seed=s) for s in (1, 2, 3)]
    bad = [cosine_scores(pairs, 1.5, seed=s) for s in (11, 12, 13)]
    result = compare_trials(good, bad, labels, speakers)["eer"]
    per_seed = [eer(g, labels) - eer(b, labels) for g, b in zip(good, bad)]
    assert result.seeds == 3 and result.per_seed == pytest.approx(per_seed)
    assert result.mean_diff == pytest.approx(np.mean(per_seed)) and result.n == 12
    assert result.confirmed and result.direction == -1 and result.p_value < 0.05
    one_seed = compare_trials(good[0], bad[0], labels, speakers)["eer"]
    assert one_seed.seeds == 1 and one_seed.per_seed == () and one_seed.verdict == "one seed: not a verdict"
    pooled = trial_intervals(good, labels, speakers)["eer"]
    assert pooled.value == pytest.approx(np.mean([eer(g, labels) for g in good]))
    assert pooled.ci_low <= pooled.value <= pooled.ci_high


def test_a_teacher_given_once_pairs_with_every_seed_and_other_seed_counts_are_refused():
    labels, speakers, pairs = trial_list(6, 3)
    seeds = [cosine_scores(pairs, 1.0, seed=s) for s in (1, 2, 3)]
    teacher = cosine_scores(pairs, 0.3, seed=9)
    result = compare_trials(seeds, teacher, labels, speakers)["min_dcf"]
    assert result.per_seed == pytest.approx([min_dcf(s, labels) - min_dcf(teacher, labels) for s in seeds])
    with pytest.raises(KdError, match="3 seeds against 2"):
        compare_trials(seeds, seeds[:2], labels, speakers)
    with pytest.raises(KdError, match="expected scores of the 153 trials"):
        trial_intervals(teacher[:-1], labels, speakers)
