"""The optimiser update of the trainer, from the gradients accumulated over an update's micro-batches.

In order: the non-finite guard (kdspeech.train.guard: a NaN/inf loss term in any micro-batch, or a
non-finite gradient, skips the update on every rank), fp16's unscaling (kdspeech.train.precision),
gradient clipping (``trainer.grad_clip``, on the model's parameters), the step (fp16: the scaler's,
which skips it when the scaled gradients overflowed, then lowers the scale), and the gradients
dropped for the next update.  The scaler's state travels in the training checkpoint (``scaler``;
None without fp16, absent in checkpoints older than it).
"""

import logging

import torch

from kdspeech.train.guard import (NonFiniteGuard, any_rank, batch_ids, blame_gradient, gather, grads_finite,
                                  nonfinite_terms)
from kdspeech.train.precision import make_scaler

log = logging.getLogger(__name__)


class Updater:
    def __init__(self, model, optimizer, conf, dist_info, device):
        self.model, self.optimizer, self.dist, self.device = model, optimizer, dist_info, device
        self.grad_clip = conf["grad_clip"]
        self.scaler = make_scaler(device, conf["precision"])   # fp16 only
        self.guard = NonFiniteGuard(conf["nonfinite_limit"])
        self.scaler_skips = 0

    def backward(self, loss):
        self.scaled(loss).backward()

    def scaled(self, loss):
        """``loss`` as its gradients are taken: fp16's scaled loss, else the loss itself."""
        return self.scaler.scale(loss) if self.scaler else loss

    def step(self, window, where, term_values):
        """Update from the gradients of ``window`` ([(batch, {term: value})]), or skip it; ``where``
        names the update in logs and errors, ``term_values(batch)`` gives each term's weighted value
        with its graph (to trace a non-finite gradient to its term)."""
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        causes = [(term, batch_ids(b)) for b, parts in window for term in nonfinite_terms(parts)]
        bad = bool(causes) or (self.scaler is None and not grads_finite(params))  # fp16: the scaler's
        if any_rank(bad, self.dist, self.device):
            if bad and not causes:
                causes = blame_gradient(self.model, params, [b for b, _ in window], term_values)
            self.optimizer.zero_grad(set_to_none=True)
            self.guard.skip(where, gather(causes, self.dist))
            return
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        if self.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        if self.scaler:
            scale = self.scaler.get_scale()
            self.scaler.step(self.optimizer)   # skipped when the scaled gradients overflowed
            self.scaler.update()
            if self.scaler.get_scale() < scale:
                self.scaler_skips += 1
                log.info("%s: fp16 gradients overflowed at scale %g; update skipped, scale now %g", where,
                         scale, self.scaler.get_scale())
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.guard.passed()

    def add_epoch_counts(self, entry):
        """The epoch's skipped updates into its history entry: per term (non-finite), and fp16's."""
        skipped = self.guard.take_counts()
        if skipped:
            entry["skipped_updates"] = skipped
            log.warning("epoch %d: updates skipped for non-finite values, per term: %s", entry["epoch"],
                        ", ".join(f"{k} {v}" for k, v in skipped.items()))
        if self.scaler:
            entry["fp16_overflow_skips"], self.scaler_skips = self.scaler_skips, 0
            entry["fp16_scale"] = self.scaler.get_scale()

    def scaler_state(self):
        return self.scaler.state_dict() if self.scaler else None

    def load_scaler_state(self, state):
        if self.scaler and state:
            self.scaler.load_state_dict(state)
