"""Speech enhancement: (noisy, clean) pairs from a mixture data dir.

The data dir is what ``kdspeech.bin.mix_data_dir`` writes: ``wav.scp`` (mixture), ``spk1.scp`` (clean)
and ``utt2snr``.  Training items are ``segment``-sample crops at an offset drawn from
(seed, epoch, index), so an epoch is the same whether or not training was interrupted before it;
validation crops are fixed.  Shorter utterances are zero-padded.
"""

import numpy as np
import torch
from torch.utils.data import Dataset

from kdspeech.data.audio import load_audio
from kdspeech.data.datadir import DataDir
from kdspeech.errors import KdError
from kdspeech.tasks import TASKS

OPTIONS = {"segment": 16384, "sr": 16000}


@TASKS.register("enhancement")
class EnhancementDataset(Dataset):
    def __init__(self, data_dir, segment=16384, sr=16000, train=True, seed=1):
        self.dir = DataDir(data_dir)
        self.dir.validate()
        if not self.dir.has("spk1.scp"):
            raise KdError("an enhancement data dir needs spk1.scp (the clean reference)",
                          path=f"{data_dir}/spk1.scp")
        self.utts = self.dir.utts
        self.noisy = self.dir.wav_scp
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

    @classmethod
    def from_config(cls, data_dir, conf, train, seed, where=None):
        unknown = set(conf) - set(OPTIONS)
        if unknown:
            raise KdError(f"enhancement data options {sorted(unknown)} unknown (known: {sorted(OPTIONS)})",
                          path=where)
        return cls(data_dir, train=train, seed=seed, **{**OPTIONS, **conf})

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.utts)

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
        noisy, _ = load_audio(self.noisy[utt], sr=self.sr, utt=utt)
        clean, _ = load_audio(self.clean[utt], sr=self.sr, utt=utt)
        if len(noisy) != len(clean):
            raise KdError(f"utterance {utt}: mixture has {len(noisy)} samples, clean {len(clean)}",
                          path=self.dir.path)
        if self.segment > 0:
            noisy, clean, start = self._crop(noisy, clean, index)
        else:
            start = 0
        return {
            "input": torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32)),
            "target": torch.from_numpy(np.ascontiguousarray(clean, dtype=np.float32)),
            "snr": torch.tensor(self.snr[utt], dtype=torch.float32),
            "key": f"{utt}@{start}",
        }
