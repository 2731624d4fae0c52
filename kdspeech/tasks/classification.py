"""Clip classification: cached log-mel features of a data dir's utterances and their class index.

Features come from a dump made by ``kdspeech.bin.dump_feats`` (``feats.npy`` ``[N, frames, mels]``
plus ``utts.txt``), one dump per sample rate, so training never recomputes the front end.  Options:

    data:
      feats: dump/feats/1000           # the student's view ("input")
      views: {input_16k: dump/feats/16000}   # extra views for teachers (TeacherSet ``input``)
      classes: null                    # class list file (default <data dir>/classes.txt)

Items: ``input`` [frames, mels], ``target`` (class index), ``key`` (the utterance id: features are
deterministic, so teacher outputs can be cached or precomputed by key) and every extra view.

Validation evaluation: ``accuracy``, ``macro_accuracy`` and ``macro_f1`` of the predicted classes
(``kdspeech.metrics.classification``).
"""

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from kdspeech.data.datadir import DataDir
from kdspeech.errors import KdError
from kdspeech.tasks import TASKS, Task

OPTIONS = {"feats": None, "views": {}, "classes": None}


def read_classes(path):
    path = Path(path)
    if not path.exists():
        raise KdError("class list not found (one class name per line)", path=path)
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(set(names)) != len(names):
        raise KdError("class list has duplicate names", path=path)
    return names


class FeatDump:
    """A feature dump: ``feats.npy`` (memory-mapped) and the utterance of each row (``utts.txt``)."""

    def __init__(self, path):
        self.path = Path(path)
        for name in ("feats.npy", "utts.txt"):
            if not (self.path / name).exists():
                raise KdError(f"feature dump has no {name} (is the dump stage finished?)", path=self.path)
        self.feats = np.load(self.path / "feats.npy", mmap_mode="r")
        utts = (self.path / "utts.txt").read_text().split()
        if len(utts) != len(self.feats):
            raise KdError(f"utts.txt lists {len(utts)} utterances, feats.npy has {len(self.feats)} rows",
                          path=self.path)
        self.row = {u: i for i, u in enumerate(utts)}

    def get(self, utt):
        if utt not in self.row:
            raise KdError(f"utterance {utt} is not in the feature dump", path=self.path)
        return torch.from_numpy(np.array(self.feats[self.row[utt]], dtype=np.float32))


class ClassificationDataset(Dataset):
    options = OPTIONS   # the data options and their defaults (config key data:)

    def __init__(self, data_dir, feats=None, views=None, classes=None, train=True, seed=1):
        self.dir = DataDir(data_dir)
        self.dir.validate()
        if not feats:
            raise KdError("classification needs data.feats (a dump of kdspeech.bin.dump_feats)")
        self.classes = read_classes(classes or Path(data_dir) / "classes.txt")
        index = {c: i for i, c in enumerate(self.classes)}
        labels = self.dir.read("utt2label")
        self.utts = self.dir.utts
        self.target = {}
        for u in self.utts:
            if u not in labels:
                raise KdError(f"utterance {u} has no label", path=f"{data_dir}/utt2label")
            if labels[u] not in index:
                raise KdError(f"utterance {u}: label '{labels[u]}' is not in the class list",
                              path=f"{data_dir}/utt2label")
            self.target[u] = index[labels[u]]
        self.input = FeatDump(feats)
        self.views = {key: FeatDump(path) for key, path in (views or {}).items()}

    @classmethod
    def from_config(cls, data_dir, conf, train, seed, where=None):
        unknown = set(conf) - set(OPTIONS)
        if unknown:
            raise KdError(f"classification data options {sorted(unknown)} unknown (known: {sorted(OPTIONS)})",
                          path=where)
        return cls(data_dir, train=train, seed=seed, **{**OPTIONS, **conf})

    def __len__(self):
        return len(self.utts)

    def __getitem__(self, index):
        utt = self.utts[index]
        item = {"input": self.input.get(utt), "target": torch.tensor(self.target[utt]), "key": utt}
        for key, dump in self.views.items():
            item[key] = dump.get(utt)
        return item


@TASKS.register("classification")
class ClassificationTask(Task):
    dataset_class = ClassificationDataset
    metrics = ("accuracy", "macro_accuracy", "macro_f1")
    default_metrics = ("accuracy", "macro_f1")

    def evaluate(self, model, dataset, indices, device, metrics):
        records = []
        for index in indices:
            item = dataset[index]
            logits = next(iter(self.forward_one(model, item, device).values()))
            records.append({"pred": int(logits[0].argmax()), "target": int(item["target"])})
        return records

    def summarize(self, records, metrics, dataset):
        from kdspeech.metrics.classification import summarize

        ref = [r["target"] for r in records]
        hyp = [r["pred"] for r in records]
        figures = summarize(ref, hyp, len(dataset.classes))
        return {name: figures[name] for name in metrics}
