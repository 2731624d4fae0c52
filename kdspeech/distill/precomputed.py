"""A teacher whose outputs were computed once and saved: a lookup by ``batch['key']``.

A frozen teacher on deterministic inputs (cached features, fixed crops) always gives the same output
for an example, so a recipe can run it once over the training and validation sets and distil from
the table; an epoch then costs about as much as plain supervised training.  A table is a sharded,
memory-mapped cache directory (``kdspeech.distill.cache_store``: read lazily, any size) or a single
``.npz`` read whole, with ``keys`` (one id per example: the utterance, with the crop where there is
one), optionally ``view`` (the batch key the teacher saw) and one array per output key (``logits``,
``emb``, ...; ``kdspeech.bin.infer_cls`` writes such files).  Configured as a teacher set::

    teachers:
      kd:
        precomputed: [exp/ft/logits_train.npz, exp/ft/logits_valid.npz]   # or cache directories
        members: [exp/ft]          # optional: the live teacher the table is checked against

With ``members``, the first batch is also run through the live teacher (up to ``VERIFY_EXAMPLES``
examples) and the table is trusted only if it agrees (a stale cache, made by another teacher or from
another view, is an error, not a silent change of the distillation target).
"""

import logging

import numpy as np
import torch
from torch import nn

from kdspeech.distill.cache_store import open_table
from kdspeech.errors import KdError

log = logging.getLogger(__name__)
VERIFY_EXAMPLES = 2
RTOL, ATOL = 1e-3, 1e-4


class PrecomputedTeacher(nn.Module):
    def __init__(self, files, name="teacher", live=None, view="input"):
        super().__init__()
        self.name = name
        self.live = live
        self.view = view
        self.verified = live is None
        self.table = {}   # key -> the table holding it (later files win, as they always did)
        for path in files if isinstance(files, (list, tuple)) else [files]:
            self._read(path)
        if not self.table:
            raise KdError(f"teacher set '{name}': the precomputed files hold no outputs")

    def _read(self, path):
        table = open_table(path, self.name)
        if not table.outputs:
            raise KdError(f"teacher set '{self.name}': the file holds keys but no outputs", path=path)
        if table.view is not None and table.view != self.view:
            raise KdError(f"teacher set '{self.name}': outputs were computed on view '{table.view}', "
                          f"the set reads '{self.view}'", path=path)
        self.table.update(dict.fromkeys(table.keys(), table))

    def _row(self, key):
        return {name: torch.from_numpy(np.array(v, dtype=np.float32))
                for name, v in self.table[key].get(key).items()}

    def train(self, mode=True):
        return super().train(False)

    def batch_keys(self):
        """The batch keys it reads: ``key`` (the lookup), and the live teacher's until it is checked."""
        return {"key"} | (self.live.batch_keys() if self.live is not None and not self.verified else set())

    @torch.no_grad()
    def forward(self, batch):
        keys = batch["key"]
        missing = [k for k in keys if k not in self.table]
        if missing:
            raise KdError(f"teacher set '{self.name}': no precomputed output for '{missing[0]}' "
                          f"({len(missing)} of the batch missing)")
        device = batch["input"].device if torch.is_tensor(batch.get("input")) else "cpu"
        rows = [self._row(k) for k in keys]
        outs = {name: torch.stack([row[name] for row in rows]).to(device) for name in rows[0]}
        if not self.verified:
            self._verify(batch, outs)
        return outs

    def _verify(self, batch, outs):
        """Compare the table with the live teacher on the first examples of a batch."""
        from kdspeech.distill.teachers import _select

        n = min(VERIFY_EXAMPLES, len(batch["key"]))
        idx = torch.arange(n, device=outs[next(iter(outs))].device)
        live = self.live(_select(batch, idx))
        pairs = [(k, k) for k in outs if k in live]
        if not pairs and len(outs) == 1 and len(live) == 1:  # one output each, named differently
            pairs = [(next(iter(outs)), next(iter(live)))]
        if not pairs:
            raise KdError(f"teacher set '{self.name}': the table's outputs {sorted(outs)} and the live "
                          f"teacher's {sorted(live)} share no key to check")
        for table_key, live_key in pairs:
            cached, fresh = outs[table_key][:n], live[live_key]
            if cached.shape != fresh.shape or not torch.allclose(cached, fresh, rtol=RTOL, atol=ATOL):
                diff = (cached - fresh).abs().max().item() if cached.shape == fresh.shape else "shape"
                raise KdError(f"teacher set '{self.name}': precomputed '{table_key}' disagrees with the "
                              f"live teacher on '{batch['key'][0]}' (max difference {diff}); the cache is "
                              "stale: recompute it")
        log.info("teacher set '%s': precomputed outputs agree with the live teacher on %d examples",
                 self.name, n)
        self.verified = True
