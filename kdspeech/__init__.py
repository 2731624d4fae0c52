"""kdspeech: knowledge distillation recipes for speech and audio."""

__version__ = "0.1.0"

import os as _os

if _os.environ.get("KDSPEECH_CODE_RECORD"):  # under a recipe stage: say which code it ran
    from kdspeech import code_record as _code_record
    _code_record.install()


def load(path, device="cpu"):
    """A trained model, ready (eval mode) on ``device``, with its card as ``model.meta``, from a packed
    file (``kdspeech pack exp/<system> model.zip``), an exp dir or its ``best.pth``.

        model = kdspeech.load("model.zip")
        model.meta["sr"], model.meta["task"]

    See ``kdspeech.packing.load``."""
    from kdspeech.packing.load import load as _load

    return _load(path, device=device)
