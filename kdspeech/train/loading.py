"""The trainer's data loaders: worker processes, pinned memory, and batches that do not depend on them.

Config keys (top level of a training config, beside ``batch_size``)::

    num_workers: auto          # DataLoader worker processes; auto: from the job's core share (below)
    pin_memory: auto           # page-locked batches for the host-to-GPU copy; auto: on CUDA only
    persistent_workers: true   # workers live for the whole run instead of being forked every epoch
    prefetch_factor: 2         # batches each worker prepares ahead (workers > 0 only)

``num_workers: auto`` is ``share - 1`` (at most 8) on CUDA, where the model runs on the GPU and the
cores are for reading, decoding, mixing and cropping, and ``share // 4`` on the CPU, where the model's
own threads need the cores (0 below 4 cores: every CPU-scale recipe on a small machine loads in the
training process, as it always has).  The share is ``kdspeech.jobs.threads.threads_per_job(1)``: the
CPUs, capped by ``$OMP_NUM_THREADS`` that the job runner sets from the cores and the jobs at once.

The batches are the same for any number of workers, and the same on every run:

* every draw of an item (a crop's offset, an on-the-fly mixture, an augmentation) comes from the
  dataset's own ``(seed, epoch, index)`` generator, so which process computes the item does not matter;
  the epoch reaches the workers inside every index (``(epoch, index)`` pairs, :class:`EpochBatches`),
  so persistent workers, whose dataset copies were made once, still crop epoch ``e``'s crops;
* the samplers are seeded from ``(seed, epoch)``: ``DistributedSampler`` (the shuffle of fixed-size
  batches, one permutation for any number of ranks) or ``kdspeech.train.buckets`` (``batch_seconds``);
* each worker's ``random``/NumPy/torch generators are seeded from the loader's own generator (seeded
  from the run's seed; ``kdspeech.train.determinism.worker_seed``), never from the global one; and
  the trainer draws from the global generator, once per epoch and loader, the number a fresh
  DataLoader iterator always drew, so the global sequence (dropout masks, the model's own draws) is
  that of the earlier trainer, which built a new loader every epoch, whatever the worker count.

On-the-fly mixing and cropping happen in the dataset's ``__getitem__`` (``kdspeech.tasks``:
``EnhancementDataset`` crops, ``OnTheFlyPseDataset`` mixes through ``kdspeech.data.pse_mixer``,
``SpeakerDataset`` crops and adds noise/reverberation), so with workers they run in the workers; so
do the lookups of precomputed teacher outputs (``make_loader``'s ``after``: a
``kdspeech.distill.precomputed.CacheLookup`` called on every collated batch), so the training process
never reads a teacher cache when there are workers.

Padded batches (``pad_collate``, or a task's own ``collate``) carry ``input_len``, each example's
length before padding; the loss terms that compare signals sample by sample or frame by frame leave
the padding out through it (``kdspeech.distill.padding``).
"""

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, DistributedSampler, SequentialSampler
from torch.utils.data import default_collate

from kdspeech.errors import KdError
from kdspeech.jobs.threads import threads_per_job
from kdspeech.train.determinism import worker_seed

LOADER_DEFAULTS = {"num_workers": "auto", "pin_memory": "auto", "persistent_workers": True,
                   "prefetch_factor": 2}
MAX_AUTO_WORKERS = 8


def _count(value, name, where, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise KdError(f"{name} must be an integer >= {minimum}, not {value!r}", path=where)
    return value


def check_loader_options(conf, where=None):
    """A KdError naming the key and its allowed values for a bad loader option (before data is read)."""
    conf = {**LOADER_DEFAULTS, **{k: conf[k] for k in LOADER_DEFAULTS if k in conf}}
    if conf["num_workers"] != "auto":
        _count(conf["num_workers"], "num_workers (auto or an integer >= 0)", where, 0)
    if conf["pin_memory"] not in ("auto", True, False):
        raise KdError(f"pin_memory must be auto, true or false, not {conf['pin_memory']!r}", path=where)
    if not isinstance(conf["persistent_workers"], bool):
        raise KdError(f"persistent_workers must be true or false, not {conf['persistent_workers']!r}",
                      path=where)
    _count(conf["prefetch_factor"], "prefetch_factor", where, 1)
    return conf


def auto_workers(device, share=None):
    """``num_workers: auto`` for a job on ``device`` with ``share`` cores (default: this job's share)."""
    share = threads_per_job(1) if share is None else int(share)
    if torch.device(device).type == "cuda":
        return max(0, min(MAX_AUTO_WORKERS, share - 1))
    return min(MAX_AUTO_WORKERS, share // 4)


def loader_kwargs(conf, device):
    """DataLoader keyword arguments of the loader options ``conf`` on ``device``."""
    conf = check_loader_options(conf)
    workers = auto_workers(device) if conf["num_workers"] == "auto" else conf["num_workers"]
    pin = conf["pin_memory"]
    pin = torch.device(device).type == "cuda" if pin == "auto" else bool(pin)
    kwargs = {"num_workers": workers, "pin_memory": pin}
    if workers:
        kwargs.update(persistent_workers=conf["persistent_workers"], prefetch_factor=conf["prefetch_factor"],
                      worker_init_fn=worker_seed)
    return kwargs


class EpochItems(Dataset):
    """``dataset`` indexed by ``(epoch, index)``: the item of ``index`` as epoch ``epoch`` draws it."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, pair):
        epoch, index = pair
        if hasattr(self.dataset, "set_epoch") and getattr(self.dataset, "epoch", None) != epoch:
            self.dataset.set_epoch(epoch)
        return self.dataset[index]


class EpochBatches:
    """A batch sampler (lists of indices, with ``set_epoch``) yielding ``(epoch, index)`` pairs."""

    def __init__(self, batches):
        self.batches, self.epoch = batches, 0

    def set_epoch(self, epoch):
        self.epoch = int(epoch)
        for inner in (self.batches, getattr(self.batches, "sampler", None)):
            if hasattr(inner, "set_epoch"):
                inner.set_epoch(self.epoch)

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            yield [(self.epoch, i) for i in batch]


def fixed_batches(dataset, batch_size, train, seed, dist):
    """Batches of ``batch_size``: rank r of w takes every w-th example of one seeded permutation
    (``DistributedSampler``), so w processes with batch b see the batches of one process with w*b;
    validation on one process reads the set in order."""
    if train or dist.enabled:
        sampler = DistributedSampler(dataset, num_replicas=dist.world_size, rank=dist.rank, shuffle=train,
                                     seed=seed)
    else:
        sampler = SequentialSampler(dataset)
    return BatchSampler(sampler, batch_size, drop_last=False)


def pad_collate(items):
    """Collate items whose 1-D (or [..., T]) tensors differ in length: zero-padded at the end to the
    longest of the batch; ``input_len`` holds each example's ``input`` length before padding (as the
    ``asr`` task's own ``collate`` gives it), for a model that takes it and for the loss terms, which
    leave the padding out by it (``kdspeech.distill.padding``).  A dataset with a ``collate`` of its
    own is collated by it."""
    lengths = torch.tensor([item["input"].shape[-1] for item in items])
    out = {}
    for key in items[0]:
        values = [item[key] for item in items]
        if torch.is_tensor(values[0]) and values[0].dim() >= 1 and len({v.shape for v in values}) > 1:
            longest = max(v.shape[-1] for v in values)
            values = [torch.nn.functional.pad(v, (0, longest - v.shape[-1])) for v in values]
        out[key] = default_collate(values)
    out["input_len"] = lengths
    return out


class CollateThen:
    """``collate`` followed by each of ``after`` on the collated batch (picklable: it runs in the
    workers)."""

    def __init__(self, collate, after):
        self.collate, self.after = collate, list(after)

    def __call__(self, items):
        batch = self.collate(items)
        for step in self.after:
            batch = step(batch)
        return batch


def make_loader(dataset, batches, conf, device, seed, collate=None, after=()):
    """A DataLoader over ``dataset`` with the batch sampler ``batches`` (wrapped in
    :class:`EpochBatches`) and the loader options ``conf``; its own generator seeds the workers.
    ``after``: callables applied to every collated batch where the batches are made (the workers)."""
    generator = torch.Generator()
    generator.manual_seed(int(seed) * 7919 + 17)
    collate = collate or default_collate
    if after:
        collate = CollateThen(collate, after)
    return DataLoader(EpochItems(dataset), batch_sampler=EpochBatches(batches), generator=generator,
                      collate_fn=collate, **loader_kwargs(conf, device))


def epoch_loader(loader, epoch):
    """``loader`` set to epoch ``epoch``, after the global generator draw a new DataLoader iterator
    made before loaders were kept across epochs (see the module's docstring)."""
    loader.batch_sampler.set_epoch(epoch)
    torch.empty((), dtype=torch.int64).random_()
    return loader
