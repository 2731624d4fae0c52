"""The registry of training and distillation loss terms.

A recipe's ``loss:`` list names terms and weights; the trainer sums ``weight * term``.  Every term is
called as ``term(student_out, batch, teacher_outs)`` where ``batch["target"]`` is the supervised target
and ``teacher_outs[name]`` the output of the teacher set called ``name`` for this batch, aligned with
the batch.  Paper losses are combinations, e.g.

* SNR-based teachers-student enhancement, L = a/2 ||s-t_i||^2 + (1-a)/2 ||s-y||^2:
  ``[{name: mse_teacher, weight: a, teacher: snr}, {name: mse_target, weight: 1-a}]``
* logit KD, a CE + (1-a) T^2 KL: ``[{name: ce, weight: a}, {name: kl_logits, weight: 1-a, T: 2}]``

The squared norms are averaged over samples (not summed), so a loss value does not grow with the
crop length; the factor 1/2 of the papers is kept.
"""

import torch.nn.functional as F

from kdspeech.errors import KdError
from kdspeech.registry import Registry

LOSSES = Registry("loss")


class LossTerm:
    """Base: ``teacher`` names the teacher set this term reads, or None for a supervised term."""

    needs_teacher = False

    def __init__(self, teacher=None):
        if self.needs_teacher and not teacher:
            raise KdError(f"loss '{type(self).__name__}' needs 'teacher: <name of a teacher set>'")
        self.teacher = teacher

    def teacher_out(self, teacher_outs):
        return teacher_outs[self.teacher]


@LOSSES.register("mse_target")
class MseTarget(LossTerm):
    """1/2 mean squared error between the student output and ``batch['target']``."""

    def __call__(self, out, batch, teacher_outs):
        return 0.5 * F.mse_loss(out, batch["target"])


@LOSSES.register("mse_teacher")
class MseTeacher(LossTerm):
    """1/2 mean squared error between the student output and its (routed) teacher's output."""

    needs_teacher = True

    def __call__(self, out, batch, teacher_outs):
        return 0.5 * F.mse_loss(out, self.teacher_out(teacher_outs))


@LOSSES.register("ce")
class CrossEntropy(LossTerm):
    """Cross-entropy of student logits against integer labels ``batch['target']``."""

    def __call__(self, out, batch, teacher_outs):
        return F.cross_entropy(out, batch["target"])


@LOSSES.register("kl_logits")
class KlLogits(LossTerm):
    """T^2 * KL(p_teacher^T || p_student^T) with softened outputs (Hinton et al.), batch mean."""

    needs_teacher = True

    def __init__(self, teacher=None, T=1.0):
        super().__init__(teacher)
        if T <= 0:
            raise KdError(f"kl_logits: temperature T must be > 0, not {T}")
        self.T = float(T)

    def __call__(self, out, batch, teacher_outs):
        t_logp = F.log_softmax(self.teacher_out(teacher_outs) / self.T, dim=-1)
        s_logp = F.log_softmax(out / self.T, dim=-1)
        kl = F.kl_div(s_logp, t_logp, log_target=True, reduction="batchmean")
        return kl * self.T ** 2


def build_loss_terms(specs, where=None):
    """``[{name, weight, **options}]`` -> list of (name, weight, term)."""
    if not specs:
        raise KdError("the config has no 'loss' terms", path=where)
    terms = []
    for spec in specs:
        spec = dict(spec)
        if "name" not in spec:
            raise KdError(f"loss term {spec} has no 'name'", path=where)
        name = spec.pop("name")
        weight = float(spec.pop("weight", 1.0))
        terms.append((name, weight, LOSSES.build(name, spec, where=where)))
    return terms


def total_loss(terms, out, batch, teacher_outs):
    """Weighted sum of the terms and a dict of each term's detached value."""
    total = 0.0
    parts = {}
    for name, weight, term in terms:
        value = term(out, batch, teacher_outs)
        parts[name] = value.detach()
        total = total + weight * value
    return total, parts
