"""``trainer.compile: true``: the model's forward through ``torch.compile``, eager where it does not compile.

The model object stays what it was (its ``forward`` is replaced on the instance), so state dicts,
checkpoints, DDP, taps and the model calling convention (kdspeech.models.calling reads forward's
signature) are unchanged.  Compilation happens at the first call of each new input shape.  When a
compiled call raises, the same call is run eagerly: if that works the model did not compile, a
warning names the model and torch's reason, and it runs eagerly from then on; if the eager call fails
too, the error is the model's own and is raised as it is.  The first, failed compiled call may have
updated running statistics (BatchNorm) once.
"""

import functools
import logging

import torch

log = logging.getLogger(__name__)


def compile_model(model, name=None, **options):
    """Compile ``model``'s forward in place (``options`` go to torch.compile); returns ``model``."""
    name = name or type(model).__name__
    eager = model.forward
    compiled = torch.compile(eager, **options)

    @functools.wraps(eager)
    def forward(*args, **kwargs):
        try:
            return compiled(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - torch's compile errors have no common base class
            out = eager(*args, **kwargs)   # the model's own error, if it is one, is raised from here
            reason = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
            log.warning("trainer.compile: model %s does not compile with torch.compile (%s: %s); it runs "
                        "eagerly", name, type(err).__name__, reason)
            model.forward = eager
            return out

    model.forward = forward
    log.info("trainer.compile: model %s compiles with torch.compile at its first steps", name)
    return model
