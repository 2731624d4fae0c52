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

In training the tables are read by the loader, not by the training process: the trainer adds a
:class:`CacheLookup` of every precomputed set the loss terms read to its loaders' collate
(``kdspeech.train.loading.make_loader``), which puts each set's rows of the batch's keys into the
batch as ``precomputed.<set>.<output>`` tensors, so the DataLoader workers read the (memory-mapped)
tables, each opening its own maps on first use, and the batches come pinned and prefetched with
their teacher outputs.  ``PrecomputedTeacher.forward`` takes those rows from the batch where they are
(the same float32 values, stacked the same way: the same weights for any number of workers) and
reads its tables itself only where they are not (a caller without the trainer's loaders).
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
BATCH_PREFIX = "precomputed."


def read_rows(name, tables, keys):
    """``{output: tensor [len(keys), ...]}`` of ``keys`` from ``tables`` (later tables win); a key in
    none of them is a KdError naming the set."""
    owners = []
    for key in keys:
        owner = next((t for t in reversed(tables) if key in t), None)
        if owner is None:
            missing = [k for k in keys if not any(k in t for t in tables)]
            raise KdError(f"teacher set '{name}': no precomputed output for '{missing[0]}' "
                          f"({len(missing)} of the batch missing)")
        owners.append(owner)
    rows = [{out: torch.from_numpy(np.array(v, dtype=np.float32)) for out, v in t.get(k).items()}
            for t, k in zip(owners, keys)]
    return {out: torch.stack([row[out] for row in rows]) for out in rows[0]}


class CacheLookup:
    """The loader's part of precomputed teachers: called on a collated batch, it adds each set's rows of
    ``batch['key']`` as ``precomputed.<set>.<output>``.  Picklable (the tables' maps are not carried);
    in a worker the tables open their shards there, on first use."""

    def __init__(self, teachers):
        self.tables = {t.name: list(t.tables) for t in teachers}

    def __call__(self, batch):
        for name, tables in self.tables.items():
            for out, value in read_rows(name, tables, list(batch["key"])).items():
                batch[f"{BATCH_PREFIX}{name}.{out}"] = value
        return batch


class PrecomputedTeacher(nn.Module):
    def __init__(self, files, name="teacher", live=None, view="input"):
        super().__init__()
        self.name = name
        self.live = live
        self.view = view
        self.verified = live is None
        self.tables = []   # in file order: a key of several tables is read from the last (later files win)
        for path in files if isinstance(files, (list, tuple)) else [files]:
            self._read(path)
        if not any(len(t.keys()) for t in self.tables):
            raise KdError(f"teacher set '{name}': the precomputed files hold no outputs")

    def _read(self, path):
        table = open_table(path, self.name)
        if not table.outputs:
            raise KdError(f"teacher set '{self.name}': the file holds keys but no outputs", path=path)
        if table.view is not None and table.view != self.view:
            raise KdError(f"teacher set '{self.name}': outputs were computed on view '{table.view}', "
                          f"the set reads '{self.view}'", path=path)
        self.tables.append(table)

    def __contains__(self, key):
        return any(key in t for t in self.tables)

    def train(self, mode=True):
        return super().train(False)

    def batch_keys(self):
        """The batch keys it reads: ``key`` (the lookup), and the live teacher's until it is checked."""
        return {"key"} | (self.live.batch_keys() if self.live is not None and not self.verified else set())

    @torch.no_grad()
    def forward(self, batch):
        device = batch["input"].device if torch.is_tensor(batch.get("input")) else "cpu"
        prefix = f"{BATCH_PREFIX}{self.name}."
        outs = {k[len(prefix):]: v for k, v in batch.items() if k.startswith(prefix)}   # read by the loader
        if not outs:
            outs = read_rows(self.name, self.tables, list(batch["key"]))
        outs = {k: v.to(device) for k, v in outs.items()}
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
