"""Run a teacher set of a training config once over a data dir and save its outputs (a teacher cache).

    python -m kdspeech.bin.cache_teacher --config conf/train_kd.yaml --teacher kd \\
        --data dump/valid --out exp/kd_cache/valid.npz [--batch_size 32] [--device auto] [key.path=value ...]
    python -m kdspeech.bin.cache_teacher ... --out exp/kd_cache/train [--shard_size 1000] [--num_workers 2]

An ``--out`` ending in ``.npz`` is one file, written at the end and read whole by the training; any
other ``--out`` is a sharded cache directory (``kdspeech.distill.cache_store``): ``--shard_size``
examples per shard, each written atomically when complete, memory-mapped and read lazily by the
training, so it need not fit in memory; a run killed half-way keeps its finished shards and the next
run computes only the others.

The task's dataset is built in validation mode (fixed crops: ``data.segment`` of the config, or
``data.segment=0`` for whole utterances of equal length; ``--seed`` as the training's, which places
the crops), the set's live ``members`` run on the view its
``input`` names, and every output (``logits``, ``emb``, ``wav``...) is saved under its key with the
examples' ``keys`` and the ``view``.  A config then reads the file as ``precomputed: [...]``, keeping
``members`` so the table is checked against the live teacher before it is trusted.
"""

import argparse
import logging
import os
from pathlib import Path

import numpy as np
import torch

from kdspeech.atomic import atomic_path
from kdspeech.cli import positive_count, run_main
from kdspeech.config import load_config
from kdspeech.distill.cache_store import ShardWriter
from kdspeech.distill.teachers import build_teacher_sets
from kdspeech.errors import KdError
from kdspeech.tasks import get_task
from kdspeech.train.distributed import pick_device

log = logging.getLogger("kdspeech.cache_teacher")


def main(argv=None):
    from kdspeech.bin.train import DEFAULTS, FREE

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="training config naming the teacher set")
    p.add_argument("--teacher", required=True, help="name of the teacher set in the config")
    p.add_argument("--data", required=True, help="data dir to run the teacher over")
    p.add_argument("--out", required=True, help="output .npz (one file), or a directory (sharded cache)")
    p.add_argument("--shard_size", type=positive_count, default=1000,
                   help="examples per shard of a sharded cache (not for an .npz)")
    p.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--seed", type=int, default=1, help="the training's --seed (it places validation crops)")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("overrides", nargs="*", help="config overrides key.path=value")
    args = p.parse_args(argv)
    conf = load_config(args.config, args.overrides, DEFAULTS, FREE)
    spec = dict((conf["teachers"] or {}).get(args.teacher) or {})
    if not spec:
        raise KdError(f"the config has no teacher set '{args.teacher}'", path=args.config)
    if not spec.get("members"):
        raise KdError(f"teacher set '{args.teacher}' has no live 'members' to run", path=args.config)
    spec.pop("precomputed", None)
    if spec.get("apply_to", "batch") != "batch":
        raise KdError(f"teacher set '{args.teacher}' is applied to the student: nothing to cache", path=args.config)
    device = pick_device(args.device)
    teacher = build_teacher_sets({args.teacher: spec}, device, args.config)[args.teacher]
    dataset = get_task(conf["task"]).build_dataset(args.data, conf["data"], False, args.seed, args.config)
    view = spec.get("input", "input")
    if str(args.out).endswith(".npz"):
        keys, outputs = run_teacher(teacher, dataset, range(len(dataset)), args, device)
        with atomic_path(args.out) as tmp:
            np.savez(tmp, keys=np.array(keys), view=np.array(view), **outputs)
    else:
        meta = {"teacher": args.teacher, "spec": spec, "data": os.path.abspath(args.data), "seed": args.seed,
                "task": conf["task"], "data_options": conf["data"], "examples": len(dataset),
                "shard_size": args.shard_size, "view": view}
        writer = ShardWriter(args.out, meta)
        shards = -(-len(dataset) // args.shard_size)
        done = [i for i in range(shards) if writer.done(i)]
        if done:
            log.info("%s: %d of %d shards already finished (resumed)", args.out, len(done), shards)
        outputs = set()
        for shard in range(shards):
            if writer.done(shard):
                continue
            first = shard * args.shard_size
            keys, arrays = run_teacher(teacher, dataset, range(first, min(first + args.shard_size, len(dataset))),
                                       args, device)
            writer.write(shard, keys, arrays)
            outputs |= set(arrays)
            log.info("%s: shard %d of %d written", args.out, shard + 1, shards)
        if not outputs:   # every shard was already there: the names from the first one
            outputs = {p.stem for p in (Path(args.out) / "shard-00000").glob("*.npy")}
        writer.finish(shards, outputs, view)
        keys = range(len(dataset))
    log.info("%d examples, outputs %s of teacher set '%s' -> %s", len(keys), ", ".join(sorted(outputs)),
             args.teacher, args.out)
    return 0


def run_teacher(teacher, dataset, indices, args, device):
    """``(keys, {output: array})`` of the teacher over the examples ``indices`` of ``dataset``."""
    subset = torch.utils.data.Subset(dataset, list(indices))
    loader = torch.utils.data.DataLoader(subset, batch_size=args.batch_size, shuffle=False,
                                         num_workers=args.num_workers)
    keys, outputs = [], {}
    for batch in loader:
        batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
        for name, value in teacher(batch).items():
            outputs.setdefault(name, []).append(value.float().cpu().numpy())
        keys += list(batch["key"])
    return keys, {name: np.concatenate(parts) for name, parts in outputs.items()}


if __name__ == "__main__":
    run_main(main)
