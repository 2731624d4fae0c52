"""The seeded personalized-enhancement mixer: proportions, distributions, determinism, exact levels."""

import math

import numpy as np
import pytest
from scipy import stats

from kdspeech.data.pse_mixer import Pool, PseMixer, truncnorm_from_uniform
from kdspeech.errors import KdError

SR, SEG = 8000, 4000


def speech_pool(n_spk=4, n_utt=3, seed=0, name="speech"):
    rng = np.random.default_rng(seed)
    audio, spk = {}, {}
    for s in range(n_spk):
        for u in range(n_utt):
            key = f"spk{s}_u{u}"
            length = 2500 if u == 0 else 6000 + 500 * u          # u0 is shorter than a segment
            audio[key] = (0.1 * rng.standard_normal(length)).astype(np.float32)
            spk[key] = f"spk{s}"
    return Pool(list(audio), audio.__getitem__, spk, name), audio


def noise_pool(seed=1):
    rng = np.random.default_rng(seed)
    audio = {f"n{i}": (0.2 * rng.standard_normal(1500 + 3000 * i)).astype(np.float32) for i in range(3)}
    return Pool(list(audio), audio.__getitem__, None, "noises")


def rir_pool():
    t = np.arange(1200)
    rir = {f"r{i}": np.r_[np.zeros(20 + 10 * i), 0.8, 0.3 * np.exp(-t / (150 + 50 * i))].astype(np.float32)
           for i in range(2)}
    return Pool(list(rir), rir.__getitem__, None, "rirs"), rir


@pytest.fixture
def mixer():
    targets, _ = speech_pool()
    return PseMixer(targets, SEG, SR, interferers=targets, noises=noise_pool(), rirs=rir_pool()[0])


def test_category_proportions_within_binomial_error(mixer):
    n = 4000
    cats = [mixer.draw(7, 0, i)["category"] for i in range(n)]
    for cat, p in {"noise": 0.2, "interf": 0.3, "both": 0.5}.items():
        k = cats.count(cat)
        assert abs(k - n * p) <= 4 * math.sqrt(n * p * (1 - p)), (cat, k)


def test_snr_sir_follow_their_truncated_gaussians(mixer):
    draws = [mixer.draw(3, 1, i) for i in range(4000)]
    for name, (mean, std, low, high) in {"snr": (5, 10, -5, 40), "sir": (5, 10, -5, 30)}.items():
        x = np.array([d[name] for d in draws if not math.isnan(d[name])])
        assert x.min() >= low and x.max() <= high
        dist = stats.truncnorm((low - mean) / std, (high - mean) / std, loc=mean, scale=std)
        # mean within 4 standard errors, and the whole shape (KS) not rejected at 1e-4
        assert abs(x.mean() - dist.mean()) <= 4 * dist.std() / math.sqrt(len(x)), name
        assert stats.kstest(x, dist.cdf).pvalue > 1e-4, name
    # SNR exists exactly where there is noise, SIR where there is an interferer
    for d in draws:
        assert math.isnan(d["snr"]) == (d["category"] == "interf")
        assert math.isnan(d["sir"]) == (d["category"] == "noise")


def test_truncation_bounds_hold_far_from_the_mean():
    u = np.linspace(0, 1, 1001, endpoint=False)
    x = np.array([truncnorm_from_uniform(v, 30.0, 5.0, -5.0, 0.0) for v in u])
    assert x.min() >= -5.0 and x.max() <= 0.0 and x[-1] > -0.1   # mass piles up at the upper bound
    assert truncnorm_from_uniform(0.3, 7.0, 0.0, -5.0, 5.0) == 5.0


def test_same_seed_epoch_index_same_example_other_epoch_differs(mixer):
    a, b = mixer(5, 2, 9), mixer(5, 2, 9)
    assert np.array_equal(a.mixture, b.mixture) and np.array_equal(a.target, b.target)
    assert a.params == b.params
    other = mixer(5, 3, 9)
    assert not np.array_equal(a.mixture, other.mixture)
    fresh = PseMixer(speech_pool()[0], SEG, SR, interferers=speech_pool()[0], noises=noise_pool(),
                     rirs=rir_pool()[0])                                   # a resumed process
    assert np.array_equal(fresh(5, 2, 9).mixture, a.mixture)


def test_targets_balanced_and_interferer_is_another_speaker(mixer):
    n = len(mixer.targets.ids)
    for epoch in (0, 1):
        seen = [mixer.draw(1, epoch, i)["target"] for i in range(n)]
        assert sorted(seen) == sorted(mixer.targets.ids)
    for i in range(500):
        d = mixer.draw(2, 0, i)
        if d["interferer"] is not None:
            assert mixer.interferers.speakers[d["interferer"]] != d["speaker"]


def energy_db(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return 10 * math.log10(np.sum(a * a) / np.sum(b * b))


def test_achieved_snr_and_sir_equal_the_drawn_values(mixer):
    for i in range(60):
        ex = mixer(11, 0, i)
        p, parts = ex.params, ex.parts
        assert ex.mixture.shape == ex.target.shape == (SEG,)
        assert np.allclose(ex.mixture, parts["speech"] + parts["interference"] + parts["noise"], atol=1e-6)
        if p["noise"] is not None:
            assert abs(energy_db(parts["speech"], parts["noise"]) - p["snr"]) < 1e-3
        else:
            assert not np.any(parts["noise"])
        if p["interferer"] is not None:
            assert abs(energy_db(parts["speech"], parts["interference"]) - p["sir"]) < 1e-3
        else:
            assert not np.any(parts["interference"])
        rest = parts["interference"] + parts["noise"]
        assert abs(energy_db(parts["speech"], rest) - p["input_snr"]) < 1e-3
        if p["rir_target"] is None:
            assert np.array_equal(ex.target, parts["speech"])   # dry target is what is mixed


def test_reverberant_target_is_the_early_part():
    targets, audio = speech_pool()
    rirs, rir = rir_pool()
    m = PseMixer(targets, SEG, SR, noises=noise_pool(), rirs=rirs,
                 options={"categories": {"noise": 1.0}, "rir_prob": 1.0, "early_ms": 20})
    ex = m(1, 0, 4)
    p = ex.params
    src = audio[p["target"]]
    start = int(p["target_pos"] * (len(src) - SEG + 1)) if len(src) >= SEG else 0
    dry = np.pad(src[start:start + SEG], (0, max(0, SEG - len(src))))
    h = rir[p["rir_target"]] / np.max(np.abs(rir[p["rir_target"]]))
    early = h[:int(np.argmax(np.abs(h))) + int(0.020 * SR) + 1]
    g = p["gain"]
    assert np.allclose(ex.parts["speech"], g * np.convolve(dry, h)[:SEG], atol=1e-5)
    assert np.allclose(ex.target, g * np.convolve(dry, early)[:SEG], atol=1e-5)


def test_short_source_is_zero_padded_and_clipping_is_guarded():
    targets, _ = speech_pool()
    loud = {k: (0.95 * np.sign(np.sin(np.arange(len(v)) / 3.0))).astype(np.float32)
            for k, v in speech_pool()[1].items()}
    m = PseMixer(Pool(list(loud), loud.__getitem__, targets.speakers, "loud"), SEG, SR,
                 noises=noise_pool(), options={"categories": {"noise": 1.0},
                                               "snr": {"mean": 0, "std": 0, "min": 0, "max": 0}})
    for i in range(len(targets.ids)):
        ex = m(1, 0, i)
        assert np.max(np.abs(ex.mixture)) <= 0.99 + 1e-6 and ex.params["gain"] < 1
        assert abs(energy_db(ex.parts["speech"], ex.parts["noise"])) < 1e-3
        assert np.allclose(ex.target, ex.parts["speech"])
        if ex.params["target"].endswith("_u0"):                       # 2500 samples -> padded
            assert not np.any(ex.target[2500:]) and np.any(ex.target[:2500])


def test_bad_pools_are_errors():
    targets, audio = speech_pool(n_spk=1)
    with pytest.raises(KdError, match="other than 'spk0'"):
        PseMixer(targets, SEG, SR, interferers=targets, options={"categories": {"interf": 1.0}}).draw(1, 0, 0)
    with pytest.raises(KdError, match="need a noise data dir"):
        PseMixer(targets, SEG, SR, interferers=targets)
    empty = dict(audio, spk0_u1=np.zeros(0, np.float32))
    m = PseMixer(Pool(list(empty), empty.__getitem__, targets.speakers, "data/src"), SEG, SR,
                 noises=noise_pool(), options={"categories": {"noise": 1.0}})
    with pytest.raises(KdError, match="'spk0_u1' has no samples") as err:
        for i in range(3):
            m(1, 0, i)
    assert "data/src" in str(err.value)
    with pytest.raises(KdError, match="unknown"):
        PseMixer(targets, SEG, SR, noises=noise_pool(), options={"snr_mean": 3})
