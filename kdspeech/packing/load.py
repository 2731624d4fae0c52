"""A ready model from a packed file, an exp dir or its ``best.pth``: ``kdspeech.load``.

    model = kdspeech.load("model.zip")            # or "exp/student_s2", or "exp/student_s2/best.pth"
    model.meta["sr"], model.meta["task"], model.meta["output"]
    y = model(x)                                   # eval mode, on the CPU unless device= says otherwise

The network is rebuilt by the one checkpoint loader (``kdspeech.train.checkpoint.load_model``) and put
in eval mode; ``meta`` is its card (``kdspeech.packing.describe``): for a packed file the card it
carries, for an exp dir the card read from it now.  A packed file of a newer format than this
kdspeech reads, a zip that is not a packed model, or a damaged one is a KdError naming the file.
"""

import json
import os
import tempfile
import zipfile
from pathlib import Path

from kdspeech.errors import KdError
from kdspeech.packing.pack import CARD, FORMAT, FORMAT_VERSION, WEIGHTS


def read_card(path):
    """The card of a packed file (format checked)."""
    try:
        with zipfile.ZipFile(path) as archive:
            card = json.loads(archive.read(CARD).decode("utf-8"))
    except KeyError:
        raise KdError(f"a zip without {CARD}: not a packed kdspeech model (make one with kdspeech pack)",
                      path=path) from None
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise KdError(f"not a readable packed model ({err})", path=path) from None
    if card.get("format") != FORMAT:
        raise KdError(f"{CARD} is not a kdspeech model card (format '{card.get('format')}')", path=path)
    version = card.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise KdError(f"packed with model format {version} by a newer kdspeech "
                      f"({(card.get('packed') or {}).get('kdspeech', '?')}); this kdspeech reads format "
                      f"{FORMAT_VERSION} and older: update kdspeech (git pull, then tools/install.sh)", path=path)
    return card


def is_packed(path):
    """Whether ``path`` is a packed model: a zip holding the card (a torch ``.pth`` is a zip too)."""
    if not (Path(path).is_file() and zipfile.is_zipfile(path)):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return CARD in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def load(path, device="cpu", conf_overrides=()):
    """The model of ``path`` (packed file, exp dir, model file in an exp dir, or a pretrained network:
    ``pretrained:<name>[:<file>]``, ``kdspeech.packing.pretrained``), in eval mode on ``device``, with
    its card as ``model.meta``."""
    from kdspeech.packing import pretrained
    from kdspeech.packing.describe import describe
    from kdspeech.train.checkpoint import load_model, resolve_model_file

    if pretrained.is_pretrained(path):
        _no_overrides(conf_overrides, path)
        spec = pretrained.spec_of(str(path))
        return _with_card(pretrained.load_spec(spec, device, where=path), pretrained.card_of(spec), path)
    path = Path(path)
    if not path.exists():
        raise KdError("no such packed model, exp dir or model file", path=path)
    if path.is_dir() and is_packed(resolve_model_file(path)):   # an exp dir holding a packed model.zip
        path = resolve_model_file(path)
    if is_packed(path) or (path.is_file() and path.suffix == ".zip"):   # a .zip without a card: say so
        card = read_card(path)
        if "pretrained" in card:   # a packed pretrained network: its card names the loader and file
            _no_overrides(conf_overrides, path)
            return _with_card(pretrained.load_spec(card["pretrained"], device, where=path), card, path)
        with tempfile.TemporaryDirectory(prefix="kdspeech-load-") as tmp:
            weights = os.path.join(tmp, WEIGHTS)
            try:
                with zipfile.ZipFile(path) as archive, open(weights, "wb") as out:
                    out.write(archive.read(WEIGHTS))
            except (KeyError, zipfile.BadZipFile, OSError) as err:
                raise KdError(f"the packed model's weights cannot be read ({err})", path=path) from None
            model = load_model(weights, device=device, conf_overrides=conf_overrides)
    else:
        exp_dir = path if path.is_dir() else path.parent
        card = describe(exp_dir)
        model = load_model(path, device=device, conf_overrides=conf_overrides)
    return _with_card(model, card, path)


def _with_card(model, card, path):
    if "meta" in vars(model) or hasattr(type(model), "meta"):
        raise KdError(f"{type(model).__name__} has its own attribute 'meta'; cannot attach the model card",
                      path=path)
    model.meta = card
    return model


def _no_overrides(conf_overrides, path):
    if conf_overrides:
        raise KdError(f"a pretrained network takes no --model_conf ({' '.join(conf_overrides)})", path=path)
