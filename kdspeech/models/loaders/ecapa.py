"""Published ECAPA-TDNN checkpoints as frozen teachers (``kdspeech.models.ecapa_tdnn``).

* ``ecapa_taoruijie``: TaoRuijie/ECAPA-TDNN ``exps/pretrain.model``, the state dict of its
  ``ECAPAModel``: ``speaker_encoder.*`` (the network and its fbank buffers) and ``speaker_loss.weight``
  (the AAM-softmax classes, dropped).  A ``module.`` prefix (DataParallel) is accepted.
* ``ecapa_speechbrain``: SpeechBrain ``spkrec-ecapa-voxceleb`` ``embedding_model.ckpt``, the bare state
  dict of its ``ECAPA_TDNN`` (``blocks.0.conv.conv.weight`` ...), also with an ``embedding_model.`` or
  ``mods.embedding_model.`` prefix.
* ``ecapa``: either, told apart by the keys.

Widths (C, MFA, attention, embedding size) are read from the weight shapes, so reduced-width models
load too.  Keys that match neither layout: a KdError naming the file, the first missing and the
first unexpected keys.
"""

import torch

from kdspeech.errors import KdError
from kdspeech.models.loaders import LOADERS

TAO_PREFIX = "speaker_encoder."
TAO_DROP = ("speaker_loss.",)
SB_PREFIXES = ("mods.embedding_model.", "embedding_model.")
FRONTENDS = ("torchfbank.", "frontend.")
SHOW = 5


def read_state(path):
    """The state dict in a checkpoint file (a bare state dict, or one under ``state_dict``/``model``)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise KdError("checkpoint not found", path=path) from None
    except Exception as err:  # noqa: BLE001 - any unreadable file
        raise KdError(f"cannot read checkpoint ({type(err).__name__}: {err})", path=path) from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise KdError("not a state dict of tensors", path=path)
    return state


def _strip(state, prefixes):
    out = {}
    for key, value in state.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        out[key] = value
    return out


def _tao_state(state):
    state = _strip(state, ("module.",))
    return {k[len(TAO_PREFIX):] if k.startswith(TAO_PREFIX) else k: v
            for k, v in state.items() if not k.startswith(TAO_DROP)}


def _sb_state(state):
    return _strip(state, SB_PREFIXES)


def _shape(state, key, path, layout):
    if key not in state:
        raise mismatch(path, layout, [key], sorted(state)[:SHOW])
    return state[key].shape


def mismatch(path, layout, missing, unexpected):
    return KdError(f"keys do not match the {layout} ECAPA-TDNN layout: first missing keys "
                   f"{missing[:SHOW]}, first unexpected keys {unexpected[:SHOW]}", path=path)


def load_into(model, state, path, layout):
    """Load ``state`` into ``model`` strictly (front-end buffers may be absent: they are fixed)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.startswith(FRONTENDS)]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise mismatch(path, layout, missing, unexpected)
    bad = [f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
           for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)]
    if bad:
        raise KdError(f"weight shapes do not match the {layout} ECAPA-TDNN: " + "; ".join(bad[:3]),
                      path=path)
    model.load_state_dict(state, strict=False)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


@LOADERS.register("ecapa_taoruijie")
def load_taoruijie(path):
    """TaoRuijie/ECAPA-TDNN ``pretrain.model`` -> frozen ``ecapa_tdnn`` (layout taoruijie)."""
    from kdspeech.models.ecapa_tdnn import ecapa_tdnn

    state = _tao_state(read_state(path))
    conv1 = _shape(state, "conv1.weight", path, "taoruijie")
    layer4 = _shape(state, "layer4.weight", path, "taoruijie")
    model = ecapa_tdnn(layout="taoruijie", channels=conv1[0], n_mels=conv1[1], mfa_channels=layer4[0],
                       attention_channels=_shape(state, "attention.0.weight", path, "taoruijie")[0],
                       emb_dim=_shape(state, "fc6.weight", path, "taoruijie")[0],
                       se_channels=_shape(state, "layer1.se.se.1.weight", path, "taoruijie")[0])
    return load_into(model, state, path, "taoruijie")


@LOADERS.register("ecapa_speechbrain")
def load_speechbrain(path):
    """SpeechBrain ``embedding_model.ckpt`` -> frozen ``ecapa_tdnn`` (layout speechbrain)."""
    from kdspeech.models.ecapa_tdnn import ecapa_tdnn

    state = _sb_state(read_state(path))
    stem = _shape(state, "blocks.0.conv.conv.weight", path, "speechbrain")
    model = ecapa_tdnn(layout="speechbrain", channels=stem[0], n_mels=stem[1],
                       mfa_channels=_shape(state, "mfa.conv.conv.weight", path, "speechbrain")[0],
                       attention_channels=_shape(state, "asp.tdnn.conv.conv.weight", path, "speechbrain")[0],
                       emb_dim=_shape(state, "fc.conv.weight", path, "speechbrain")[0],
                       se_channels=_shape(state, "blocks.1.se_block.conv1.conv.weight", path,
                                          "speechbrain")[0])
    return load_into(model, state, path, "speechbrain")


@LOADERS.register("ecapa")
def load_any(path):
    """Either published layout, told apart by its keys."""
    state = read_state(path)
    if "conv1.weight" in _tao_state(state):
        return load_taoruijie(path)
    if "blocks.0.conv.conv.weight" in _sb_state(state):
        return load_speechbrain(path)
    keys = sorted(state)[:SHOW]
    raise KdError(f"keys match neither ECAPA-TDNN layout: no '{TAO_PREFIX}conv1.weight' (TaoRuijie) "
                  f"nor 'blocks.0.conv.conv.weight' (SpeechBrain); first keys of the file {keys}",
                  path=path)
