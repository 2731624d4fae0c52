"""Official PANNs checkpoints (Kong et al., ``Cnn14_16k_mAP=0.438.pth``...): read into kdspeech's PANNs.

The official files are a dict whose ``model`` entry is the state dict, with the AudioSet head
``fc_audioset`` (527 classes) and the front-end buffers ``spectrogram_extractor.*`` /
``logmel_extractor.*``, which are skipped (kdspeech's front end computes the same log-mel).

* ``load_pretrained(model, path)`` initialises a model for fine-tuning: the backbone strictly, the
  new head ``fc_transfer`` kept fresh (a kdspeech model file of the same architecture loads whole).
* the ``panns`` loader (a frozen teacher) builds the architecture with the AudioSet head and loads
  everything, ``fc_audioset`` as ``fc_transfer``: an AudioSet tagger as it was published.
"""

import torch

from kdspeech.errors import KdError
from kdspeech.models.loaders import LOADERS

OFFICIAL_SKIP = ("spectrogram_extractor.", "logmel_extractor.", "spec_augmenter.")
OFFICIAL_HEAD = "fc_audioset."
AUDIOSET_CLASSES = 527


def _read(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise KdError("pretrained checkpoint not found", path=path) from None
    except Exception as err:  # noqa: BLE001 - any unreadable file
        raise KdError(f"cannot read pretrained checkpoint ({type(err).__name__}: {err})", path=path) from None


def _own_backbone_keys(model):
    return {k: v for k, v in model.state_dict().items()
            if not k.startswith("frontend.") and not k.startswith("fc_transfer.")}


def load_pretrained(model, path):
    """Initialise ``model`` from an official PANNs checkpoint (backbone strictly, new head kept fresh)
    or from a kdspeech model file of the same architecture (everything, head included).

    Raises KdError naming the file and the offending keys for unknown, missing or wrongly shaped keys.
    """
    ckpt = _read(path)
    if isinstance(ckpt, dict) and "model_name" in ckpt:  # a kdspeech model file (best.pth)
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError as err:
            raise KdError(f"kdspeech model file does not fit this model: {err}", path=path) from None
        return model
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise KdError("not a PANNs checkpoint (expected a dict with key 'model' holding the state dict)",
                      path=path)
    head = {k: v for k, v in state.items() if k.startswith(OFFICIAL_HEAD)}
    if OFFICIAL_HEAD + "weight" not in head:
        raise KdError("not a PANNs checkpoint: no fc_audioset.weight (the AudioSet head)", path=path)
    backbone = {k: v for k, v in state.items()
                if not k.startswith(OFFICIAL_SKIP) and not k.startswith(OFFICIAL_HEAD)}
    own = _own_backbone_keys(model)
    unknown = sorted(set(backbone) - set(own))
    missing = sorted(set(own) - set(backbone))
    if unknown or missing:
        raise KdError(f"checkpoint does not match {type(model).__name__}: "
                      f"unknown keys {unknown[:5]}{'...' if len(unknown) > 5 else ''}, "
                      f"missing keys {missing[:5]}{'...' if len(missing) > 5 else ''}", path=path)
    bad = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
           for k, v in backbone.items() if tuple(v.shape) != tuple(own[k].shape)]
    if bad:
        raise KdError(f"checkpoint shapes do not match {type(model).__name__} (wrong width?): "
                      + "; ".join(bad[:3]), path=path)
    result = model.load_state_dict(backbone, strict=False)
    left = [k for k in result.missing_keys if not k.startswith(("frontend.", "fc_transfer."))]
    assert not left and not result.unexpected_keys, (left, result.unexpected_keys)
    return model


def to_official_state(model, audioset_classes=AUDIOSET_CLASSES):
    """The model's weights in the official PANNs layout (``fc_audioset`` of ``audioset_classes``), for
    tests and export: ``{"model": state_dict}``."""
    state = _own_backbone_keys(model)
    emb = model.fc_transfer.in_features
    state[OFFICIAL_HEAD + "weight"] = torch.randn(audioset_classes, emb) * 0.01
    state[OFFICIAL_HEAD + "bias"] = torch.zeros(audioset_classes)
    state["logmel_extractor.melW"] = torch.zeros(512 // 2 + 1, 64)
    state["spectrogram_extractor.stft.conv_real.weight"] = torch.zeros(257, 1, 512)
    state["spectrogram_extractor.stft.conv_imag.weight"] = torch.zeros(257, 1, 512)
    return {"model": state, "iteration": 0}


@LOADERS.register("panns")
def load_panns_tagger(path, model="cnn14", conf=None):
    """A published PANNs AudioSet tagger (``model``: cnn14, resnet38, mobilenetv2; ``conf``: its
    options, e.g. ``width``), logits over the 527 AudioSet classes."""
    from kdspeech.models import build_model

    net = build_model(model, {**(conf or {}), "num_classes": AUDIOSET_CLASSES})
    load_pretrained(net, path)
    state = _read(path)
    state = state.get("model", state)
    net.fc_transfer.load_state_dict({"weight": state[OFFICIAL_HEAD + "weight"],
                                     "bias": state[OFFICIAL_HEAD + "bias"]})
    return net.eval()
