"""EER and MinDCF against hand computations on small trial lists."""

import numpy as np
import pytest

from kdspeech.errors import KdError
from kdspeech.metrics.trials import (eer, error_rates, min_dcf, read_trial_list, read_trial_speakers,
                                     read_trials)


def test_perfectly_separated_trials_have_zero_eer_and_min_dcf():
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    labels = np.array([0, 0, 0, 1, 1])
    assert eer(scores, labels) == 0.0
    assert min_dcf(scores, labels) == 0.0


def test_eer_where_the_rates_meet_exactly():
    # targets 0.9, 0.4; non-targets 0.6, 0.1: accepting >= 0.6 misses 0.4 (1/2) and accepts 0.6 (1/2)
    assert eer([0.9, 0.4, 0.6, 0.1], [1, 1, 0, 0]) == pytest.approx(0.5)


def test_eer_interpolates_between_operating_points():
    # sorted: 1 n, 2 t, 2.5 n, 3 t, 4 t, 5 t.  Accepting >= 2.5: miss 1/4, false alarm 1/2;
    # accepting >= 3: miss 1/4, false alarm 0.  The segment between crosses miss = fa at 0.25.
    scores = [2, 3, 4, 5, 1, 2.5]
    labels = [1, 1, 1, 1, 0, 0]
    assert eer(scores, labels) == pytest.approx(0.25)
    # MinDCF (P_target 0.01): at ">= 3" the cost is 0.01 * 1/4 = 0.0025, normalised by 0.01 -> 0.25;
    # every other threshold costs more (accept-all 0.99 -> 99, reject-all -> 1)
    assert min_dcf(scores, labels) == pytest.approx(0.25)
    # with P_target 0.5 the false alarms weigh as much: min over thresholds of (miss + fa) / 2 / 0.5
    # = min(1, 0.5, 0.75, 0.25, 0.5, 0.75, 1) = 0.25 at ">= 3"
    assert min_dcf(scores, labels, p_target=0.5) == pytest.approx(0.25)


def test_tied_scores_move_together():
    # a target and a non-target share 0.5: no threshold separates them
    p_thr, p_miss, p_fa = error_rates([0.5, 0.5, 0.9, 0.1], [1, 0, 1, 0])
    assert list(p_miss) == [0.0, 0.0, 0.5, 1.0] and list(p_fa) == [1.0, 0.5, 0.0, 0.0]
    assert eer([0.5, 0.5, 0.9, 0.1], [1, 0, 1, 0]) == pytest.approx(0.25)


def test_min_dcf_of_a_useless_system_is_at_most_one():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal(2000)
    labels = rng.integers(0, 2, 2000)
    assert 0.9 < min_dcf(scores, labels) <= 1.0
    assert eer(scores, labels) == pytest.approx(0.5, abs=0.05)


def test_min_dcf_costs_and_prior_by_hand():
    # one target at 0.3, three non-targets at 0.1, 0.2, 0.4; C_miss = 10, C_fa = 1, P_target = 0.1
    # thresholds: accept all (miss 0, fa 1), >= 0.2 (0, 2/3), >= 0.3 (0, 1/3), >= 0.4 (1, 1/3), none (1, 0)
    # cost = 10 * 0.1 * miss + 1 * 0.9 * fa; default cost min(1.0, 0.9) = 0.9
    costs = [0.9, 0.6, 0.3, 1.3, 1.0]
    assert min_dcf([0.3, 0.1, 0.2, 0.4], [1, 0, 0, 0], p_target=0.1, c_miss=10, c_fa=1) == \
        pytest.approx(min(costs) / 0.9)


def test_bad_trial_lists_are_clear_errors(tmp_path):
    with pytest.raises(KdError, match="both target and non-target"):
        eer([0.1, 0.2], [1, 1])
    with pytest.raises(KdError, match="labels must be 1"):
        eer([0.1, 0.2], [1, 2])
    trials, scores = tmp_path / "trials", tmp_path / "scores"
    trials.write_text("a b target\na c nontarget\n")
    scores.write_text("a b 2.5\n")
    with pytest.raises(KdError, match="1 trial.*no score \\(e.g. a c, .*trials:2\\)"):
        read_trials(trials, scores)
    scores.write_text("a b 2.5\na c x\n")
    with pytest.raises(KdError, match="scores:2: expected"):
        read_trials(trials, scores)
    scores.write_text("a b 2.5\na c -1\n")
    values, labels, n = read_trials(trials, scores)
    assert values.tolist() == [2.5, -1.0] and labels.tolist() == [1, 0] and n == 2
    scores.write_text("a b 2.5\na c -1\na b 3\n")
    with pytest.raises(KdError, match="scores:3: 'a b' is scored twice \\(also .*scores:1\\)"):
        read_trials(trials, scores)
    scores.write_text("a b 2.5\na c -1\nc a 3\n")
    with pytest.raises(KdError, match="scores:3: 'c a' is not a trial of"):
        read_trials(trials, scores)


@pytest.mark.parametrize("second, kind", [("a b target", "repeats"), ("b a target", "swaps"),
                                          ("a b nontarget", "contradicts"), ("1 b a", "swaps"),
                                          ("0 a b", "contradicts")])
def test_a_pair_listed_twice_is_an_error_naming_both_lines(tmp_path, second, kind):
    trials = tmp_path / "trials"
    trials.write_text(f"a b target\na c nontarget\n\n{second}\n")
    with pytest.raises(KdError) as err:
        read_trial_list(trials)
    message = str(err.value)
    assert message.startswith(f"{trials}:4: trial ") and f"{kind} the trial 'a b target' of {trials}:1" in message


def test_weighted_trials_count_as_repeated_trials():
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=200), 1)          # ties across labels too
    labels = rng.integers(0, 2, 200)
    weights = rng.integers(0, 4, size=(6, 200))
    batch_eer, batch_dcf = eer(scores, labels, weights=weights), min_dcf(scores, labels, weights=weights)
    for row, e, d in zip(weights, batch_eer, batch_dcf):
        assert e == pytest.approx(eer(np.repeat(scores, row), np.repeat(labels, row)), abs=1e-12)
        assert d == pytest.approx(min_dcf(np.repeat(scores, row), np.repeat(labels, row)), abs=1e-12)
    assert eer(scores, labels, weights=np.ones(200)) == eer(scores, labels)
    no_targets = np.where(labels == 1, 0, 1)[None]
    assert np.isnan(eer(scores, labels, weights=no_targets)).all()


def test_trial_speakers_come_from_the_utt2spk_beside_the_trials(tmp_path):
    (tmp_path / "utt2spk").write_text("a1 A\na2 A\nb1 B\n")
    trials = tmp_path / "trials"
    trials.write_text("a1 a2 target\na1 b1 nontarget\n")
    speakers = read_trial_speakers(trials)
    assert speakers.names == ("A", "B") and speakers.enroll.tolist() == [0, 0] and speakers.test.tolist() == [0, 1]
    trials.write_text("a1 a2 target\na2 b1 target\n")
    with pytest.raises(KdError, match=r"trials:2: trial 'a2 b1 target': .*utt2spk gives speakers 'A' and 'B'"):
        read_trial_speakers(trials)
    trials.write_text("a1 a2 target\na2 zz nontarget\n")
    with pytest.raises(KdError, match=r"trials:2: .* names utterance 'zz', which has no speaker"):
        read_trial_speakers(trials)
