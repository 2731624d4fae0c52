"""Speaker embedding: utterances of known speakers; validated by EER / MinDCF on verification trials.

The data dir has ``wav.scp`` and ``utt2spk``; validation dirs also have ``trials`` (Kaldi's
``<enrol utt> <test utt> target|nontarget`` or VoxCeleb's ``<1|0> <enrol utt> <test utt>``).  Training items are two crops of
``segment`` samples of the same utterance, ``input`` and ``input_view2`` (two views for contrastive
losses; the second is drawn independently), ``target`` (the speaker's index among the training
speakers, sorted) and ``key``.  Evaluation embeds whole utterances (a model's ``emb`` output, else its
primary one) and scores each trial by cosine similarity.
"""

import numpy as np
import torch
from torch.utils.data import Dataset

from kdspeech.data.datadir import DataDir
from kdspeech.errors import KdError
from kdspeech.tasks import TASKS, Task

OPTIONS = {"segment": 32000, "sr": 16000}


class SpeakerDataset(Dataset):
    def __init__(self, data_dir, segment=32000, sr=16000, train=True, seed=1):
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

    def _crop(self, wav, index, view):
        n = self.segment
        if n <= 0:
            return wav, 0
        if len(wav) <= n:
            return np.pad(wav, (0, n - len(wav))), 0
        rng = np.random.default_rng([self.seed, self.epoch if self.train else 0, index, view])
        start = int(rng.integers(0, len(wav) - n + 1))
        return wav[start:start + n], start

    def __getitem__(self, index):
        utt = self.utts[index]
        wav, _ = self.dir.load_audio(utt, sr=self.sr)
        a, start = self._crop(wav, index, 0)
        b, _ = self._crop(wav, index, 1)
        return {"input": torch.from_numpy(np.ascontiguousarray(a, np.float32)),
                "input_view2": torch.from_numpy(np.ascontiguousarray(b, np.float32)),
                "target": torch.tensor(self.index[self.spk[utt]]), "key": f"{utt}@{start}"}

    def whole(self, index):
        """The whole utterance ``index`` as an item (evaluation)."""
        utt = self.utts[index]
        wav, _ = self.dir.load_audio(utt, sr=self.sr)
        return {"input": torch.from_numpy(np.ascontiguousarray(wav, np.float32)), "key": utt}


def cosine_scores(embeddings, trials):
    """Cosine similarity of each trial's two embeddings; a trial naming an unknown utt is an error."""
    missing = sorted({u for e, t, _ in trials for u in (e, t) if u not in embeddings})
    if missing:
        raise KdError(f"trials name utterances with no embedding: {missing[:3]}")
    def unit(u):
        v = np.asarray(embeddings[u], np.float64)
        return v / max(np.linalg.norm(v), 1e-12)
    return np.array([float(unit(e) @ unit(t)) for e, t, _ in trials])


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
