"""The registry of training and distillation loss terms.

A config's ``loss:`` list names terms and weights; the trainer sums ``weight * term``.  A term reads
the student's outputs (a dict: ``wav``, ``logits``, ``emb``, ``hidden.<module>`` ...; see
``kdspeech.models.calling``) by ``student_key`` and, when it distils, the outputs of the teacher set
named ``teacher`` by ``teacher_key``; either key left out means that side's primary output.  Terms
are modules: one with parameters (a learned temperature, a projection) is trained with the student
and saved in its checkpoints.  Paper losses are combinations, e.g.

* SNR-based teachers-student enhancement, L = a/2 ||s-t_i||^2 + (1-a)/2 ||s-y||^2:
  ``[{name: mse_teacher, weight: a, teacher: snr}, {name: mse_target, weight: 1-a}]`` (or its
  scale-invariant form ``si_snr_teacher`` + ``si_snr``, kdspeech.distill.loss_enh)
* logit KD, a CE + (1-a) T^2 KL: ``[{name: ce, weight: a}, {name: kl_logits, weight: 1-a, T: 2}]``
* embedding KD: ``[{name: contrastive, teacher: big, student_key: emb, teacher_key: emb}]``

The squared norms are averaged over samples (not summed), so a loss value does not grow with the
crop length; the factor 1/2 of the papers is kept.

Padded batches (whole utterances of different lengths, with ``input_len``): a term whose class sets
``time_dim`` (the time axis of the tensors it compares: waveforms, spectra, frame posteriors) is
computed on each utterance's valid part and averaged over utterances, so padding counts in no loss;
``total_loss`` does it for every term through ``kdspeech.distill.padding.term_value``, and on a batch
without padding calls the term as it is.
"""

import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.distill.padding import pool_mean, term_value
from kdspeech.errors import KdError
from kdspeech.models.calling import as_outputs, primary
from kdspeech.registry import Registry

LOSSES = Registry("loss")


class LossTerm(nn.Module):
    """Base: ``teacher`` names the teacher set this term reads, or None for a supervised term.
    ``reads_target``: the term reads the batch's ``target_key`` (``target``); ``batch_keys`` says
    which batch keys a term needs, for the data contract checked before the first batch
    (``kdspeech.train.contract``).  ``time_dim``: the time axis (samples or frames) of the tensors the
    term compares, for a term computed per sample or frame; on a padded batch it is computed per
    utterance on the valid part (``kdspeech.distill.padding``).  None: one value per example."""

    needs_teacher = False
    reads_target = False
    time_dim = None

    def __init__(self, teacher=None, student_key=None, teacher_key=None, target_key="target"):
        super().__init__()
        if self.needs_teacher and not teacher:
            raise KdError(f"loss '{type(self).__name__}' needs 'teacher: <name of a teacher set>'")
        if teacher_key and not self.needs_teacher:
            raise KdError(f"loss '{type(self).__name__}' reads no teacher, so 'teacher_key' means nothing")
        self.teacher, self.student_key, self.teacher_key = teacher, student_key, teacher_key
        self.target_key = target_key

    @staticmethod
    def _pick(outputs, key, side):
        if key is None:
            return primary(outputs)
        if key not in outputs:
            raise KdError(f"{side} output '{key}' does not exist (outputs: {', '.join(outputs)})")
        return outputs[key]

    def batch_keys(self):
        """The batch keys this term reads."""
        return {self.target_key} if self.reads_target else set()

    def student(self, outputs):
        return self._pick(outputs, self.student_key, "student")

    def teacher_out(self, teacher_outs):
        return self._pick(teacher_outs[self.teacher], self.teacher_key, f"teacher set '{self.teacher}'")

    def target(self, batch):
        if self.target_key not in batch:
            raise KdError(f"loss '{type(self).__name__}' needs batch key '{self.target_key}'")
        return batch[self.target_key]


class EmbeddingTerm(LossTerm):
    """Base of the embedding terms: optional ``pool: mean`` (features ``[B, C, T]`` -> ``[B, C]``, e.g.
    a tapped ``hidden.*`` layer) and ``proj: [student size, teacher size]`` (a learned linear map)."""

    needs_teacher = True

    def __init__(self, proj=None, pool=None, **keys):
        super().__init__(**keys)
        if pool not in (None, "mean"):
            raise KdError(f"pool must be mean or left out, not {pool!r}")
        self.pool = pool
        self.proj = _projection(proj)

    def pair(self, out, teacher_outs, batch=None):
        """The student's and the teacher's embeddings (pooled over frames: not over the padding of a
        padded ``batch``, ``kdspeech.distill.padding.pool_mean``; projected)."""
        s, t = self.student(out), self.teacher_out(teacher_outs)
        if self.pool:
            s, t = pool_mean(s, batch or {}), pool_mean(t, batch or {})
        if self.proj is not None:
            s = self.proj(s)
        return s, t


def _projection(proj):
    """``proj: [in, out]`` -> a learned linear map from the student's size to the teacher's."""
    if proj is None:
        return None
    if not (isinstance(proj, (list, tuple)) and len(proj) == 2):
        raise KdError(f"proj must be [student size, teacher size], not {proj!r}")
    return nn.Linear(int(proj[0]), int(proj[1]), bias=False)


@LOSSES.register("mse_target")
class MseTarget(LossTerm):
    """1/2 mean squared error between the student output and the supervised target."""

    reads_target = True
    time_dim = -1

    def forward(self, out, batch, teacher_outs):
        return 0.5 * F.mse_loss(self.student(out), self.target(batch))


@LOSSES.register("mse_teacher")
class MseTeacher(LossTerm):
    """1/2 mean squared error between a student output and its (routed) teacher's output."""

    needs_teacher = True
    time_dim = -1

    def forward(self, out, batch, teacher_outs):
        return 0.5 * F.mse_loss(self.student(out), self.teacher_out(teacher_outs))


@LOSSES.register("ce")
class CrossEntropy(LossTerm):
    """Cross-entropy of student logits against integer labels (``target``)."""

    reads_target = True

    def forward(self, out, batch, teacher_outs):
        return F.cross_entropy(self.student(out), self.target(batch))


@LOSSES.register("kl_logits")
class KlLogits(LossTerm):
    """T^2 * KL(p_teacher^T || p_student^T) with softened outputs (Hinton et al.), batch mean."""

    needs_teacher = True

    def __init__(self, T=1.0, **keys):
        super().__init__(**keys)
        if T <= 0:
            raise KdError(f"kl_logits: temperature T must be > 0, not {T}")
        self.T = float(T)

    def forward(self, out, batch, teacher_outs):
        t_logp = F.log_softmax(self.teacher_out(teacher_outs) / self.T, dim=-1)
        s_logp = F.log_softmax(self.student(out) / self.T, dim=-1)
        kl = F.kl_div(s_logp, t_logp, log_target=True, reduction="batchmean")
        return kl * self.T ** 2


@LOSSES.register("mse_emb")
class MseEmbedding(EmbeddingTerm):
    """Embedding regression: mean over the batch of ||P s - t||^2 / D (``normalize``: on unit vectors)."""

    def __init__(self, normalize=False, **options):
        super().__init__(**options)
        self.normalize = bool(normalize)

    def forward(self, out, batch, teacher_outs):
        s, t = self.pair(out, teacher_outs, batch)
        if self.normalize:
            s, t = F.normalize(s, dim=-1), F.normalize(t, dim=-1)
        return F.mse_loss(s, t)


@LOSSES.register("cos_emb")
class CosineEmbedding(EmbeddingTerm):
    """Embedding regression: mean over the batch of 1 - cos(P s, t)."""

    def forward(self, out, batch, teacher_outs):
        s, t = self.pair(out, teacher_outs, batch)
        return (1.0 - F.cosine_similarity(s, t, dim=-1)).mean()


@LOSSES.register("contrastive")
class Contrastive(EmbeddingTerm):
    """CLIP-style symmetric contrastive loss between student and teacher embeddings of a batch.

    Logits ``l_ij = exp(tau) * cos(P s_i, t_j)``; the loss is the mean of the cross-entropies of the
    rows (student i should pick teacher i) and of the columns (teacher j should pick student j).
    ``exp(tau)`` is a learned inverse temperature, initialised to 1/``temperature`` and capped at
    ``max_scale`` (CLIP: 0.07 and 100).
    """

    def __init__(self, temperature=0.07, learn_temperature=True, max_scale=100.0, **options):
        super().__init__(**options)
        if temperature <= 0:
            raise KdError(f"contrastive: temperature must be > 0, not {temperature}")
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)),
                                      requires_grad=bool(learn_temperature))
        self.max_log_scale = math.log(float(max_scale))

    def forward(self, out, batch, teacher_outs):
        s, t = self.pair(out, teacher_outs, batch)
        if len(s) < 2:
            raise KdError("contrastive loss needs at least 2 examples per batch")
        scale = self.log_scale.clamp(max=self.max_log_scale).exp()
        logits = scale * F.normalize(s, dim=-1) @ F.normalize(t, dim=-1).T
        labels = torch.arange(len(s), device=s.device)
        return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def _import_all():
    """Terms of a task family live in ``kdspeech/distill/loss_<family>.py`` (e.g. ``loss_enh``);
    importing them registers them here."""
    import importlib
    import pkgutil

    import kdspeech.distill as package
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("loss_"):
            importlib.import_module(f"kdspeech.distill.{info.name}")


def build_loss_terms(specs, where=None):
    """``[{name, weight, **options}]`` -> list of (name, weight, term)."""
    _import_all()
    if not specs:
        raise KdError("the config has no 'loss' terms", path=where)
    terms, seen = [], {}
    for spec in specs:
        spec = dict(spec)
        if "name" not in spec:
            raise KdError(f"loss term {spec} has no 'name'", path=where)
        name = spec.pop("name")
        weight = float(spec.pop("weight", 1.0))
        allowed = _options(LOSSES.get(name))
        unknown = [k for k in spec if k not in allowed]
        if unknown:
            raise KdError(f"loss '{name}' has no option {', '.join(map(repr, unknown))} "
                          f"(options: {', '.join(sorted(allowed))})", path=where)
        try:
            term = LOSSES.build(name, spec, where=where)
        except KdError as err:
            raise err if err.path else KdError(str(err), path=where) from None
        term.spec = {"name": name, **spec}  # what it was built from (kdspeech.train.loss_params)
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}.{seen[name]}"  # unique names in logs and history
        terms.append((label, weight, term))
    return terms


def _options(cls):
    """The keyword options a term class takes (its own and those of its bases)."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None and klass is not nn.Module and issubclass(klass, LossTerm):
            names |= {p for p in inspect.signature(init).parameters if p not in ("self", "keys", "options")}
    return names


def term_defaults(name):
    """The options of loss term ``name`` that have a default (its own and those of its bases), with it."""
    _import_all()
    defaults = {}
    for klass in LOSSES.get(name).__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None and klass is not nn.Module and issubclass(klass, LossTerm):
            for p in inspect.signature(init).parameters.values():
                if p.default is not inspect.Parameter.empty and p.name not in defaults:
                    defaults[p.name] = p.default
    return defaults


def loss_modules(terms):
    """The terms as one module (their parameters are trained and checkpointed with the student)."""
    return nn.ModuleDict({label.replace(".", "_"): term for label, _, term in terms})


def tap_keys(terms):
    """The ``hidden.*`` keys the terms read on the student side, and per teacher set."""
    student, teacher = set(), {}
    for _, _, term in terms:
        if term.student_key and term.student_key.startswith("hidden."):
            student.add(term.student_key)
        if term.teacher and term.teacher_key and term.teacher_key.startswith("hidden."):
            teacher.setdefault(term.teacher, set()).add(term.teacher_key)
    return student, teacher


def total_loss(terms, out, batch, teacher_outs):
    """Weighted sum of the terms and a dict of each term's detached value (a tensor given for the
    student's or a teacher's outputs stands for ``{"out": tensor}``)."""
    out = as_outputs(out)
    teacher_outs = {name: as_outputs(t) for name, t in teacher_outs.items()}
    total = 0.0
    parts = {}
    for name, weight, term in terms:
        value = term_value(term, out, batch, teacher_outs)   # per utterance on a padded batch
        parts[name] = value.detach()
        total = total + weight * value
    return total, parts
