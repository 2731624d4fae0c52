"""On-the-fly personalized-enhancement examples: the ``on_the_fly`` data option of the enhancement tasks.

    data:
      segment: 160000            # samples per example (required > 0)
      sr: 16000
      enroll_emb: exp/enroll_emb.npz   # teacher embeddings of the enrolment clips, keyed by SPEAKER
      on_the_fly:
        interferers: data/sources_train   # interfering speech (wav.scp + utt2spk); null: the sources
        noises: data/noise_train          # needed when a category has noise
        rirs: data/rirs                   # null: no reverberation
        categories: {noise: 0.2, interf: 0.3, both: 0.5}
        snr: {mean: 5, std: 10, min: -5, max: 40}
        sir: {mean: 5, std: 10, min: -5, max: 30}
        rir_prob: 0.5
        early_ms: 50
        peak: 0.99
        items_per_epoch: null    # null: one example per source utterance
        strict_rate: false       # true: audio at another rate than data.sr is an error

The data dir given to the trainer is then a *sources* dir (target speech, wav.scp + utt2spk;
``kdspeech.bin.split_sources`` makes the train/valid halves and the enrolment dir).  A data dir that
is already mixed (it has ``spk1.scp``, e.g. the fixed validation set of ``kdspeech.bin.mix_pse``) is
read as it is by ``EnhancementDataset``, so one data config serves both.  Item ``index`` of epoch
``e`` is ``PseMixer(seed, e, index)`` (``kdspeech.data.pse_mixer``); with ``train=False`` the epoch is
always 0: a fixed set.  Items: ``input`` (mixture), ``target``, ``enroll_emb`` (the target speaker's
row of the table: by speaker, never by utterance, so an example never carries the embedding of its
own target utterance), ``snr`` (target against everything else, dB; +inf never occurs since every
category has a disturbance).  Audio at another sample rate than ``sr`` is resampled (soxr) with a
warning, unless ``strict_rate``.
"""

import logging
from collections import OrderedDict

import numpy as np
import torch
from torch.utils.data import Dataset

from kdspeech.data.datadir import DataDir
from kdspeech.data.pse_mixer import DEFAULTS as MIXER_DEFAULTS, Pool, PseMixer
from kdspeech.data.resample import resample
from kdspeech.errors import KdError

log = logging.getLogger("kdspeech.pse_data")
OPTIONS = {"interferers": None, "noises": None, "rirs": None, "items_per_epoch": None,
           "strict_rate": False, **MIXER_DEFAULTS}


class DirLoader:
    """``utt -> float32 [T]`` of a data dir at rate ``sr`` (picklable, for DataLoader workers); the
    last ``cache`` files are kept (noises and RIRs are read again and again)."""

    def __init__(self, path, sr, strict_rate=False, cache=0):
        self.data, self.sr, self.strict, self.cache = DataDir(path), int(sr), strict_rate, cache
        self.kept, self.warned = OrderedDict(), set()

    def __call__(self, utt):
        if utt in self.kept:
            self.kept.move_to_end(utt)
            return self.kept[utt]
        x, rate = self.data.load_audio(utt)
        if rate != self.sr:
            if self.strict:
                raise KdError(f"utterance '{utt}' is at {rate} Hz, not data.sr {self.sr} "
                              "(resample the dir, or strict_rate: false)", path=self.data.file("wav.scp"))
            if rate not in self.warned:
                self.warned.add(rate)
                log.warning("%s: audio at %d Hz resampled to %d Hz on the fly", self.data.path, rate, self.sr)
            x = resample(x, rate, self.sr)
        if x.size == 0:
            raise KdError(f"utterance '{utt}' has no samples", path=self.data.file("wav.scp"))
        if self.cache:
            self.kept[utt] = x
            if len(self.kept) > self.cache:
                self.kept.popitem(last=False)
        return x


def dir_pool(path, sr, speech, strict_rate=False, cache=0):
    """A ``Pool`` of a data dir; speech pools need ``utt2spk``."""
    data = DataDir(path).validate()
    speakers = None
    if speech:
        if not data.has("utt2spk"):
            raise KdError("speech sources need utt2spk (the speaker of every utterance)",
                          path=data.file("utt2spk"))
        speakers = data.read("utt2spk")
    return Pool(data.utts, DirLoader(path, sr, strict_rate, cache), speakers, str(data.path))


def build_mixer(sources, conf, segment, sr, where=None):
    """The ``PseMixer`` of a sources dir and an ``on_the_fly`` block (``OPTIONS``)."""
    unknown = set(conf) - set(OPTIONS)
    if unknown:
        raise KdError(f"data.on_the_fly options {sorted(unknown)} unknown (known: {sorted(OPTIONS)})",
                      path=where)
    conf = {**OPTIONS, **conf}
    strict = bool(conf["strict_rate"])
    targets = dir_pool(sources, sr, True, strict)
    interferers = dir_pool(conf["interferers"], sr, True, strict) if conf["interferers"] else targets
    noises = dir_pool(conf["noises"], sr, False, strict, cache=32) if conf["noises"] else None
    rirs = dir_pool(conf["rirs"], sr, False, strict, cache=32) if conf["rirs"] else None
    options = {k: conf[k] for k in MIXER_DEFAULTS}
    return PseMixer(targets, segment, sr, interferers, noises, rirs, options, where=where)


def speaker_embeddings(path, speakers):
    """``{speaker: tensor}`` from an npz table keyed by speaker; a missing speaker is an error."""
    from kdspeech.tasks.enhancement import read_npz_table

    table = read_npz_table(path)
    missing = sorted(set(speakers) - set(table))
    if missing:
        raise KdError(f"{len(missing)} target speaker(s) have no enrolment embedding, first "
                      f"'{missing[0]}' (the table must be keyed by speaker)", path=path)
    return {s: torch.from_numpy(table[s]) for s in set(speakers)}


class OnTheFlyPseDataset(Dataset):
    def __init__(self, data_dir, on_the_fly, segment=16384, sr=16000, train=True, seed=1,
                 enroll_emb=None, where=None):
        if not enroll_emb:
            raise KdError("on-the-fly personalized enhancement needs data.enroll_emb (a table keyed "
                          "by speaker)", path=where)
        if not segment or int(segment) <= 0:
            raise KdError("data.on_the_fly needs data.segment > 0 (samples per example)", path=where)
        self.mixer = build_mixer(data_dir, dict(on_the_fly), int(segment), int(sr), where)
        self.sr, self.segment, self.train, self.seed, self.epoch = int(sr), int(segment), train, int(seed), 0
        self.enroll_emb = speaker_embeddings(enroll_emb, self.mixer.targets.speakers.values())
        n = on_the_fly.get("items_per_epoch")
        self.length = int(n) if n else len(self.mixer.targets.ids)
        if self.length <= 0:
            raise KdError(f"items_per_epoch must be > 0, got {n}", path=where)

    personalized = True

    @classmethod
    def from_config(cls, data_dir, conf, train, seed, where=None):
        if conf.get("enroll_segment"):
            raise KdError("data.on_the_fly gives enroll_emb only (enroll_segment needs a mixed dir "
                          "with utt2enroll)", path=where)
        return cls(data_dir, conf["on_the_fly"], conf["segment"], conf["sr"], train, seed,
                   conf.get("enroll_emb"), where)

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        return self.length

    def item_seconds(self):
        """``[(name, seconds)]``: every mixture is ``segment`` samples long."""
        return [(f"item {i}", self.segment / self.sr) for i in range(self.length)]

    def __getitem__(self, index):
        epoch = self.epoch if self.train else 0
        ex = self.mixer(self.seed, epoch, index)
        return {
            "input": torch.from_numpy(np.ascontiguousarray(ex.mixture, dtype=np.float32)),
            "target": torch.from_numpy(np.ascontiguousarray(ex.target, dtype=np.float32)),
            "enroll_emb": self.enroll_emb[ex.speaker],
            "snr": torch.tensor(ex.params["input_snr"], dtype=torch.float32),
            "key": f"{ex.params['target']}@e{epoch}i{index}",
        }
