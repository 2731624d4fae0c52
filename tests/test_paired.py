"""Paired statistics: Wilcoxon signed-rank p-values and bootstrap CIs against hand computations."""

import math

import numpy as np
import pytest

from kdspeech.metrics.paired import (
    bootstrap_ci, compare, compare_rows, format_diff, format_p, paired_compare, wilcoxon_p,
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
    assert "| 10 | 40.000 | 80.000 | +40.0 [" in rows["cssd - ft"] and rows["cssd - ft"].endswith("| 0.125 |")
    assert "| +0.0 [+0.0, +0.0] | 1.000 |" in rows["basd - ft"]  # identical systems
    assert "-40.0" not in text and "+40.0" in rows["cssd - basd"]
