"""What a trained system is: its model card, read from its exp dir.

    card = describe("exp/student_s2")
    card["task"], card["sr"], card["input"], card["output"], card["provenance"], card["scores"]

From the exp dir that ``kdspeech.bin.train`` wrote: ``config.yaml`` (task, data options such as the
sample rate), ``best.pth`` (model name and options; ``averaged_from`` when ``trainer.average_best``
made it the average of the n best epochs), ``env.json`` (commit, command, seed, date), the stage stamp
``.done`` that ``utils/stage.sh`` wrote after the training stage (stage, fingerprint of what the model
was made from, the fingerprints of its data dirs), and every ``<folder>/summary.json`` beside it (the
score stages' summaries, by folder name).  Whatever is missing is left out of the card, except what
inference needs (the task and its rate, and for a classifier its classes and view): a KdError naming
the file and the option of ``kdspeech pack`` that gives it.

Input and output by task:

- enhancement: a mono waveform at ``sr`` in, a waveform at ``sr`` out;
- classification: a mono 16 kHz waveform, heard through a microphone of ``view_rate`` Hz
  (``kdspeech.bin.dump_feats.low_rate_view``) in clips of ``duration`` seconds, in; class logits out
  (``classes``, in order).  The view rate and duration are read from the training's feature dump
  (``data.feats``: its folder's name is the rate, its frames the duration);
- speaker_embedding: a mono waveform at ``sr`` in, an embedding (its ``emb`` output) out;
- asr: a mono waveform at ``sr`` in, a transcript out (``--asr_backend trained:<packed file>``).
"""

import json
from pathlib import Path

from kdspeech.errors import KdError

CARD_TASKS = ("enhancement", "personalized_enhancement", "classification", "speaker_embedding", "asr")
PANNS_SR, PANNS_HOP = 16000, 160


def read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise KdError(f"not readable JSON ({err})", path=path) from None


def read_stamp(path):
    """The record of a stage stamp (``utils/stage.sh``): stage, name, fingerprint, inputs, date,
    kdspeech_git and ``deps`` ({data dir or stage output: its fingerprint}); None without a stamp."""
    path = Path(path)
    if not path.is_file():
        return None
    record, deps = {}, {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition(" ")
        if key == "dep":
            name, _, fingerprint = value.rpartition(" ")
            deps[name] = fingerprint
        elif key in ("stage", "name", "fingerprint", "inputs", "date", "kdspeech_git", "command"):
            record[key] = value
    if deps:
        record["deps"] = deps
    return record


def recipe_of(exp_dir, env):
    """``(recipe, recipe dir)``: ``egs/<corpus>/<task>`` from the exp dir's path, and the folder the
    training ran in (the exp dir less the ``--out_dir`` of its command)."""
    exp_dir = Path(exp_dir).resolve()
    parts = exp_dir.parts
    recipe = None
    if "egs" in parts:
        i = len(parts) - 1 - parts[::-1].index("egs")
        if len(parts) >= i + 3:
            recipe = "/".join(parts[i:i + 3])
    run_dir = None
    words = (env or {}).get("command", "").split()
    if "--out_dir" in words[:-1]:
        out = Path(words[words.index("--out_dir") + 1])
        if not out.is_absolute() and exp_dir.parts[-len(out.parts):] == out.parts:
            run_dir = Path(*exp_dir.parts[:-len(out.parts)])
    return recipe, run_dir


def _command_arg(env, name):
    words = (env or {}).get("command", "").split()
    return words[words.index(name) + 1] if name in words[:-1] else None


def _resolve(path, run_dir):
    path = Path(path)
    return path if path.is_absolute() or run_dir is None else run_dir / path


def classification_view(conf, run_dir, overrides, where):
    """``(view_rate, duration, classes)`` of a classifier (see the module text)."""
    import numpy as np

    from kdspeech.tasks.classification import read_classes

    data = conf.get("data") or {}
    feats = _resolve(data["feats"], run_dir) if data.get("feats") else None
    rate, duration = overrides.get("view_rate"), overrides.get("duration")
    if rate is None and feats is not None and feats.name.isdigit():
        rate = int(feats.name)
    if duration is None and feats is not None and (feats / "feats.npy").is_file():
        frames = np.load(feats / "feats.npy", mmap_mode="r").shape[1]
        duration = (frames - 1) * PANNS_HOP / PANNS_SR
    if rate is None or duration is None:
        raise KdError(f"the classifier's view rate and clip duration come from its feature dump "
                      f"({feats or 'data.feats'}), which is not there: give --view_rate and --duration "
                      "to kdspeech pack", path=where)
    classes = overrides.get("classes")
    if classes is None:
        train = _command_arg(overrides.get("_env"), "--train_data")
        source = data.get("classes") or (Path(train) / "classes.txt" if train else None)
        if source is None or not _resolve(source, run_dir).is_file():
            raise KdError(f"the class list ({source or 'classes.txt of the training data'}) is not there: "
                          "give --classes FILE to kdspeech pack", path=where)
        classes = str(_resolve(source, run_dir))
    return int(rate), float(duration), read_classes(classes)


def io_description(task, sr, model_conf, view=None):
    """``(input, output)`` descriptions of a task (see the module text)."""
    if task in ("enhancement", "personalized_enhancement"):
        return ({"kind": "waveform", "sr": sr, "channels": 1},
                {"kind": "waveform", "sr": sr, "channels": 1})
    if task == "classification":
        rate, duration, classes = view
        return ({"kind": "waveform", "sr": PANNS_SR, "channels": 1, "view_rate": rate, "duration": duration},
                {"kind": "logits", "classes": classes})
    if task == "asr":   # the model file carries its token list (conformer_ctc's options)
        return ({"kind": "waveform", "sr": sr, "channels": 1},
                {"kind": "transcript", "tokens": len(model_conf.get("tokens") or []) or None})
    return ({"kind": "waveform", "sr": sr, "channels": 1},
            {"kind": "embedding", "dim": model_conf.get("emb_dim")})


def describe(exp_dir, overrides=None):
    """The model card of an exp dir (a dict; see the module text).  ``overrides``: ``sr``,
    ``view_rate``, ``duration``, ``classes`` (a class-list file) for what the exp dir does not say."""
    import torch

    from kdspeech.config import read_yaml
    from kdspeech.tasks import get_task
    from kdspeech.train.checkpoint import resolve_model_file

    exp_dir = Path(exp_dir)
    overrides = dict(overrides or {})
    best = resolve_model_file(exp_dir)
    conf_path = exp_dir / "config.yaml"
    if not conf_path.is_file():
        raise KdError("no config.yaml: not an exp dir of kdspeech.bin.train (its task and rate are unknown)",
                      path=conf_path)
    conf = read_yaml(conf_path)
    task = conf.get("task")
    if task not in CARD_TASKS:
        raise KdError(f"task '{task}' cannot be described (known: {', '.join(CARD_TASKS)})", path=conf_path)
    env = read_json(exp_dir / "env.json")
    recipe, run_dir = recipe_of(exp_dir, env)
    state = torch.load(best, map_location="cpu", weights_only=False)
    if "model_name" not in state:
        raise KdError("not a kdspeech model file (no model_name/model_conf/model)", path=best)
    sr = overrides.get("sr") or (conf.get("data") or {}).get("sr") or get_task(task).data_defaults().get("sr")
    view = None
    if task == "classification":
        view = classification_view(conf, run_dir, {**overrides, "_env": env}, conf_path)
    inp, out = io_description(task, int(sr or PANNS_SR), state["model_conf"], view)
    trainer = conf.get("trainer") or {}
    card = {
        "task": task,
        "sr": inp["sr"],
        "model": {"name": state["model_name"], "conf": state["model_conf"],
                  "parameters": int(sum(v.numel() for v in state["model"].values() if v.is_floating_point()))},
        "input": inp,
        "output": out,
        "weights": {"file": "best.pth", "selected_by": trainer.get("best"),
                    "averaged_epochs": len(state.get("averaged_from") or []) or None},
        "provenance": {"exp_dir": str(exp_dir.resolve()), "system": exp_dir.resolve().name, "recipe": recipe,
                       "commit": (env or {}).get("git"), "command": (env or {}).get("command"),
                       "seed": (env or {}).get("seed"), "trained": (env or {}).get("date"),
                       "stage": read_stamp(exp_dir / ".done")},
        "scores": scores_beside(exp_dir),
    }
    return card


def scores_beside(exp_dir):
    """``{folder: summary}`` of every ``<exp dir>/<folder>/summary.json``."""
    out = {}
    for path in sorted(Path(exp_dir).glob("*/summary.json")):
        summary = read_json(path)
        if summary is not None:
            out[path.parent.name] = summary
    return out


def config_text(exp_dir):
    """The exp dir's config.yaml as it is (for the packed file)."""
    path = Path(exp_dir) / "config.yaml"
    return path.read_text(encoding="utf-8") if path.is_file() else None

