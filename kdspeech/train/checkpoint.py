"""Checkpoints: written atomically, the previous one kept, a corrupted latest one falls back.

An experiment dir holds ``checkpoints/last.pth`` (full training state after the newest finished
epoch), ``checkpoints/prev.pth`` (the one before) and ``best.pth`` (the model with the best validation
loss).  Every file carries ``model_name`` and ``model_conf``, so a model is rebuilt from its file alone.
"""

import logging
import os
from pathlib import Path

import torch

from kdspeech.atomic import atomic_path
from kdspeech.errors import KdError

log = logging.getLogger(__name__)


def atomic_save(obj, path):
    """torch.save to a temporary name in the same dir, fsync, then rename over ``path``."""
    with atomic_path(path, fsync=True) as tmp:
        torch.save(obj, tmp)


def save_training_state(state, ckpt_dir):
    """Write ``last.pth``; the old ``last.pth`` becomes ``prev.pth``."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    last, prev = ckpt_dir / "last.pth", ckpt_dir / "prev.pth"
    tmp = ckpt_dir / ".next.pth"
    atomic_save(state, tmp)
    if last.exists():
        os.replace(last, prev)
    os.replace(tmp, last)


def _try_load(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable file is treated as corrupted
        log.warning("checkpoint %s is unreadable (%s: %s)", path, type(err).__name__, err)
        return None


def load_training_state(ckpt_dir):
    """The newest readable training state (``last.pth``, else ``prev.pth``), or None for a fresh start."""
    ckpt_dir = Path(ckpt_dir)
    for name in ("last.pth", ".next.pth", "prev.pth"):
        path = ckpt_dir / name
        if path.exists():
            state = _try_load(path)
            if state is not None:
                log.info("resuming from %s (epoch %d finished)", path, state["epoch"])
                return state
    return None


#: A packed model (``kdspeech pack``) placed in an exp dir in place of a trained best.pth.
PACKED_NAME = "model.zip"


def resolve_model_file(path):
    """An exp dir means its ``best.pth`` (or, without one, the packed model ``model.zip`` put there); a
    file is taken as it is."""
    path = Path(path)
    if path.is_dir():
        path = path / "best.pth" if (path / "best.pth").exists() or not (path / PACKED_NAME).exists() \
            else path / PACKED_NAME
    if not path.exists():
        raise KdError("model file not found (is the training stage that makes it finished?)", path=path)
    return path


def model_digest(path):
    """The identity of a model for output keys (``kdspeech.resume``): the SHA-256 of its model file, or
    for a pretrained network (``pretrained:<name>[:<file>]``) its loader spec with its file's SHA-256."""
    from kdspeech.packing import pretrained
    from kdspeech.resume import file_digest

    if pretrained.is_pretrained(path):
        return pretrained.identity(str(path))
    return file_digest(resolve_model_file(path))


def load_model(path, device="cpu", conf_overrides=()):
    """Rebuild a model from a kdspeech model file (``best.pth``), a packed model (``kdspeech pack``), an
    exp dir or a pretrained network (``pretrained:<name>[:<file>]``, kdspeech.packing.pretrained), in
    eval mode.

    ``conf_overrides`` (``key=value`` words) change constructor options that leave the weights as they
    are (an inference-time setting such as TinyECAPA's ``chunk`` or pse_refine's ``alpha``); one that
    changes the weights' shapes or names is a KdError."""
    from kdspeech.config import parse_overrides
    from kdspeech.models import build_model
    from kdspeech.packing.load import is_packed, load as load_packed
    from kdspeech.packing.pretrained import is_pretrained

    if is_pretrained(path):   # pretrained:<name>[:<file>]
        return load_packed(path, device=device, conf_overrides=conf_overrides)
    path = resolve_model_file(path)
    if is_packed(path):   # a packed model: every stage and verb that takes a model takes one
        return load_packed(path, device=device, conf_overrides=conf_overrides)
    state = _try_load(path)
    if state is None or "model_name" not in state:
        raise KdError("not a kdspeech model file (no model_name/model_conf/model)", path=path)
    conf = {**state["model_conf"], **parse_overrides(list(conf_overrides))}
    model = build_model(state["model_name"], conf, where=path)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        if not conf_overrides:
            raise
        raise KdError(f"--model_conf {' '.join(conf_overrides)} changes the model's weights ({err})",
                      path=path) from None
    return model.to(device).eval()
