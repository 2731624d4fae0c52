"""Seeded mixer of personalized-enhancement examples: target speech + interfering speaker and/or noise.

Every example is a function of ``(seed, epoch, index)`` only, so an on-the-fly training epoch is the
same after a resume and a fixed validation or test set can be written with the same code
(``kdspeech.bin.mix_pse``).  All random numbers of an example are drawn up front as 11 uniforms
(``draw``), before any audio is read; ``render`` turns them into audio.

* category: ``noise`` (target + noise), ``interf`` (target + another speaker) or ``both``, with the
  probabilities of ``categories`` (default 0.2 / 0.3 / 0.5);
* target utterance: every source once per ``len(targets)`` consecutive indices (a seeded permutation
  per round), crop of ``segment`` samples at a uniform offset; a shorter utterance is zero-padded at
  the end (its energy, hence the SNR, is unchanged);
* interferer: an utterance of a speaker other than the target's, uniformly among them, cropped or
  padded like the target; noise: uniformly among the noise files, looped when shorter
  (``kdspeech.data.mix.fit_length``);
* SNR (target vs noise) and SIR (target vs interferer) in dB from truncated Gaussians (``snr``,
  ``sir``: mean, std, min, max; sampled by inverse CDF, so the bounds hold exactly).  Defaults are
  our choice (the paper defers to pDeepFilterNet2, whose values we could not check): SNR N(5, 10)
  in [-5, 40], SIR N(5, 10) in [-5, 30];
* reverberation with probability ``rir_prob`` (when a RIR pool is given): the target and the
  interferer get independent RIRs of the pool (each scaled to a peak of 1).  The training target is
  then the *early* part of the reverberant target (the RIR up to ``early_ms`` after its main peak,
  DNS-challenge style), so it stays time-aligned with the mixture and the model learns to remove
  late reverberation only; without RIR the target is the dry crop.

SNR and SIR are measured, as in ``kdspeech.data.mix``, on whole-segment energies, against the target
*as it is in the mixture* (reverberant when reverberated).  ``input_snr`` of an example is the target
against everything else (interferer + noise): what ``utt2snr`` of a written set holds.  A mixture
louder than ``peak`` is scaled down, with its target and every part, by one factor.
"""

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

from kdspeech.data.mix import avoid_clipping, energy, fit_length, mix_at_snr, offset_at, snr_db
from kdspeech.errors import KdError

CATEGORIES = ("noise", "interf", "both")
DEFAULTS = {
    "categories": {"noise": 0.2, "interf": 0.3, "both": 0.5},
    "snr": {"mean": 5.0, "std": 10.0, "min": -5.0, "max": 40.0},
    "sir": {"mean": 5.0, "std": 10.0, "min": -5.0, "max": 30.0},
    "rir_prob": 0.5,
    "early_ms": 50.0,
    "peak": 0.99,
}
# Positions of the uniforms of one example (``draw``).
U_CAT, U_TPOS, U_IPICK, U_IPOS, U_NPICK, U_NPOS, U_SNR, U_SIR, U_RIR, U_RIR_T, U_RIR_I = range(11)


def truncnorm_from_uniform(u, mean, std, low, high):
    """Inverse CDF of N(mean, std^2) truncated to [low, high] at ``u`` in [0, 1) (std 0: the mean,
    clipped)."""
    if std == 0:
        return float(min(max(mean, low), high))
    a, b = ndtr((low - mean) / std), ndtr((high - mean) / std)
    x = mean + std * float(ndtri(a + float(u) * (b - a)))
    return float(min(max(x, low), high))


def check_options(opts, where=None):
    """``DEFAULTS`` updated with ``opts``; unknown keys or impossible values are a ``KdError``."""
    unknown = set(opts) - set(DEFAULTS)
    if unknown:
        raise KdError(f"mixer options {sorted(unknown)} unknown (known: {sorted(DEFAULTS)})", path=where)
    out = {**DEFAULTS, **opts}
    cats = {**{c: 0.0 for c in CATEGORIES}, **(out["categories"] or {})}
    if set(cats) - set(CATEGORIES) or any(float(p) < 0 for p in cats.values()) or sum(cats.values()) <= 0:
        raise KdError(f"categories {out['categories']} must give non-negative weights to "
                      f"{', '.join(CATEGORIES)} (at least one positive)", path=where)
    total = sum(float(p) for p in cats.values())
    out["categories"] = {c: float(cats[c]) / total for c in CATEGORIES}
    for name in ("snr", "sir"):
        dist = {**DEFAULTS[name], **(out[name] or {})}
        if set(dist) != set(DEFAULTS[name]):
            raise KdError(f"{name} needs exactly {sorted(DEFAULTS[name])}, got {sorted(dist)}", path=where)
        dist = {k: float(v) for k, v in dist.items()}
        if not (dist["std"] >= 0 and dist["min"] <= dist["max"]):
            raise KdError(f"{name} needs std >= 0 and min <= max, got {dist}", path=where)
        out[name] = dist
    if not 0.0 <= float(out["rir_prob"]) <= 1.0 or float(out["early_ms"]) < 0 or float(out["peak"]) <= 0:
        raise KdError("rir_prob must be in [0, 1], early_ms >= 0 and peak > 0", path=where)
    return out


@dataclass
class Pool:
    """Sorted ids, their speakers (``None``: not speech), and ``load(id) -> float32 [T]`` at the
    mixer's sample rate.  ``name`` (a data dir) is what errors name."""
    ids: list
    load: callable
    speakers: dict = None
    name: str = ""

    def __post_init__(self):
        self.ids = sorted(self.ids)
        if self.speakers is not None:   # grouped by speaker: one speaker's utterances are contiguous
            self.ids.sort(key=lambda u: (self.speakers[u], u))
            self.block = {}
            for i, u in enumerate(self.ids):
                first, _ = self.block.get(self.speakers[u], (i, i))
                self.block[self.speakers[u]] = (first, i + 1)

    def audio(self, key):
        x = np.asarray(self.load(key), dtype=np.float32)
        if x.ndim != 1 or x.size == 0:
            raise KdError(f"'{key}' has no samples (or is not mono)", path=self.name or None)
        return x


@dataclass
class PseExample:
    mixture: np.ndarray
    target: np.ndarray
    speaker: str
    params: dict
    parts: dict = field(default_factory=dict)   # speech (as mixed), interference, noise: scaled


class PseMixer:
    """Draws and renders examples from the pools; ``mixer(seed, epoch, index)`` does both."""

    def __init__(self, targets, segment, sr, interferers=None, noises=None, rirs=None, options=None,
                 where=None):
        self.opts = check_options(options or {}, where)
        self.targets, self.interferers, self.noises, self.rirs = targets, interferers, noises, rirs
        self.segment, self.sr = int(segment), int(sr)
        if self.segment <= 0:
            raise KdError(f"the mixer needs a segment length > 0 samples, got {segment}", path=where)
        if not targets.ids or targets.speakers is None:
            raise KdError("the target pool needs utterances and their speakers (utt2spk)",
                          path=targets.name or where)
        cats = self.opts["categories"]
        if cats["noise"] + cats["both"] > 0 and not (noises and noises.ids):
            raise KdError("categories with noise need a noise data dir", path=where)
        if cats["interf"] + cats["both"] > 0:
            if not (interferers and interferers.ids) or interferers.speakers is None:
                raise KdError("categories with an interferer need interfering speech with utt2spk",
                              path=(interferers.name if interferers else None) or where)
        self.use_rir = bool(rirs and rirs.ids) and self.opts["rir_prob"] > 0

    @functools.lru_cache(maxsize=4)
    def _round(self, seed, epoch, rnd):
        return np.random.default_rng([seed, epoch, rnd, 1]).permutation(len(self.targets.ids))

    def draw(self, seed, epoch, index):
        """The parameters of example ``index`` (a dict of ids, fractions and dB; no audio read)."""
        u = np.random.default_rng([int(seed), int(epoch), int(index)]).random(11)
        n = len(self.targets.ids)
        target = self.targets.ids[self._round(int(seed), int(epoch), int(index) // n)[int(index) % n]]
        speaker = self.targets.speakers[target]
        cum = np.cumsum([self.opts["categories"][c] for c in CATEGORIES])
        category = CATEGORIES[min(int(np.searchsorted(cum, u[U_CAT] * cum[-1], side="right")), 2)]
        p = {"category": category, "target": target, "speaker": speaker, "target_pos": u[U_TPOS],
             "interferer": None, "interf_pos": None, "sir": math.nan,
             "noise": None, "noise_pos": None, "snr": math.nan, "rir_target": None, "rir_interf": None}
        if category in ("interf", "both"):
            p["interferer"] = self._other_speaker(speaker, u[U_IPICK])
            p["interf_pos"], p["sir"] = u[U_IPOS], truncnorm_from_uniform(u[U_SIR], **self._dist("sir"))
        if category in ("noise", "both"):
            ids = self.noises.ids
            p["noise"] = ids[min(int(u[U_NPICK] * len(ids)), len(ids) - 1)]
            p["noise_pos"], p["snr"] = u[U_NPOS], truncnorm_from_uniform(u[U_SNR], **self._dist("snr"))
        if self.use_rir and u[U_RIR] < self.opts["rir_prob"]:
            ids = self.rirs.ids
            p["rir_target"] = ids[min(int(u[U_RIR_T] * len(ids)), len(ids) - 1)]
            if p["interferer"] is not None:
                p["rir_interf"] = ids[min(int(u[U_RIR_I] * len(ids)), len(ids) - 1)]
        return p

    def _dist(self, name):
        d = self.opts[name]
        return {"mean": d["mean"], "std": d["std"], "low": d["min"], "high": d["max"]}

    def _other_speaker(self, speaker, u):
        pool = self.interferers
        first, stop = pool.block.get(speaker, (0, 0))
        count = len(pool.ids) - (stop - first)
        if count <= 0:
            raise KdError(f"no interfering speech of a speaker other than '{speaker}'", path=pool.name or None)
        k = min(int(u * count), count - 1)
        return pool.ids[k if k < first else k + (stop - first)]

    def _speech(self, pool, key, pos):
        x = pool.audio(key)
        if len(x) < self.segment:
            return np.pad(x, (0, self.segment - len(x)))
        start = offset_at(len(x), self.segment, pos)
        return x[start:start + self.segment]

    def _reverb(self, x, key, early=False):
        h = self.rirs.audio(key)
        h = h / np.float32(np.max(np.abs(h)))
        if early:
            h = h[:int(np.argmax(np.abs(h))) + int(round(self.opts["early_ms"] * self.sr / 1000)) + 1]
        from scipy.signal import fftconvolve
        return fftconvolve(x, h)[:len(x)].astype(np.float32)

    def render(self, p):
        """``PseExample`` of the parameters ``p`` of ``draw``."""
        who = f"example of target '{p['target']}'"
        dry = self._speech(self.targets, p["target"], p["target_pos"])
        speech, target = dry, dry
        if p["rir_target"] is not None:
            speech, target = self._reverb(dry, p["rir_target"]), self._reverb(dry, p["rir_target"], True)
        rest = np.zeros(self.segment, np.float32)
        parts = {"speech": speech, "interference": rest, "noise": rest}
        try:
            if p["interferer"] is not None:
                other = self._speech(self.interferers, p["interferer"], p["interf_pos"])
                if p["rir_interf"] is not None:
                    other = self._reverb(other, p["rir_interf"])
                _, parts["interference"] = mix_at_snr(speech, other, p["sir"])
            if p["noise"] is not None:
                noise = self.noises.audio(p["noise"])
                segment = fit_length(noise, self.segment, offset=offset_at(len(noise), self.segment, p["noise_pos"]))
                _, parts["noise"] = mix_at_snr(speech, segment, p["snr"])
        except KdError as err:
            raise KdError(f"{who} (interferer {p['interferer']}, noise {p['noise']}): {err}",
                          path=self.targets.name or None) from None
        mixture = speech + parts["interference"] + parts["noise"]
        signals, factor = avoid_clipping(mixture, target, *parts.values(), peak=self.opts["peak"])
        mixture, target = signals[0], signals[1]
        parts = dict(zip(parts, signals[2:]))
        disturbance = parts["interference"] + parts["noise"]
        params = {**p, "input_snr": float(snr_db(parts["speech"], disturbance)) if energy(disturbance) > 0
                  else math.inf, "gain": float(factor)}
        return PseExample(mixture.astype(np.float32), target.astype(np.float32), p["speaker"], params, parts)

    def __call__(self, seed, epoch, index):
        return self.render(self.draw(seed, epoch, index))
