"""Length-bucketed dynamic batches: ``batch_seconds`` of padded audio per batch, not a fixed count.

    batch_seconds: 120     # padded seconds per batch: examples x the longest of the batch
    num_buckets: 20        # duration buckets (equal numbers of examples, by duration)

For the variable-length tasks (enhancement on whole utterances with ``data.segment: 0``, as asr_enh
and PSE train on them, speaker embedding, an ASR task): examples are sorted by duration and cut into
``num_buckets`` buckets of equal size; each epoch shuffles the examples within every bucket, packs
each bucket greedily into batches whose padded size (examples x the longest one) stays within
``batch_seconds``, and shuffles the batches of all buckets together, every draw seeded from
``(seed, epoch)``.  Batches are collated by ``kdspeech.train.loading.pad_collate`` (zero-padded to the
longest example, ``input_len`` in the batch for a model that takes it by name and for the loss terms,
which leave the padding out by it: ``kdspeech.distill.padding``; a dataset with its own ``collate``,
such as the ``asr`` task's, pads its own way and gives ``input_len`` too).  Under DDP every rank
builds the same list; it is extended to a multiple of the world size by repeating its first batches
(as ``DistributedSampler`` repeats examples) and rank r takes batches r, r+w, ...: every rank has the
same number of batches, so no rank waits at an all-reduce the others never reach.  Validation keeps
the buckets in order, unshuffled.  An example longer than ``batch_seconds`` is an error before any
training, naming the key and the utterance.

Why our own sampler and not lhotse's ``DynamicBucketingSampler``: lhotse would need its manifests
(CutSets) beside our Kaldi data dirs, or a conversion at every stage, and brings a large dependency
for about 60 lines here; our datasets already give each example's duration (``item_seconds``: from
``utt2dur``, ``segments`` or the audio headers, see ``kdspeech.data.datadir.DataDir.durations``), know
their own crops and draws, and are indexed by position, which is all a batch sampler needs.  lhotse's
streaming buckets (for corpora too large to list) are not needed: a data dir's durations fit in
memory at any size we train on.
"""

import numpy as np

from kdspeech.errors import KdError

BATCH_DEFAULTS = {"batch_seconds": None, "num_buckets": 20}


def check_batch_options(conf, where=None):
    """A KdError naming ``batch_seconds`` / ``num_buckets`` for a bad value (before data is read)."""
    seconds, buckets = conf.get("batch_seconds"), conf.get("num_buckets", BATCH_DEFAULTS["num_buckets"])
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not seconds > 0):
        raise KdError(f"batch_seconds must be a number of seconds > 0 (or null: batch_size examples per "
                      f"batch), not {seconds!r}", path=where)
    if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
        raise KdError(f"num_buckets must be an integer >= 1, not {buckets!r}", path=where)


def item_seconds(dataset, role="training"):
    """``[(name, seconds)]`` of every example of ``dataset`` as its batches hold it (its crop)."""
    if not hasattr(dataset, "item_seconds"):
        raise KdError(f"batch_seconds: the {role} set ({type(dataset).__name__}) has no durations; "
                      "length-bucketed batches are for the variable-length tasks (enhancement, "
                      "personalized_enhancement, speaker_embedding): use batch_size")
    return dataset.item_seconds()


def check_fits(durations, batch_seconds, role="training", where=None):
    """A KdError naming ``batch_seconds`` and the longest example when it does not fit one batch."""
    name, longest = max(durations, key=lambda pair: pair[1])
    if longest > batch_seconds:
        raise KdError(f"batch_seconds {batch_seconds:g} is smaller than example '{name}' of the {role} set "
                      f"({longest:.2f} s, the longest): raise batch_seconds to at least {longest:.2f} or "
                      "crop the examples (data.segment)", path=where)


def pack(order, seconds, batch_seconds):
    """Greedy batches of ``order`` (indices) whose count x longest stays within ``batch_seconds``."""
    batches, batch, longest = [], [], 0.0
    for i in order:
        top = max(longest, seconds[i])
        if batch and top * (len(batch) + 1) > batch_seconds:
            batches.append(batch)
            batch, top = [], seconds[i]
        batch.append(int(i))
        longest = top
    if batch:
        batches.append(batch)
    return batches


def padded_fraction(batches, seconds):
    """Padding in the batches' frames: 1 - (sum of durations) / (sum of count x longest)."""
    real = sum(seconds[i] for b in batches for i in b)
    padded = sum(len(b) * max(seconds[i] for i in b) for b in batches)
    return 1.0 - real / padded if padded else 0.0


class BucketBatches:
    """Batch sampler of duration buckets (see the module docstring): ``set_epoch``, ``len``, ``iter``.

    >>> sampler = BucketBatches([1.0, 2.0, 1.1, 2.2, 0.9], batch_seconds=4.5, num_buckets=2, seed=1)
    >>> sampler.set_epoch(1); sorted(i for b in sampler for i in b)
    [0, 1, 2, 3, 4]
    """

    def __init__(self, seconds, batch_seconds, num_buckets=20, seed=1, shuffle=True, world_size=1, rank=0):
        self.seconds = np.asarray(seconds, dtype=np.float64)
        self.batch_seconds, self.seed, self.shuffle = float(batch_seconds), int(seed), shuffle
        self.world_size, self.rank = int(world_size), int(rank)
        by_length = np.argsort(self.seconds, kind="stable")
        self.buckets = [b for b in np.array_split(by_length, min(num_buckets, len(by_length))) if len(b)]
        self.set_epoch(0)

    def set_epoch(self, epoch):
        self.epoch = int(epoch)
        self._batches = self._rank_batches()

    def all_batches(self):
        """Every rank's batches of this epoch, in the order they are dealt."""
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = []
        for bucket in self.buckets:
            order = rng.permutation(bucket) if self.shuffle else bucket
            batches += pack(order, self.seconds, self.batch_seconds)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _rank_batches(self):
        batches = self.all_batches()
        extra = -len(batches) % self.world_size
        batches += (batches * (extra // max(len(batches), 1) + 1))[:extra]
        return batches[self.rank::self.world_size]

    def __len__(self):
        return len(self._batches)

    def __iter__(self):
        return iter(list(self._batches))
