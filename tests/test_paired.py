"""Paired statistics: Wilcoxon signed-rank p-values and bootstrap CIs against hand computations."""

import math

import numpy as np
import pytest

from kdspeech.errors import KdError
from kdspeech.metrics.paired import (
    bootstrap_ci, compare, compare_maps, compare_rows, format_diff, format_p, paired_compare, wilcoxon_p,
)


def test_all_positive_differences_give_the_exact_small_p():
    # 8 positive differences of distinct sizes: W- = 0, the exact two-sided p = 2 / 2^8
    base = np.zeros(8)
    system = np.arange(1, 9) / 10.0
    result = compare(system, base)
    assert result.p_value == pytest.approx(2 / 2 ** 8)
    assert result.mean_diff == pytest.approx(0.45)
    assert result.significant


def test_symmetric_differences_are_not_significant():
    # ranks 1..6 with signs + - + - + -: W+ = 1 + 3 + 5 = 9 = W-: the middle of the distribution
    diff = np.array([1, -2, 3, -4, 5, -6], dtype=float)
    assert wilcoxon_p(diff) > 0.5
    assert wilcoxon_p(np.zeros(5)) == 1.0  # nothing differs at all


def test_bootstrap_ci_of_a_constant_difference_is_that_constant():
    system = np.array([2.5, 3.0, 1.0, 4.0])
    result = compare(system, system - 0.125)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.125, 0.125))
    assert result.mean_diff == pytest.approx(0.125)


def test_bootstrap_ci_is_seeded_and_covers_the_mean_as_theory_says():
    rng = np.random.default_rng(1)
    diff = rng.normal(0.3, 1.0, 400)
    low, high = bootstrap_ci(diff, seed=0)
    assert (low, high) == bootstrap_ci(diff, seed=0)  # reproducible
    # the percentile interval is about mean +- 1.96 * sd / sqrt(n)
    half = 1.96 * diff.std(ddof=1) / math.sqrt(len(diff))
    assert low == pytest.approx(diff.mean() - half, abs=0.03)
    assert high == pytest.approx(diff.mean() + half, abs=0.03)


def test_nan_pairs_are_dropped_and_rows_are_matched_by_utterance():
    system = {"a": {"m": 1.0}, "b": {"m": float("nan")}, "c": {"m": 3.0}, "x": {"m": 9.0}}
    baseline = {"a": {"m": 0.5}, "b": {"m": 1.0}, "c": {"m": 2.0}, "y": {"m": 0.0}}
    result = compare_rows(system, baseline, "m")
    assert result.n == 2  # a and c: b has a NaN, x and y are not in both
    assert result.mean_diff == pytest.approx(0.75)
    assert result.mean_system == pytest.approx(2.0) and result.mean_baseline == pytest.approx(1.25)


def test_formatting():
    result = compare(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 0.0]))
    assert format_p(0.0004) == "<0.001" and format_p(0.0312) == "0.031" and format_p(float("nan")) == "-"
    text = format_diff(result)
    assert text.startswith("+2.000 [+") and text.endswith("]")
    single = compare(np.array([1.0]), np.array([0.0]))  # one pair: no test, no interval
    assert math.isnan(single.p_value) and math.isnan(single.ci_low) and format_diff(single) == "+1.000"


def test_paired_compare_dict_is_a_minus_b():
    out = paired_compare([3.0, 4.0, 5.0], [1.0, 1.0, 1.0])
    assert out["n"] == 3 and out["mean_diff"] == pytest.approx(3.0)
    assert out["ci_low"] >= 2.0 and out["ci_high"] <= 4.0
    assert out["p_wilcoxon"] == pytest.approx(0.25)  # 3 positive ranks: exact two-sided 2 / 2^3


def test_make_results_cls_pairs_clips_over_folds(tmp_path):
    from kdspeech.report.cls_paired import paired_section

    def write(model, fold, correct):
        path = tmp_path / f"fold{fold}" / model / "score_1000" / "scores.tsv"
        path.parent.mkdir(parents=True)
        path.write_text("utt\treference\tprediction\tcorrect\n"
                        + "".join(f"c{i}\tdog\tdog\t{c}\n" for i, c in enumerate(correct)))

    # fine-tuned right on 2 + 2 of 10 clips, CSSD right on those and 2 more per fold, BASD = fine-tuned
    for fold in (1, 2):
        write("ft_1000", fold, [1, 1, 0, 0, 0])
        write("cssd_1000", fold, [1, 1, 1, 1, 0])
        write("basd_1000", fold, [1, 1, 0, 0, 0])
    text = paired_section(tmp_path, ["1", "2"], [1000],
                          {"ft": "ft_{r}", "basd": "basd_{r}", "cssd": "cssd_{r}"})
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| 1 kHz")}
    # CSSD - FT: 4 of 10 clips gained, none lost: +40 points, exact Wilcoxon p = 2 / 2^4
    assert "| 10 | 40.000 | 80.000 | +40.0 [" in rows["cssd - ft"] and rows["cssd - ft"].endswith("| 0.125 | one seed: not a verdict |")
    assert "| +0.0 [+0.0, +0.0] | - | 1.000 |" in rows["basd - ft"]  # identical systems
    assert "-40.0" not in text and "+40.0" in rows["cssd - basd"]


# --- training seeds: the rule of issue 18 ---------------------------------------------------------

def _runs(means, n=60, noise=0.05, seed=3):
    """Per-utterance differences of one system against a zero baseline at several training seeds:
    seed k's differences scatter around means[k]."""
    rng = np.random.default_rng(seed)
    return np.stack([m + noise * rng.standard_normal(n) for m in means])


def test_one_seed_is_not_a_verdict_however_clear_the_utterance_test():
    result = compare(np.arange(1, 31) / 10.0, np.zeros(30))
    assert result.significant and result.p_value < 0.001
    assert result.seeds == 1 and not result.confirmed and result.direction == 0
    assert result.verdict == "one seed: not a verdict"
    assert compare(np.ones(5), np.zeros(5), seeds=2).verdict == "2 seeds: not a verdict"


def test_untrained_systems_are_judged_on_the_utterances_alone():
    result = compare(np.arange(1, 31) / 10.0, np.zeros(30), seeds=0)
    assert result.confirmed and result.verdict == "confirmed" and result.direction == 1


def test_three_seeds_agreeing_confirm_and_list_their_differences():
    runs = _runs([0.17, 0.12, 0.2])
    result = compare(runs, np.zeros(runs.shape[1]))   # a 1-D baseline serves every seed
    assert result.seeds == 3 and result.n == 60
    assert [round(d, 2) for d in result.per_seed] == [round(d, 2) for d in runs.mean(axis=1)]
    assert result.confirmed and result.verdict == "confirmed"
    assert result.ci_low > 0


def test_a_seed_that_disagrees_stops_the_verdict_the_pooled_utterances_would_give():
    # the PSE case: +0.17 at seed 1, -0.065 and -0.03 at seeds 2 and 3, small utterance noise
    runs = _runs([0.171, -0.065, -0.032], noise=0.02)
    result = compare(runs, np.zeros(runs.shape[1]))
    assert wilcoxon_p(runs.mean(axis=0)) < 0.05      # the utterance test alone would "confirm"
    assert result.ci_low < 0 < result.ci_high         # the seed resampling does not
    assert not result.confirmed and result.verdict == "not shown"


def test_seed_rows_are_matched_and_nan_at_any_seed_drops_the_utterance():
    system = np.array([[1.0, 2.0, np.nan, 4.0], [1.5, 2.5, 3.0, 4.5], [1.0, 2.0, 3.0, 4.0]])
    baseline = system - 1.0
    result = compare(system, baseline)
    assert result.n == 3 and result.per_seed == (1.0, 1.0, 1.0)
    assert (result.ci_low, result.ci_high) == pytest.approx((1.0, 1.0))


def test_hierarchical_bootstrap_is_seeded_and_one_row_equals_the_utterance_bootstrap():
    runs = _runs([0.1, 0.3, 0.2], noise=0.5)
    assert bootstrap_ci(runs) == bootstrap_ci(runs)
    one = compare(runs[:1], np.zeros((1, runs.shape[1])))
    assert (one.ci_low, one.ci_high) == bootstrap_ci(runs[0])
    # the seed spread widens the interval beyond the utterance-only one of the pooled differences
    low, high = bootstrap_ci(runs)
    pooled_low, pooled_high = bootstrap_ci(runs.mean(axis=0))
    assert high - low > pooled_high - pooled_low


def test_compare_maps_pairs_seed_lists_on_common_utterances():
    sys_maps = [{"a": 2.0, "b": 3.0, "c": 9.0}, {"a": 2.5, "b": 3.5}]
    base = {"a": 1.0, "b": 1.0, "z": 0.0}
    result = compare_maps(sys_maps, base)
    assert result.n == 2 and result.seeds == 2
    assert result.per_seed == pytest.approx((1.5, 2.0))
    with pytest.raises(KdError):
        compare(np.zeros((2, 3)), np.zeros((3, 3)))
