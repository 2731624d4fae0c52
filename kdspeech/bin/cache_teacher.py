"""Run a teacher set of a training config once over a data dir and save its outputs (a teacher cache).

    python -m kdspeech.bin.cache_teacher --config conf/train_kd.yaml --teacher kd \\
        --data dump/valid --out exp/kd_cache/valid.npz [--batch_size 32] [--device auto] [key.path=value ...]

The task's dataset is built in validation mode (fixed crops: ``data.segment`` of the config, or
``data.segment=0`` for whole utterances of equal length; ``--seed`` as the training's, which places
the crops), the set's live ``members`` run on the view its
``input`` names, and every output (``logits``, ``emb``, ``wav``...) is saved under its key with the
examples' ``keys`` and the ``view``.  A config then reads the file as ``precomputed: [...]``, keeping
``members`` so the table is checked against the live teacher before it is trusted.
"""

import argparse
import logging

import numpy as np
import torch

from kdspeech.atomic import atomic_path
from kdspeech.cli import run_main
from kdspeech.config import load_config
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
    p.add_argument("--out", required=True, help="output .npz")
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
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=False)
    keys, outputs = [], {}
    for batch in loader:
        batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
        for name, value in teacher(batch).items():
            outputs.setdefault(name, []).append(value.float().cpu().numpy())
        keys += list(batch["key"])
    with atomic_path(args.out) as tmp:
        np.savez(tmp, keys=np.array(keys), view=np.array(spec.get("input", "input")),
                 **{name: np.concatenate(parts) for name, parts in outputs.items()})
    log.info("%d examples, outputs %s of teacher set '%s' -> %s", len(keys), ", ".join(outputs), args.teacher,
             args.out)
    return 0


if __name__ == "__main__":
    run_main(main)
