"""Gradient surgery for a system trained on two groups of loss terms: a main task and an auxiliary one.

    trainer:
      grad_surgery: {main: [ctc], aux: [si_snr], method: remedy, max_ratio: 5, per: tensor}

Every training term belongs to exactly one group (``main`` or ``aux``, by its label in the ``loss:``
list: ``name``, or ``name.2`` for the second term of one name).  Per micro-batch, the gradients of the
two groups' weighted sums, ``g_m`` and ``g_a``, are taken separately and combined before they are
accumulated into the parameters' ``.grad`` (then the usual update: the guard, clipping, the step):

``method: remedy``: the gradient remedy of Hu et al., "Gradient remedy for multi-task learning in
end-to-end noise-robust speech recognition", ICASSP 2023 (the Charishma paper's Joint-Grad [24]), as
the authors' released code does it (YUCHEN005/Gradient-Remedy, ``trainer_gradient_remedy.py``):

1. angle: when ``g_a . g_m < 0`` (the auxiliary gradient conflicts with the main one), ``g_a`` is
   projected onto the normal plane of ``g_m`` (PCGrad, Yu et al. 2020), ``g_a' = g_a - (g_a . g_m /
   |g_m|^2) g_m``, and then pushed towards ``g_m`` by adding ``|g_a'| |g_m| / |g_a|`` times the unit
   vector of ``g_m``: the result is at the acute angle ``atan(|g_a| / |g_m|)`` to ``g_m`` (the paper's
   "dynamic surface"; the larger the auxiliary gradient, the closer to orthogonal), so it assists the
   main task instead of hindering it;
2. magnitude: when ``|g_a| / |g_m| > max_ratio`` (the paper's K, 5 in their code; ``g_a`` after step
   1), with ``c`` the cosine between them, ``g_a <- c g_a`` and ``g_m <- g_m / c`` (the auxiliary
   gradient is compressed, the main one stretched, so that the auxiliary task cannot dominate the
   update);

and the update's gradient is ``g_a + g_m``.  ``method: pcgrad``: step 1's projection alone (no push,
no rescaling).  ``per: tensor`` (the authors' code) applies this to each parameter tensor that both
groups reach, on its own; ``per: all`` to the one vector of all of them (the paper's notation).
Tensors reached by one group only get that group's gradient.

Cost: two backward passes through the graph the groups share (the first keeps it).  The history of
each epoch holds ``grad_surgery``: the fraction of (micro-batch, tensor) pairs in conflict, the mean
cosine between the groups' gradients, and the fraction rescaled.  Under fp16 the gradients are the
scaled ones (every step is invariant to a common scale).  Under DDP the forward passes run without
DDP's synchronisation and each process applies the surgery to its own micro-batches' gradients, which
are then averaged over the processes once per update (so surgery sees the per-process batch, as under
gradient accumulation it sees the micro-batch).
"""

import torch
import torch.distributed as dist

from kdspeech.errors import KdError

METHODS = ("remedy", "pcgrad")
PER = ("tensor", "all")
OPTIONS = {"main": None, "aux": None, "method": "remedy", "max_ratio": 5.0, "per": "tensor"}


def check_grad_surgery(conf, labels=None, where=None):
    """The options of ``trainer.grad_surgery`` with their defaults, or None when it is off; a KdError
    naming the key for a bad value, and (``labels``: the training terms' labels) for groups that do
    not split the terms in two."""
    if conf is None or conf is False:
        return None
    if not isinstance(conf, dict):
        raise KdError(f"trainer.grad_surgery must be {{main: [terms], aux: [terms], ...}} or null, not "
                      f"{conf!r}", path=where)
    unknown = sorted(set(conf) - set(OPTIONS))
    if unknown:
        raise KdError(f"trainer.grad_surgery has no option {unknown} (options: {', '.join(OPTIONS)})", path=where)
    conf = {**OPTIONS, **conf}
    for group in ("main", "aux"):
        names = conf[group]
        if isinstance(names, str):
            conf[group] = names = [names]
        if not names or not all(isinstance(n, str) for n in names):
            raise KdError(f"trainer.grad_surgery.{group} must list loss term labels, not {names!r}", path=where)
    if conf["method"] not in METHODS:
        raise KdError(f"trainer.grad_surgery.method must be one of {', '.join(METHODS)}, not "
                      f"{conf['method']!r}", path=where)
    if conf["per"] not in PER:
        raise KdError(f"trainer.grad_surgery.per must be one of {', '.join(PER)}, not {conf['per']!r}",
                      path=where)
    if isinstance(conf["max_ratio"], bool) or not isinstance(conf["max_ratio"], (int, float)) \
            or conf["max_ratio"] <= 0:
        raise KdError(f"trainer.grad_surgery.max_ratio must be a number > 0, not {conf['max_ratio']!r}",
                      path=where)
    both = sorted(set(conf["main"]) & set(conf["aux"]))
    if both:
        raise KdError(f"trainer.grad_surgery: {both} in both main and aux", path=where)
    if labels is not None:
        named = set(conf["main"]) | set(conf["aux"])
        stray = sorted(named - set(labels))
        left = [n for n in labels if n not in named]
        if stray or left:
            raise KdError("trainer.grad_surgery must put every training loss term in main or aux, by its label "
                          f"(terms: {', '.join(labels)})" + (f"; no such term: {stray}" if stray else "")
                          + (f"; in neither group: {left}" if left else ""), path=where)
    return conf


def remedy(g_aux, g_main, method="remedy", max_ratio=5.0):
    """``(g_aux + g_main after the surgery, conflict, cosine before, rescaled)`` of two gradients of one
    shape (see the module docstring)."""
    a, m = g_aux.flatten().double(), g_main.flatten().double()
    na, nm = a.norm(), m.norm()
    if float(na) == 0.0 or float(nm) == 0.0:
        return g_aux + g_main, False, 0.0, False
    dot = torch.dot(a, m)
    cosine = float(dot / (na * nm))
    conflict = float(dot) < 0
    if conflict:
        a = a - dot / nm ** 2 * m                    # onto the normal plane of g_main
        if method == "remedy":
            a = a + (a.norm() * nm / na) * (m / nm)  # to the acute angle atan(|g_a| / |g_main|)
    rescaled = False
    if method == "remedy" and float(a.norm() / nm) > max_ratio:
        c = torch.dot(a, m) / (a.norm() * nm)
        if float(c) > 0:
            a, m, rescaled = a * c, m / c, True
    return (a + m).to(g_aux.dtype).view_as(g_aux), conflict, cosine, rescaled


class GradSurgery:
    """The backward pass of a micro-batch with surgery between the ``main`` and ``aux`` term groups."""

    def __init__(self, conf, terms, where=None):
        self.conf = check_grad_surgery(conf, [label for label, _, _ in terms], where)
        self.main = [t for t in terms if t[0] in self.conf["main"]]
        self.aux = [t for t in terms if t[0] in self.conf["aux"]]
        self.order = [label for label, _, _ in terms]
        self._reset()

    def _reset(self):
        self.pairs = self.conflicts = self.rescaled = 0
        self.cosine = 0.0

    def backward(self, params, losses, scale=lambda x: x, divide=1):
        """Accumulate the surgery's gradient of one micro-batch into ``params``' ``.grad``.

        ``losses(terms)`` -> (weighted sum with its graph, {label: detached value}) of a term list;
        ``scale``: fp16's loss scaling; ``divide``: the micro-batches of the update.  Returns the
        micro-batch's total loss (detached) and every term's value, in the order of the terms."""
        main, main_parts = losses(self.main)
        aux, aux_parts = losses(self.aux)
        g_main = self._grads(scale(main / divide), params, retain=True)
        g_aux = self._grads(scale(aux / divide), params, retain=False)
        for p, g in zip(params, self.combine(g_aux, g_main)):
            if g is not None:
                p.grad = g.detach() if p.grad is None else p.grad + g.detach()
        parts = {**main_parts, **aux_parts}
        return (main + aux).detach(), {label: parts[label] for label in self.order}

    @staticmethod
    def _grads(loss, params, retain):
        if not torch.is_tensor(loss) or not loss.requires_grad:
            return [None] * len(params)
        return list(torch.autograd.grad(loss, params, retain_graph=retain, allow_unused=True))

    def combine(self, g_aux, g_main):
        """The gradient of each parameter: the surgery where both groups reach it, else the one that does."""
        out = [a if m is None else m if a is None else None for a, m in zip(g_aux, g_main)]
        shared = [i for i, (a, m) in enumerate(zip(g_aux, g_main)) if a is not None and m is not None]
        if not shared:
            return out
        method, ratio = self.conf["method"], float(self.conf["max_ratio"])
        if self.conf["per"] == "tensor":
            for i in shared:
                out[i], conflict, cosine, rescaled = remedy(g_aux[i], g_main[i], method, ratio)
                self._count(conflict, cosine, rescaled)
            return out
        flat_a = torch.cat([g_aux[i].flatten() for i in shared])
        flat_m = torch.cat([g_main[i].flatten() for i in shared])
        joint, conflict, cosine, rescaled = remedy(flat_a, flat_m, method, ratio)
        self._count(conflict, cosine, rescaled)
        start = 0
        for i in shared:
            n = g_aux[i].numel()
            out[i] = joint[start:start + n].view_as(g_aux[i])
            start += n
        return out

    def _count(self, conflict, cosine, rescaled):
        self.pairs += 1
        self.conflicts += int(conflict)
        self.rescaled += int(rescaled)
        self.cosine += cosine

    def take_stats(self):
        """This epoch's figures since the last call (``conflict_rate``, ``mean_cosine``, ``rescale_rate``)."""
        if not self.pairs:
            return {}
        stats = {"conflict_rate": self.conflicts / self.pairs, "mean_cosine": self.cosine / self.pairs,
                 "rescale_rate": self.rescaled / self.pairs}
        self._reset()
        return stats


def average_grads(params, info):
    """Average the gradients over the DDP processes (every process holds one for every parameter)."""
    if not info.enabled:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad)
        p.grad /= info.world_size
