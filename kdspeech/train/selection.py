"""Model selection by any validation figure, and the n best checkpoints.

``trainer.best: {key: valid.eer, mode: min}`` chooses the figure (default ``valid.loss``, min); an
epoch's figures are ``train.loss``, ``valid.loss`` and ``valid.<metric>`` for every metric of the
task's evaluation.  ``trainer.keep_best: N`` keeps the model files of the N best epochs in
``nbest/`` (listed in ``nbest/nbest.json``), so they can be averaged (``trainer.average_best`` or
``kdspeech.bin.average_models``), as ESPnet's ``valid.acc.ave`` or icefall's ``--avg``.
"""

import json
import math
from pathlib import Path

from kdspeech.atomic import atomic_write_text
from kdspeech.errors import KdError

DEFAULT_BEST = {"key": "valid.loss", "mode": "min"}


def parse_best(conf, where=None):
    """``{key, mode}`` from ``trainer.best`` (a dict, or just the key)."""
    conf = {"key": conf} if isinstance(conf, str) else {**DEFAULT_BEST, **(conf or {})}
    if conf["mode"] not in ("min", "max"):
        raise KdError(f"trainer.best.mode must be min or max, not '{conf['mode']}'", path=where)
    if not (conf["key"].startswith("valid.") or conf["key"] == "train.loss"):
        raise KdError(f"trainer.best.key must be valid.loss, valid.<metric> or train.loss, not "
                      f"'{conf['key']}'", path=where)
    return conf


def epoch_figure(entry, key):
    """The figure ``key`` of one history entry (None when this epoch did not compute it)."""
    if key == "train.loss":
        return entry["train_loss"]
    if key == "valid.loss":
        return entry["valid_loss"]
    return (entry.get("eval") or {}).get(key[len("valid."):])


def better(value, than, mode):
    if value is None or not math.isfinite(value):
        return False
    if than is None:
        return True
    return value < than if mode == "min" else value > than


class NBest:
    """The model files of the ``n`` best epochs by the selection figure, in ``<exp>/nbest``."""

    def __init__(self, exp_dir, n, mode):
        self.dir = Path(exp_dir) / "nbest"
        self.n, self.mode = int(n), mode
        self.index = self.dir / "nbest.json"
        self.entries = json.loads(self.index.read_text()) if self.index.exists() else []

    def offer(self, epoch, value, save):
        """Keep epoch ``epoch`` (``save(path)`` writes its model file) if it is among the n best."""
        if self.n <= 1 or value is None or not math.isfinite(value):
            return
        entries = [e for e in self.entries if e["epoch"] != epoch] + [{"epoch": epoch, "value": value}]
        entries.sort(key=lambda e: e["value"], reverse=self.mode == "max")
        kept, dropped = entries[:self.n], entries[self.n:]
        if any(e["epoch"] == epoch for e in kept):
            save(self.path(epoch))
        atomic_write_text(self.index, json.dumps(kept, indent=1))
        for e in dropped:
            self.path(e["epoch"]).unlink(missing_ok=True)
        self.entries = kept

    def path(self, epoch):
        return self.dir / f"epoch{epoch}.pth"

    def files(self):
        return [self.path(e["epoch"]) for e in self.entries]


def selection_summary(exp_dir):
    """How a finished training chose its ``best.pth`` (for RESULTS.md): the figure, its mode, the
    chosen epoch and value, the epochs run, and the averaged epochs when ``average_best`` was on."""
    import yaml

    exp_dir = Path(exp_dir)
    history = json.loads((exp_dir / "history.json").read_text())
    conf_path = exp_dir / "config.yaml"
    trainer = (yaml.safe_load(conf_path.read_text()) or {}).get("trainer", {}) if conf_path.exists() else {}
    best = parse_best(trainer.get("best"))
    chosen = None
    for entry in history:
        value = epoch_figure(entry, best["key"])
        if better(value, chosen[1] if chosen else None, best["mode"]):
            chosen = (entry["epoch"], value)
    index = exp_dir / "nbest" / "nbest.json"
    averaged = []
    if trainer.get("average_best") and index.exists():
        averaged = [e["epoch"] for e in json.loads(index.read_text())]
    return {"key": best["key"], "mode": best["mode"], "epochs": len(history),
            "epoch": chosen[0] if chosen else None, "value": chosen[1] if chosen else None,
            "averaged": averaged if len(averaged) > 1 else []}
