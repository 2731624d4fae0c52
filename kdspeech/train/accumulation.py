"""Gradient accumulation (``trainer.accum_grad: N``): N micro-batches per optimiser update.

Each micro-batch's loss is divided by the number of micro-batches of its update before backward, so
that ``accum_grad: 4`` with ``batch_size: 2`` takes the step of ``batch_size: 8`` (for a model without
batch statistics: a BatchNorm sees 2 examples, not 8).  Under DDP every micro-batch but the update's
last runs inside ``no_sync()``: the gradients are all-reduced once per update.  An epoch whose number
of batches is not a multiple of N ends with a shorter update (its losses divided by its own length),
so every epoch ends on an update boundary.  Learning-rate schedules step per epoch, the log's step
counter and ``log_interval`` count updates.

Resume: checkpoints are written at the end of an epoch only, which is always an update boundary, so
no accumulation is ever half done in a checkpoint, and a resumed run takes exactly the updates of an
uninterrupted one.
"""

from contextlib import nullcontext

from kdspeech.errors import KdError


def check_accum_grad(value, where=None):
    """A KdError naming ``trainer.accum_grad`` unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise KdError(f"trainer.accum_grad must be an integer >= 1 (micro-batches per optimiser update), "
                      f"not {value!r}", path=where)


def num_updates(num_batches, accum):
    """Optimiser updates of an epoch of ``num_batches`` micro-batches."""
    return -(-num_batches // accum)


def window_of(index, num_batches, accum):
    """For the 0-based micro-batch ``index``: (micro-batches in its update, whether it is the last)."""
    start = index - index % accum
    size = min(accum, num_batches - start)
    return size, index == start + size - 1


def sync_context(net, distributed, last):
    """DDP's ``no_sync()`` for a micro-batch that does not end its update; nothing otherwise."""
    if distributed and not last:
        return net.no_sync()
    return nullcontext()
