"""compare_rate: the paired difference of two corpus error rates (ratio of sums), its bootstrap CI over
utterances, speakers and training seeds, and the Wilcoxon test on per-utterance error counts."""

import numpy as np
import pytest

from kdspeech.errors import KdError
from kdspeech.metrics import paired
from kdspeech.metrics.paired_rate import compare_rate, compare_rate_maps
from kdspeech.metrics.transcript import corpus_rate


def test_rates_are_ratios_of_sums_not_means_of_ratios():
    # one long utterance the system gets better, three one-word ones it gets wrong
    lengths = [20, 1, 1, 1]
    system, baseline = [2, 1, 1, 1], [10, 0, 0, 0]
    result = compare_rate(system, baseline, lengths)
    assert result.mean_system == pytest.approx(5 / 23) and result.mean_baseline == pytest.approx(10 / 23)
    assert result.mean_diff == pytest.approx(corpus_rate(system, lengths) - corpus_rate(baseline, lengths))
    assert result.mean_diff < 0   # better by corpus WER ...
    assert np.mean(np.divide(system, lengths)) > np.mean(np.divide(baseline, lengths))   # ... worse by mean of ratios
    assert result.n == 4 and result.seeds == 1 and result.per_seed == ()
    assert result.p_value == pytest.approx(paired.wilcoxon_p(np.subtract(system, baseline)))


def test_bootstrap_matches_an_index_resampling_bootstrap():
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 25, 300)
    baseline = rng.binomial(lengths, 0.3)
    system = rng.binomial(lengths, 0.25)
    result = compare_rate(system, baseline, lengths)
    draws = rng.integers(0, 300, size=(4000, 300))          # the textbook bootstrap, another stream
    diffs = (system[draws].sum(1) - baseline[draws].sum(1)) / lengths[draws].sum(1)
    low, high = np.percentile(diffs, [2.5, 97.5])
    assert result.ci_low == pytest.approx(low, abs=0.004) and result.ci_high == pytest.approx(high, abs=0.004)
    assert result.ci_low < result.mean_diff < result.ci_high < 0
    assert compare_rate(system, baseline, lengths) == result   # a fixed seed: the same interval every time


def test_speakers_are_resampled_with_all_their_utterances():
    rng = np.random.default_rng(5)
    speakers = np.repeat(np.arange(20), 10)
    lengths = rng.integers(5, 15, 200)
    effect = rng.normal(0, 0.15, 20)[speakers]       # the system helps some speakers and hurts others
    baseline = rng.binomial(lengths, 0.3)
    system = rng.binomial(lengths, np.clip(0.3 + effect, 0, 1))
    by_utt = compare_rate(system, baseline, lengths)
    by_spk = compare_rate(system, baseline, lengths, groups=speakers)
    assert by_spk.mean_diff == by_utt.mean_diff and by_spk.p_value == by_utt.p_value
    assert by_spk.ci_high - by_spk.ci_low > 1.5 * (by_utt.ci_high - by_utt.ci_low)
    maps = compare_rate_maps(dict(enumerate(system)), dict(enumerate(baseline)), dict(enumerate(lengths)),
                             groups=dict(enumerate(speakers)))
    assert maps == by_spk
    with pytest.raises(KdError, match="no group"):
        compare_rate_maps({0: 1, 1: 2}, {0: 1, 1: 1}, {0: 3, 1: 3}, groups={0: "a"})


def test_training_seeds_are_resampled_before_utterances():
    rng = np.random.default_rng(7)
    lengths = rng.integers(5, 15, 200)
    noisy = rng.binomial(lengths, 0.4)
    seeds = np.stack([rng.binomial(lengths, p) for p in (0.20, 0.30, 0.35)])   # the seeds disagree
    result = compare_rate(seeds, noisy, lengths)          # one untrained baseline for every seed
    assert result.seeds == 3 and len(result.per_seed) == 3
    assert result.mean_system == pytest.approx(seeds.sum() / (3 * lengths.sum()))
    assert result.per_seed == pytest.approx([corpus_rate(s, lengths) - corpus_rate(noisy, lengths) for s in seeds])
    assert result.p_value == pytest.approx(paired.wilcoxon_p(seeds.mean(0) - noisy))
    pooled_once = compare_rate(seeds.mean(0), noisy, lengths)   # the seed spread ignored
    assert result.mean_diff == pytest.approx(pooled_once.mean_diff)
    assert result.ci_high - result.ci_low > 2 * (pooled_once.ci_high - pooled_once.ci_low)
    # a baseline trained at the same seeds is matched row by row
    matched = compare_rate(seeds, seeds - 1, lengths)
    assert matched.per_seed == pytest.approx([1 / lengths.mean()] * 3)
    one_run = compare_rate(np.ones(200), np.zeros(200), lengths)   # the same difference at every seed
    assert matched.ci_low == pytest.approx(one_run.ci_low, abs=0.003)
    assert matched.ci_high == pytest.approx(one_run.ci_high, abs=0.003)
    with pytest.raises(KdError, match="seeds"):
        compare_rate(seeds, seeds[:2], lengths)


def test_undefined_and_malformed_inputs():
    nan = float("nan")
    result = compare_rate([1, nan, 2], [2, 1, 2], [3, 3, 4])
    assert result.n == 2 and result.mean_system == pytest.approx(3 / 7)
    one = compare_rate([1], [2], [3])
    assert one.n == 1 and np.isnan(one.ci_low) and np.isnan(one.p_value)
    assert compare_rate([], [], []).n == 0
    with pytest.raises(KdError, match="same utterances"):
        compare_rate([1, 2], [1, 2, 3], [1, 2])
    with pytest.raises(KdError, match="different references"):
        compare_rate_maps({"a": 1}, {"a": 2}, [{"a": 4}, {"a": 5}])
