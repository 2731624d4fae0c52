"""Speaker embedding: utterances of known speakers; validated by EER / MinDCF on verification trials.

The data dir has ``wav.scp`` and ``utt2spk``; validation dirs also have ``trials`` (Kaldi's
``<enrol utt> <test utt> target|nontarget`` or VoxCeleb's ``<1|0> <enrol utt> <test utt>``).  Training items are two crops of
``segment`` samples of the same utterance, ``input`` and ``input_view2`` (two views for contrastive
losses; the second is drawn independently), ``target`` (the speaker's index among the training
speakers, sorted) and ``key`` (``<utt>@<start of input>``).

``view2: fixed`` makes ``input_view2`` one fixed crop per utterance (placed by the utterance id alone,
the same in every epoch, in validation mode and at every training seed, so that one teacher cache serves
the trainings of all seeds) and ``key`` the utterance id: the view a
frozen teacher reads is then deterministic, so its outputs can be computed once
(``kdspeech.bin.cache_teacher``) and looked up by ``key`` while ``input`` is still cropped anew each
epoch.

Augmentation of the student's view (training only; ``input``, never ``input_view2`` nor evaluation):
``noise: <data dir>`` adds a random excerpt of one of its recordings at an SNR drawn uniformly in
``snr: [low, high]`` dB, ``rir: <data dir>`` convolves with one of its room impulse responses (aligned
on its strongest tap, unit energy, the crop's length kept), each with probability ``aug_prob``; the
draws are seeded by (seed, epoch, example), so a resumed run sees the same augmented inputs.
Evaluation embeds whole utterances (a model's ``emb`` output, else its
primary one) and scores each trial by cosine similarity.
"""

import zlib

import numpy as np
import torch
from torch.utils.data import Dataset

from kdspeech.data.datadir import DataDir
from kdspeech.errors import KdError
from kdspeech.tasks import TASKS, Task

OPTIONS = {"segment": 32000, "sr": 16000, "view2": "random", "noise": None, "snr": [0, 15], "rir": None,
           "aug_prob": 0.5}
VIEW2 = ("random", "fixed")


class SpeakerDataset(Dataset):
    options = OPTIONS   # the data options and their defaults (config key data:)

    def __init__(self, data_dir, segment=32000, sr=16000, train=True, seed=1, view2="random", noise=None,
                 snr=(0, 15), rir=None, aug_prob=0.5):
        if view2 not in VIEW2:
            raise KdError(f"speaker data option view2: '{view2}' is not one of {list(VIEW2)}")
        self.view2 = view2
        if len(snr) != 2 or float(snr[0]) > float(snr[1]):
            raise KdError(f"speaker data option snr: expected [low, high] dB, got {snr}")
        if not 0.0 <= float(aug_prob) <= 1.0:
            raise KdError(f"speaker data option aug_prob: {aug_prob} is not a probability")
        self.snr, self.aug_prob = (float(snr[0]), float(snr[1])), float(aug_prob)
        self.noise = DataDir(noise) if noise and train else None
        self.rir = DataDir(rir) if rir and train else None
        for d in (self.noise, self.rir):
            if d is not None:
                d.validate()
        self._audio_cache = {}
        self.dir = DataDir(data_dir)
        self.dir.validate()
        if not self.dir.has("utt2spk"):
            raise KdError("a speaker data dir needs utt2spk", path=f"{data_dir}/utt2spk")
        self.utts = self.dir.utts
        self.spk = self.dir.read("utt2spk")
        self.speakers = sorted(set(self.spk[u] for u in self.utts))
        self.index = {s: i for i, s in enumerate(self.speakers)}
        self.segment, self.sr, self.train, self.seed, self.epoch = int(segment), int(sr), train, int(seed), 0

    @classmethod
    def from_config(cls, data_dir, conf, train, seed, where=None):
        unknown = set(conf) - set(OPTIONS)
        if unknown:
            raise KdError(f"speaker data options {sorted(unknown)} unknown (known: {sorted(OPTIONS)})", path=where)
        return cls(data_dir, train=train, seed=seed, **{**OPTIONS, **conf})

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.utts)

    def item_seconds(self):
        """``[(utt, seconds)]`` of the items as batched: the crop (``segment``) or whole utterances."""
        if self.segment > 0:
            return [(u, self.segment / self.sr) for u in self.utts]
        return list(self.dir.durations(self.utts).items())

    def _crop(self, wav, index, view, fixed_key=None):
        n = self.segment
        if n <= 0:
            return wav, 0
        if len(wav) <= n:
            return np.pad(wav, (0, n - len(wav))), 0
        if fixed_key is not None:  # the same crop in every epoch and mode, placed by the utterance id
            rng = np.random.default_rng([zlib.crc32(fixed_key.encode("utf-8")), view])
        else:
            rng = np.random.default_rng([self.seed, self.epoch if self.train else 0, index, view])
        start = int(rng.integers(0, len(wav) - n + 1))
        return wav[start:start + n], start

    def _pool_audio(self, pool, utt):
        key = (id(pool), utt)
        if key not in self._audio_cache:
            self._audio_cache[key] = pool.load_audio(utt, sr=self.sr)[0].astype(np.float32)
        return self._audio_cache[key]

    def _augment(self, x, index):
        from scipy.signal import fftconvolve

        from kdspeech.data.mix import energy, fit_length, mix_at_snr

        rng = np.random.default_rng([self.seed, self.epoch, index, 2])
        x = np.asarray(x, np.float32)
        if self.rir is not None and rng.random() < self.aug_prob:
            h = self._pool_audio(self.rir, self.rir.utts[int(rng.integers(len(self.rir.utts)))])
            h = h[int(np.argmax(np.abs(h))):]
            h = h / max(np.sqrt(energy(h)), 1e-12)
            x = fftconvolve(x, h)[:len(x)].astype(np.float32)
        if self.noise is not None and rng.random() < self.aug_prob and energy(x) > 0:
            noise = self._pool_audio(self.noise, self.noise.utts[int(rng.integers(len(self.noise.utts)))])
            piece = fit_length(noise, len(x), rng)
            if energy(piece) > 0:
                x, _ = mix_at_snr(x, piece, rng.uniform(*self.snr))
        return x

    def __getitem__(self, index):
        utt = self.utts[index]
        wav, _ = self.dir.load_audio(utt, sr=self.sr)
        a, start = self._crop(wav, index, 0)
        if self.train and (self.noise is not None or self.rir is not None):
            a = self._augment(a, index)
        fixed = self.view2 == "fixed"
        b, _ = self._crop(wav, index, 1, fixed_key=utt if fixed else None)
        return {"input": torch.from_numpy(np.ascontiguousarray(a, np.float32)),
                "input_view2": torch.from_numpy(np.ascontiguousarray(b, np.float32)),
                "target": torch.tensor(self.index[self.spk[utt]]), "key": utt if fixed else f"{utt}@{start}"}

    def whole(self, index):
        """The whole utterance ``index`` as an item (evaluation)."""
        utt = self.utts[index]
        wav, _ = self.dir.load_audio(utt, sr=self.sr)
        return {"input": torch.from_numpy(np.ascontiguousarray(wav, np.float32)), "key": utt}


def cosine_scores(embeddings, trials):
    """Cosine similarity of each trial's two embeddings; a trial naming an unknown utt is an error."""
    missing = sorted({u for trial in trials for u in trial[:2] if u not in embeddings})
    if missing:
        raise KdError(f"trials name utterances with no embedding: {missing[:3]}")
    def unit(u):
        v = np.asarray(embeddings[u], np.float64)
        return v / max(np.linalg.norm(v), 1e-12)
    return np.array([float(unit(trial[0]) @ unit(trial[1])) for trial in trials])


@TASKS.register("speaker_embedding")
class SpeakerEmbeddingTask(Task):
    dataset_class = SpeakerDataset
    metrics = ("eer", "min_dcf")
    default_metrics = ("eer", "min_dcf")

    def evaluate(self, model, dataset, indices, device, metrics):
        records = []
        for index in indices:
            item = dataset.whole(index)
            outs = self.forward_one(model, item, device)
            emb = outs["emb"] if "emb" in outs else next(iter(outs.values()))
            records.append({"utt": item["key"], "emb": emb[0].detach().cpu().numpy()})
        return records

    def summarize(self, records, metrics, dataset):
        from kdspeech.metrics.trials import eer, min_dcf, read_trial_list

        path = dataset.dir.file("trials")
        if not path.exists():
            raise KdError("speaker evaluation needs a trials file", path=path)
        trials = read_trial_list(path)
        scores = cosine_scores({r["utt"]: r["emb"] for r in records}, trials)
        labels = np.array([t[2] for t in trials])
        figures = {"eer": lambda: eer(scores, labels), "min_dcf": lambda: min_dcf(scores, labels)}
        return {name: float(figures[name]()) for name in metrics}
