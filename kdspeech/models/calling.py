"""How every model is called: inputs by name from a batch, outputs as a dict, intermediate taps.

Inputs: a model's ``forward`` names what it takes.  Its FIRST parameter receives the task's main
input (``batch["input"]``: the mixture, the clip) unless the batch has a key of the same name; every
further parameter is filled from the batch key of its name (``enroll_emb``); a parameter with a
default may be absent.  So ``forward(self, x)`` and ``forward(self, mix, enroll_emb)`` both work.
A model may decide about its optional inputs by a method ``uses_input(name)`` (True, False, or None
for no say): one it does not use is not passed even when the batch has it (``conformer_ctc`` takes
``target``/``target_len`` only when it has an attention decoder).

Outputs: a forward returns a tensor or a dict of tensors (``wav``, ``spec``, ``logits``, ``emb``).
A tensor becomes ``{"out": tensor}``; the first key of a dict is the model's primary output, which a
loss term uses when it names no key.

Taps: ``hidden.<module path>`` (e.g. ``hidden.encoder.3``) is the output of that sub-module in the
same forward pass, captured with a forward hook, so distillation on intermediate features needs no
change to the model.
"""

import inspect
from contextlib import contextmanager

from kdspeech.errors import KdError

MAIN_INPUT = "input"
TAP_PREFIX = "hidden."


def _forward_params(model):
    """``[(name, required)]`` of a model's inputs: its ``input_names`` attribute (a wrapped graph, e.g.
    ONNX) or the parameters of its forward."""
    module = getattr(model, "module", model)  # DistributedDataParallel wraps the model
    names = getattr(module, "input_names", None)
    if names is not None:
        return [(n, True) for n in names]
    params = inspect.signature(module.forward).parameters.values()
    return [(p.name, p.default is inspect.Parameter.empty) for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def input_names(model):
    """The names of a model's inputs, in order."""
    return [name for name, _ in _forward_params(model)]


def _declared(model, name):
    """A model's own say on its optional input ``name`` (its ``uses_input``): True, False or None."""
    module = getattr(model, "module", model)
    decide = getattr(module, "uses_input", None)
    return None if decide is None else decide(name)


def takes_input(model, name):
    """Whether ``model`` needs the input ``name``: a forward parameter without default, or one with a
    default that the model's configuration uses (``enroll_emb`` of a model with ``emb_dim`` > 0, e.g.
    DCCRN, whose ``forward(wav, enroll_emb=None)`` serves both the plain and the personalized model)."""
    module = getattr(model, "module", model)
    for param, required in _forward_params(model):
        if param == name:
            declared = None if required else _declared(model, name)
            if declared is not None:
                return bool(declared)
            return required or (name == "enroll_emb" and int(getattr(module, "emb_dim", 0) or 0) > 0)
    return False


def needed_keys(model, main=MAIN_INPUT):
    """The batch keys a model's forward needs (``model_inputs`` fills them): ``main`` for its first
    parameter, and every further one it takes (``takes_input``: required, or ``enroll_emb`` of a
    model configured for it)."""
    params = _forward_params(model)
    needed = {main} if params else set()
    return needed | {name for name, _ in params[1:] if takes_input(model, name)}


def model_inputs(model, batch, main=MAIN_INPUT):
    """The keyword arguments of ``model`` for this batch (see the module docstring)."""
    kwargs = {}
    for i, (name, required) in enumerate(_forward_params(model)):
        if name in batch:
            if not required and _declared(model, name) is False:
                continue   # an optional input the model says it does not use
            kwargs[name] = batch[name]
        elif i == 0 and main in batch:
            kwargs[name] = batch[main]
        elif required:
            kind = type(getattr(model, "module", model)).__name__
            raise KdError(f"{kind}.forward needs '{name}', which the batch does not have "
                          f"(batch keys: {', '.join(sorted(k for k in batch))})")
    return kwargs


def as_outputs(out):
    """A forward's result as a dict of outputs."""
    if isinstance(out, dict):
        return out
    if isinstance(out, (tuple, list)):
        raise KdError("a model's forward must return a tensor or a dict of tensors, not a tuple")
    return {"out": out}


def primary(outputs):
    """The primary output of a dict of outputs: its first entry."""
    return next(iter(outputs.values()))


@contextmanager
def taps(model, keys):
    """Capture ``hidden.<path>`` outputs of ``model``'s sub-modules while the block runs a forward.

    Yields a dict that fills with ``{key: tensor}``; unknown module paths are a KdError naming them.
    """
    module = getattr(model, "module", model)
    found = dict(module.named_modules())
    captured, hooks = {}, []
    for key in keys:
        path = key[len(TAP_PREFIX):]
        if path not in found:
            raise KdError(f"'{key}': {type(module).__name__} has no sub-module '{path}' "
                          f"(e.g. {', '.join(list(found)[1:6])})")

        def hook(mod, inputs, output, key=key):
            captured[key] = output[0] if isinstance(output, (tuple, list)) else output
        hooks.append(found[path].register_forward_hook(hook))
    try:
        yield captured
    finally:
        for h in hooks:
            h.remove()


def call_model(model, batch, tap_keys=(), main=MAIN_INPUT):
    """Run ``model`` on a batch: the dict of its outputs, with the requested ``hidden.*`` taps."""
    tap_keys = [k for k in tap_keys if k.startswith(TAP_PREFIX)]
    if not tap_keys:
        return as_outputs(model(**model_inputs(model, batch, main)))
    with taps(model, tap_keys) as captured:
        outputs = dict(as_outputs(model(**model_inputs(model, batch, main))))
    outputs.update(captured)
    return outputs


def main_output(model, x, **extra):
    """The primary output of ``model`` on one main input (inference verbs, evaluation)."""
    batch = {MAIN_INPUT: x, **extra}
    return primary(call_model(model, batch))

