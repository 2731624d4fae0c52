"""Speech enhancement: (noisy, clean) pairs from a mixture data dir; personalized enhancement adds
the target speaker's enrolment.

The data dir is what ``kdspeech.bin.mix_data_dir`` writes: ``wav.scp`` (mixture), ``spk1.scp`` (clean)
and ``utt2snr``.  Training items are ``segment``-sample crops at an offset drawn from
(seed, epoch, index), so an epoch is the same whether or not training was interrupted before it;
validation crops are fixed.  Shorter utterances are zero-padded.

Enrolment (task ``personalized_enhancement``; optional for ``enhancement``):
* ``enroll_emb: <file.npz>``: a table of speaker embeddings (``keys``, ``emb``) keyed by utterance
  or by speaker (through ``utt2spk``); items get ``enroll_emb`` [D];
* ``enroll_segment: N`` (samples): items get ``enroll``, N samples of the enrolment utterance named
  in the data dir's ``utt2enroll`` (``<utt> <audio entry>``), for models that embed it on the fly.

On-the-fly mixing (``on_the_fly: {...}``, see ``kdspeech.tasks.pse_data``): ``data_dir`` is then a
sources dir (target speech with ``utt2spk``) and every item is mixed from (seed, epoch, index); a
dir that is already mixed (``spk1.scp``: the fixed validation set) is read as above.

Validation evaluation: the mean of each metric of ``kdspeech.metrics`` over whole utterances.
"""

import numpy as np
import torch
from torch.utils.data import Dataset

from kdspeech.data.audio import load_audio
from kdspeech.data.datadir import DataDir
from kdspeech.errors import KdError
from kdspeech.tasks import TASKS, Task

OPTIONS = {"segment": 16384, "sr": 16000, "enroll_emb": None, "enroll_segment": 0, "on_the_fly": None}


def read_npz_table(path):
    """``{key: float32 array}`` of an ``.npz`` with ``keys`` and ``emb``."""
    try:
        z = np.load(path)
        return {str(k): np.asarray(v, np.float32) for k, v in zip(z["keys"], z["emb"])}
    except (OSError, KeyError, ValueError) as err:
        raise KdError(f"not an embedding table with 'keys' and 'emb' ({err})", path=path) from None


def read_embedding_table(path, data_dir, utts):
    """``{utt: tensor}`` from an ``.npz`` with ``keys`` and ``emb``, keyed by utterance or speaker."""
    table = read_npz_table(path)
    spk = data_dir.read("utt2spk") if data_dir.has("utt2spk") else {}
    out = {}
    for u in utts:
        key = u if u in table else spk.get(u)
        if key not in table:
            raise KdError(f"utterance {u} (speaker {spk.get(u, '?')}) has no enrolment embedding", path=path)
        out[u] = torch.from_numpy(table[key])
    return out


class EnhancementDataset(Dataset):
    options = OPTIONS   # the data options and their defaults (config key data:)

    def __init__(self, data_dir, segment=16384, sr=16000, train=True, seed=1, enroll_emb=None,
                 enroll_segment=0):
        self.dir = DataDir(data_dir)
        self.dir.validate()
        if not self.dir.has("spk1.scp"):
            raise KdError("an enhancement data dir needs spk1.scp (the clean reference)",
                          path=f"{data_dir}/spk1.scp")
        self.utts = self.dir.utts
        self.clean = self.dir.read("spk1.scp")
        missing = [u for u in self.utts if u not in self.clean]
        if missing:
            raise KdError(f"utterance {missing[0]} of wav.scp has no clean reference",
                          path=f"{data_dir}/spk1.scp")
        snr = self.dir.read("utt2snr") if self.dir.has("utt2snr") else {}
        self.snr = {u: float(snr[u]) if u in snr else float("nan") for u in self.utts}
        self.segment = int(segment)
        self.sr = int(sr)
        self.train = train
        self.seed = int(seed)
        self.epoch = 0
        self.enroll_emb = read_embedding_table(enroll_emb, self.dir, self.utts) if enroll_emb else None
        self.enroll_segment = int(enroll_segment or 0)
        if self.enroll_segment:
            if not self.dir.has("utt2enroll"):
                raise KdError("data.enroll_segment needs utt2enroll (<utt> <enrolment audio>)",
                              path=f"{data_dir}/utt2enroll")
            self.enroll_scp = self.dir.read("utt2enroll")
            missing = [u for u in self.utts if u not in self.enroll_scp]
            if missing:
                raise KdError(f"utterance {missing[0]} has no enrolment audio", path=f"{data_dir}/utt2enroll")

    @property
    def personalized(self):
        return self.enroll_emb is not None or self.enroll_segment > 0

    @classmethod
    def from_config(cls, data_dir, conf, train, seed, where=None):
        unknown = set(conf) - set(OPTIONS)
        if unknown:
            raise KdError(f"enhancement data options {sorted(unknown)} unknown (known: {sorted(OPTIONS)})",
                          path=where)
        conf = {**OPTIONS, **conf}
        # data_dir holds the sources, mixed per item; a mixed dir (spk1.scp) is read as it is
        if conf["on_the_fly"] is not None and not DataDir(data_dir).has("spk1.scp"):
            from kdspeech.tasks.pse_data import OnTheFlyPseDataset
            return OnTheFlyPseDataset.from_config(data_dir, conf, train, seed, where)
        return cls(data_dir, train=train, seed=seed, **{k: v for k, v in conf.items() if k != "on_the_fly"})

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.utts)

    def item_seconds(self):
        """``[(utt, seconds)]`` of the items as batched: the crop (``segment``) or whole utterances."""
        if self.segment > 0:
            return [(u, self.segment / self.sr) for u in self.utts]
        return list(self.dir.durations(self.utts).items())

    def _crop(self, noisy, clean, index):
        n = len(noisy)
        if n > self.segment:
            epoch = self.epoch if self.train else 0
            rng = np.random.default_rng([self.seed, epoch, index])
            start = int(rng.integers(0, n - self.segment + 1))
            return noisy[start:start + self.segment], clean[start:start + self.segment], start
        pad = self.segment - n
        return np.pad(noisy, (0, pad)), np.pad(clean, (0, pad)), 0

    def __getitem__(self, index):
        utt = self.utts[index]
        noisy, _ = self.dir.load_audio(utt, sr=self.sr)
        clean, _ = load_audio(self.clean[utt], sr=self.sr, utt=utt)
        if len(noisy) != len(clean):
            raise KdError(f"utterance {utt}: mixture has {len(noisy)} samples, clean {len(clean)}",
                          path=self.dir.path)
        if self.segment > 0:
            noisy, clean, start = self._crop(noisy, clean, index)
        else:
            start = 0
        item = {
            "input": torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32)),
            "target": torch.from_numpy(np.ascontiguousarray(clean, dtype=np.float32)),
            "snr": torch.tensor(self.snr[utt], dtype=torch.float32),
            "key": f"{utt}@{start}",
        }
        if self.enroll_emb is not None:
            item["enroll_emb"] = self.enroll_emb[utt]
        if self.enroll_segment:
            item["enroll"] = self._enrolment(utt, index)
        return item

    def _enrolment(self, utt, index):
        wav, _ = load_audio(self.enroll_scp[utt], sr=self.sr, utt=f"{utt} (enrolment)")
        n = self.enroll_segment
        if len(wav) > n:
            rng = np.random.default_rng([self.seed, self.epoch if self.train else 0, index, 1])
            start = int(rng.integers(0, len(wav) - n + 1))
            wav = wav[start:start + n]
        return torch.from_numpy(np.pad(wav, (0, n - len(wav))).astype(np.float32))


@TASKS.register("enhancement")
class EnhancementTask(Task):
    """Enhancement: validation figures are the mean metrics of whole enhanced utterances."""

    dataset_class = EnhancementDataset
    default_metrics = ("pesq_wb", "stoi")

    def check_metrics(self, names, where=None):
        from kdspeech.metrics.enhancement import check_names
        try:
            check_names(names)
        except KdError as err:
            raise KdError(f"trainer.eval_metrics: {err}", path=where) from None

    def evaluate(self, model, dataset, indices, device, metrics):
        from kdspeech.metrics.enhancement import compute

        records = []
        for index in indices:
            item = dataset[index]
            est = self.forward_one(model, item, device)
            est = next(iter(est.values()))[0].detach().cpu().numpy()
            records.append(compute(metrics, item["target"].numpy(), est, dataset.sr))
        return records


@TASKS.register("personalized_enhancement")
class PersonalizedEnhancementTask(EnhancementTask):
    """Enhancement of one target speaker: the data options must give an enrolment."""

    def build_dataset(self, data_dir, conf, train, seed, where=None):
        dataset = super().build_dataset(data_dir, conf, train, seed, where)
        if not dataset.personalized:
            raise KdError("personalized_enhancement needs data.enroll_emb or data.enroll_segment", path=where)
        return dataset
