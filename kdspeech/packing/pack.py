"""Pack a trained system into one file: ``kdspeech pack exp/<system> model.zip``.

The file is a zip archive holding

- ``kdspeech.json``: the model card (``kdspeech.packing.describe``: task, sample rate, input and
  output description, classes, weights, recipe, commit, stage fingerprint and data fingerprints,
  scores) plus ``format`` / ``format_version`` (``FORMAT_VERSION``) and when and by which kdspeech it
  was packed;
- ``model.pth``: the weights in the checkpoint format of ``kdspeech.train.checkpoint`` (``model_name``,
  ``model_conf``, ``model``: ``best.pth``, which is the average of the n best epochs when the training
  averaged them), without optimizer state;
- ``config.yaml`` and ``env.json`` of the exp dir, as they are, when present.

A pretrained network (``pretrained:<name>[:<file>]``, ``kdspeech.packing.pretrained``) packs as its card
alone, which names the loader, its options and its file.

It is written under a temporary name and renamed (``kdspeech.atomic``), so a packed file is complete
or absent.  ``kdspeech.load`` reads it back; a file of a newer ``format_version`` than this kdspeech
reads is one KdError saying to update kdspeech.
"""

import datetime
import io
import json
import zipfile
from pathlib import Path

from kdspeech.atomic import atomic_path
from kdspeech.errors import KdError

FORMAT = "kdspeech-model"
FORMAT_VERSION = 1
CARD = "kdspeech.json"
WEIGHTS = "model.pth"


def pack(exp_dir, out, overrides=None):
    """Write the packed model ``out`` from ``exp_dir``; returns its card."""
    import torch

    import kdspeech
    from kdspeech.env import git_hash
    from kdspeech.packing.describe import config_text, describe
    from kdspeech.train.checkpoint import resolve_model_file

    from kdspeech.packing import pretrained

    weights = None
    if pretrained.is_pretrained(exp_dir):   # a card naming its loader
        unused = sorted(set(overrides or {}) - {"sr"})
        if unused:
            raise KdError(f"a pretrained network takes --sr only, not --{', --'.join(unused)}", path=exp_dir)
        card = pretrained.card_of(pretrained.spec_of(str(exp_dir), (overrides or {}).get("sr")))
    else:
        exp_dir = Path(exp_dir)
        card = describe(exp_dir, overrides)
        state = torch.load(resolve_model_file(exp_dir), map_location="cpu", weights_only=False)
        weights = io.BytesIO()
        torch.save({"model_name": state["model_name"], "model_conf": state["model_conf"],
                    "model": state["model"]}, weights)
    card = {"format": FORMAT, "format_version": FORMAT_VERSION, **card,
            "packed": {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                       "kdspeech": kdspeech.__version__, "kdspeech_git": git_hash()}}
    with atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w") as archive:
            archive.writestr(CARD, json.dumps(card, indent=1, sort_keys=False) + "\n",
                             compress_type=zipfile.ZIP_DEFLATED)
            if weights is None:
                return card
            archive.writestr(WEIGHTS, weights.getvalue(), compress_type=zipfile.ZIP_STORED)
            for name in ("config.yaml", "env.json"):
                if (exp_dir / name).is_file():
                    text = config_text(exp_dir) if name == "config.yaml" else (exp_dir / name).read_text()
                    archive.writestr(name, text, compress_type=zipfile.ZIP_DEFLATED)
    return card
