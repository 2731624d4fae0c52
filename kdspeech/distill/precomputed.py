"""A teacher whose outputs were computed once and saved: a lookup by ``batch['key']``.

A frozen teacher on deterministic inputs (cached features, no augmentation) always gives the same
output for an example, so a recipe can run it once over the training and validation sets
(``kdspeech.bin.infer_cls`` writes ``.npz`` files with ``keys`` and ``logits``) and distil from the
table; an epoch then costs about as much as plain supervised training.  Configured as a teacher set::

    teachers:
      kd: {precomputed: [exp/ft/logits_train.npz, exp/ft/logits_valid.npz]}
"""

import numpy as np
import torch
from torch import nn

from kdspeech.errors import KdError


class PrecomputedTeacher(nn.Module):
    def __init__(self, files, name="teacher"):
        super().__init__()
        self.name = name
        self.table = {}
        for path in files if isinstance(files, (list, tuple)) else [files]:
            try:
                z = np.load(path)
                keys, outs = z["keys"], z["logits"]
            except (OSError, KeyError, ValueError) as err:
                raise KdError(f"teacher set '{name}': not a precomputed-outputs file ({err})", path=path) from None
            for k, v in zip(keys, outs):
                self.table[str(k)] = torch.from_numpy(np.array(v, dtype=np.float32))
        if not self.table:
            raise KdError(f"teacher set '{name}': the precomputed files hold no outputs")

    def train(self, mode=True):
        return super().train(False)

    @torch.no_grad()
    def forward(self, batch):
        keys = batch["key"]
        missing = [k for k in keys if k not in self.table]
        if missing:
            raise KdError(f"teacher set '{self.name}': no precomputed output for '{missing[0]}' "
                          f"({len(missing)} of the batch missing)")
        device = batch["input"].device if torch.is_tensor(batch.get("input")) else "cpu"
        return torch.stack([self.table[k] for k in keys]).to(device)
