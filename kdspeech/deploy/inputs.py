"""The example inputs a deployment measurement gives a model, and the parts of a two-part system.

Inputs (batch 1): the model's own ``example_inputs(num_samples)`` when it defines one; otherwise its
first forward input gets ``num_samples`` of seeded noise and a further required ``enroll_emb`` (a
personalized enhancer: ``forward(mix, enroll_emb)``) a seeded ``[1, D]`` embedding, ``D`` from
``--emb_dim`` or the ``emb_dim`` attribute of the model (or of its first sub-module having one).
Any other required input needs ``example_inputs`` on the model (a KdError says so).

Parts: a system made of child modules (``pse_refine``: ``enhancer`` and the on-the-fly similarity
``encoder``) is measured part by part as well as whole: ``parts(model, "enhancer,encoder")``.
"""

import torch

from kdspeech.errors import KdError
from kdspeech.models.calling import _forward_params

SEED = 0
EMBEDDING_INPUTS = ("enroll_emb",)


def deploy_inputs(model, num_samples, emb_dim=None):
    """``{name: tensor}`` keyword inputs of ``model`` for ``num_samples`` of audio (see the docstring)."""
    own = getattr(model, "example_inputs", None)
    if callable(own):
        from kdspeech.models.complexity import example_inputs
        return example_inputs(model, num_samples)
    params = _forward_params(model)
    if not params:
        raise KdError(f"{type(model).__name__}.forward takes no named input; define example_inputs(num_samples)")
    generator = torch.Generator().manual_seed(SEED)
    inputs = {params[0][0]: torch.randn(1, int(num_samples), generator=generator)}
    for name, required in params[1:]:
        if not required:
            continue
        if name not in EMBEDDING_INPUTS:
            raise KdError(f"{type(model).__name__}.forward needs '{name}': define example_inputs(num_samples) "
                          f"on the model so that deployment knows what to give it")
        dim = emb_dim or _emb_dim(model)
        if not dim:
            raise KdError(f"{type(model).__name__}.forward needs '{name}' and the model has no emb_dim "
                          f"attribute: give --emb_dim")
        inputs[name] = torch.randn(1, int(dim), generator=generator)
    return inputs


def _emb_dim(model):
    """The ``emb_dim`` attribute of the model, else of its first sub-module that has one (a wrapper
    around a personalized enhancer), else None."""
    for module in model.modules():
        dim = getattr(module, "emb_dim", None)
        if isinstance(dim, int) and dim > 0:
            return dim
    return None


def parts(model, spec):
    """``[(part name, child module)]`` for a comma-separated list of child module names (dotted paths
    allowed); a KdError names a missing one and the children the model has."""
    names = [name.strip() for name in (spec or "").split(",") if name.strip()]
    modules = dict(model.named_modules())
    out = []
    for name in names:
        if name not in modules or not name:
            children = ", ".join(n for n, _ in model.named_children()) or "none"
            raise KdError(f"--parts: {type(model).__name__} has no child module '{name}' (children: {children})")
        out.append((name, modules[name]))
    return out
