"""Dry run of one paper-size config, in a process of its own (so that its peak memory is its own).

    python -m kdspeech.dryrun.one --config egs/dns5/pse/conf/train_light.yaml --work /tmp/x \\
        [--steps 2] [--batch 1] [--seconds 1.0] [--device cpu] [--corpora ../shared/corpora]

Through the project's one trainer (``kdspeech.bin.train``) and its real data path: the config with
its dependencies on other runs replaced by fresh weights (``kdspeech.dryrun.configs``), data dirs of
a few real files (``kdspeech.dryrun.data``), crops of at most ``--seconds``, batch ``--batch``, one
epoch of ``--steps`` updates that writes a checkpoint; then the same command with max_epochs 2, which
resumes from it, trains ``--steps`` more and runs the task's validation evaluation.  The last line on
stdout is a JSON record: ``params`` (of the model trained), ``peak_mb`` (peak RSS of this process on
the CPU, ``torch.cuda.max_memory_allocated`` on CUDA), ``s_per_step`` (the resumed epoch's seconds per
update), ``ok``, ``error``, ``notes`` (what got fresh weights or was left out), ``gpu_busy`` (CUDA: the
fraction of the resumed run's wall time with a kernel running, by the torch profiler).  ``--set KEY=VALUE``
changes the config of both runs (precision, workers: benchmarks/bench_gpu_step.py).
"""

import argparse
import json
import logging
import resource
import sys
import time
import traceback
from pathlib import Path

from kdspeech.config import read_yaml, save_config
from kdspeech.dryrun.configs import PaperConfig, prepare
from kdspeech.dryrun.data import SR, make_data
from kdspeech.errors import KdError


def _fit_config(conf, made, task, batch, seconds, device):
    """The prepared config pointed at the dry-run data, with short crops and small batches."""
    from kdspeech.tasks import get_task

    data = conf.setdefault("data", {}) or {}
    conf["data"] = data
    for key, value in made["data"].items():
        data[key] = {**(data.get(key) or {}), **value} if isinstance(value, dict) else value
    if task not in ("classification", "asr"):   # whole utterances: the files are cut to `seconds`
        segment = data.get("segment", get_task(task).data_defaults().get("segment"))
        if segment and int(segment) > int(seconds * SR):
            data["segment"] = int(seconds * SR)
    conf["model"]["conf"] = {**(conf["model"].get("conf") or {}), **made["model"]}
    conf["batch_size"] = batch
    conf["batch_seconds"] = None   # batches of `batch` examples, not of seconds
    if conf.get("valid_batch_size"):
        conf["valid_batch_size"] = batch
    conf["num_workers"] = 0   # data in this process: its peak RSS is the whole run's
    trainer = conf.setdefault("trainer", {}) or {}
    conf["trainer"] = trainer
    trainer.update({"device": device, "tensorboard": False, "log_interval": 1, "patience": None,
                    "eval_every": None})
    return conf


def _floors(model_conf, task, seconds, batch, notes):
    """``(seconds, batch)`` raised to what the model needs: crops of one ``chunk`` (models that cut
    their input into chunks), 2 examples per batch for speaker embedders (BatchNorm over the
    embedding has one value per channel at batch 1)."""
    chunk = float(model_conf.get("chunk") or 0)
    if chunk > seconds:
        notes.append(f"crops of {chunk:g} s, the model's chunk (not {seconds:g} s)")
        seconds = chunk
    if task == "speaker_embedding" and batch < 2:
        notes.append("batch 2 (BatchNorm of the embedding needs 2 examples)")
        batch = 2
    return seconds, batch


def _peak_mb(device):
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


def _profiled(fn, device):
    """``fn()`` and the fraction of its wall time the GPU was busy (CUDA kernels, by the torch
    profiler; None on the CPU)."""
    import torch

    if not device.startswith("cuda"):
        fn()
        return None
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    t0 = time.time()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    wall_us = (time.time() - t0) * 1e6
    busy_us = sum(e.self_device_time_total for e in prof.key_averages())
    return round(min(busy_us / max(wall_us, 1.0), 1.0), 3)


def run(pc, work, steps=2, batch=1, seconds=1.0, device="cpu", corpora=None, record=None, overrides=()):
    """The JSON record of the module docstring, filled into ``record`` as it goes (raises on failure:
    the caller records the error beside the notes made so far).  ``overrides``: ``key=value`` config
    changes of both runs (``trainer.precision=bf16``, ``num_workers=2``: benchmarks/bench_gpu_step.py);
    the resumed run's GPU busy fraction goes to ``gpu_busy``."""
    from kdspeech.bin import train
    from kdspeech.train.checkpoint import load_training_state

    work = Path(work)
    record = {"config": pc.name, "task": pc.task, "notes": []} if record is None else record
    conf, notes = prepare(pc, work / "fresh")
    record["notes"] += notes
    model_conf = conf["model"].get("conf") or {}
    seconds, batch = _floors(model_conf, pc.task, seconds, batch, record["notes"])
    made = make_data(pc.task, corpora, work / "data", steps * batch, seconds, model_conf.get("emb_dim") or 256)
    conf = _fit_config(conf, made, pc.task, batch, seconds, device)
    conf_path = work / "conf.yaml"
    save_config(conf, conf_path)
    exp = work / "exp"
    args = ["--config", str(conf_path), "--train_data", str(made["train"]), "--valid_data",
            str(made["valid"]), "--out_dir", str(exp), "--seed", "1", *overrides]
    train.main(args + ["trainer.max_epochs=1"])
    first = load_training_state(exp / "checkpoints")
    if first is None or first["epoch"] != 1:
        raise KdError("no checkpoint after the first epoch", path=exp / "checkpoints")
    record["gpu_busy"] = _profiled(lambda: train.main(args + ["trainer.max_epochs=2", "trainer.eval_every=1"]),
                                   device)
    state = load_training_state(exp / "checkpoints")
    history = json.loads((exp / "history.json").read_text())
    if state["epoch"] != 2 or len(history) != 2 or history[0] != first["history"][0]:
        raise KdError("the second run did not resume from the first one's checkpoint", path=exp)
    if "eval" not in history[-1]:
        raise KdError("no validation evaluation after the resumed epoch", path=exp / "history.json")
    env = json.loads((exp / "env.json").read_text())
    record.update({"params": env["num_parameters"], "s_per_step": history[-1]["seconds"] / steps,
                   "eval": history[-1]["eval"]})
    return record


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="a paper-size training config of a recipe")
    p.add_argument("--recipe", required=True, help="corpus/task that owns the config's conf dir")
    p.add_argument("--work", required=True, help="scratch dir (data, fresh weights, exp dir)")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--corpora", required=True)
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides of both runs")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    path = Path(args.config)
    pc = PaperConfig(args.recipe, path, read_yaml(path))
    t0 = time.time()
    record = {"config": pc.name, "task": pc.task, "notes": []}
    try:
        run(pc, args.work, args.steps, args.batch, args.seconds, args.device, args.corpora, record, args.set)
        record.update(ok=True, error=None)
    except Exception as err:  # noqa: BLE001 - every failure is a row of the table
        traceback.print_exc()
        lines = str(err).strip().splitlines()
        record.update(ok=False, error=f"{type(err).__name__}: {lines[-1] if lines else ''}")
    record.update(peak_mb=round(_peak_mb(args.device), 1), wall_s=round(time.time() - t0, 1))
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
