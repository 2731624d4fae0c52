"""The non-finite guard: an update whose loss or gradient is NaN/inf is skipped, not taken.

Per update (kdspeech.train.trainer): a loss term whose value is not finite in any of the update's
micro-batches, or (fp32, bf16) a non-finite gradient norm, skips the optimiser step; the gradients are
dropped.  Under DDP the decision is one for all ranks (a flag all-reduced per update), so the replicas
stay equal.  A skip is counted with the term that produced it (the epoch's ``skipped_updates`` in
history.json, ``{term: count}``) and logged with the update, the term and the batch's ids (the
``key`` of each example: utterance ids, with the crop).  A non-finite gradient from finite terms is
traced to its term by taking each term's gradient alone on the update's micro-batches again (only then,
with the random state and the model's buffers restored afterwards); gradients that overflow only in
their sum are counted as ``gradient``.  Under fp16, gradient overflow is the grad scaler's business
(kdspeech.train.precision): it skips and lowers the scale, and only non-finite losses count here.

``trainer.nonfinite_limit`` (default 10) updates skipped in a row stop the training with a KdError
naming the update, the terms and the batch ids; ``null``: never stop.  The count restarts at every
update taken and at a resume.
"""

import logging
from contextlib import contextmanager

import torch
import torch.distributed as dist

from kdspeech.errors import KdError

log = logging.getLogger(__name__)

#: The name a skip is counted under when every term is finite alone but their gradients' sum is not.
SUM = "gradient"


def check_limit(value, where=None):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise KdError("trainer.nonfinite_limit must be an integer >= 1 (skipped updates in a row before "
                      f"training stops) or null (never stop), not {value!r}", path=where)


def batch_ids(batch):
    """The ids of a batch's examples (its ``key`` list), or None when it carries none."""
    keys = batch.get("key")
    return [str(k) for k in keys] if isinstance(keys, (list, tuple)) else None


def nonfinite_terms(parts):
    """The names of the terms (``{name: value}``) whose value is NaN or inf."""
    return [name for name, value in parts.items() if not bool(torch.isfinite(value).all())]


def grads_finite(params):
    """Whether every gradient of ``params`` is finite (one norm over all of them)."""
    grads = [p.grad for p in params if p.grad is not None]
    return not grads or bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)))


def any_rank(flag, info, device):
    """``flag`` of this process or-ed over every process (itself with one process)."""
    if not info.enabled:
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def gather(causes, info):
    """Every process's list of (term, ids), in rank order."""
    if not info.enabled:
        return causes
    out = [None] * info.world_size
    dist.all_gather_object(out, causes)
    return [c for part in out for c in part]


@contextmanager
def _untouched(model):
    """Run a block that may update ``model``'s buffers (BatchNorm statistics) and draw random numbers
    (dropout), then put both back."""
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    devices = [b.device for b in buffers.values() if b.device.type == "cuda"]
    with torch.random.fork_rng(devices=sorted({d.index or 0 for d in devices})):
        try:
            yield
        finally:
            with torch.no_grad():
                for name, b in model.named_buffers():
                    b.copy_(buffers[name])


def blame_gradient(model, params, micro_batches, term_values):
    """(term, ids) for each micro-batch and term whose gradient alone is not finite;
    ``term_values(batch)`` gives ``[(name, weighted value)]`` with their graph."""
    params = [p for p in params if p.requires_grad]
    causes = []
    with _untouched(model):
        for batch in micro_batches:
            for name, value in term_values(batch):
                if not value.requires_grad:
                    continue
                grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
                if not all(bool(torch.isfinite(g).all()) for g in grads if g is not None):
                    causes.append((name, batch_ids(batch)))
    return causes


class NonFiniteGuard:
    """Counts skipped updates per term; ``limit`` skipped in a row raise a KdError."""

    def __init__(self, limit=10):
        check_limit(limit)
        self.limit = limit
        self.in_a_row = 0
        self.counts = {}

    def passed(self):
        self.in_a_row = 0

    def skip(self, where, causes):
        """Count a skipped update (``where``: e.g. "epoch 2 update 7"); ``causes``: [(term, ids)]."""
        causes = causes or [(SUM, None)]
        self.in_a_row += 1
        for term in dict.fromkeys(t for t, _ in causes):
            self.counts[term] = self.counts.get(term, 0) + 1
        what = "; ".join(f"term {t} (batch {', '.join(ids) if ids else 'ids not carried'})" for t, ids in causes)
        log.warning("%s: non-finite loss or gradient in %s; update skipped (%d in a row)", where, what,
                    self.in_a_row)
        if self.limit is not None and self.in_a_row >= self.limit:
            raise KdError(f"training stopped: {self.in_a_row} updates in a row skipped for a non-finite "
                          f"loss or gradient (trainer.nonfinite_limit {self.limit}); the last, {where}: "
                          f"{what}.  Lower optim.lr, set trainer.grad_clip, use precision fp32, or check "
                          "these examples")

    def take_counts(self):
        """The skipped updates per term since the last call."""
        counts, self.counts = self.counts, {}
        return counts
