"""Embed every utterance of a data dir with a trained model or a teacher set: one vector per utterance.

    python -m kdspeech.bin.embed --model exp/student --data dump/raw/test --out exp/student/emb_test/emb.npz
    python -m kdspeech.bin.embed --config conf/teacher.yaml --teacher t --data dump/raw/test \\
        --out exp/teacher/emb_test/emb.npz

``--model``: a kdspeech model file or exp dir (its ``best.pth``); ``--config``/``--teacher``: the
teacher set ``--teacher`` of a training config (``members``: exp dirs or loaders such as
``{loader: resemblyzer, path: builtin}``), run live.  Whole utterances are embedded one at a time
(the speaker task's evaluation view), at ``--sr`` Hz; the output is the ``emb`` output (else the
model's primary one), saved as ``.npz`` with ``keys`` (utterance ids, sorted) and ``emb`` ``[N, d]``.
``--model_conf key=value`` rebuilds the model with changed constructor options and the same weights
(e.g. ``chunk=2.0``: TinyECAPA's chunk length T' at inference).
"""

import argparse
import logging

import numpy as np
import torch

from kdspeech.atomic import atomic_path
from kdspeech.cli import run_main
from kdspeech.errors import KdError
from kdspeech.models.calling import as_outputs, call_model
from kdspeech.tasks.speaker import SpeakerDataset

log = logging.getLogger("kdspeech.embed")


def build_embedder(args, device):
    """A function ``batch -> [1, d] embedding``, from --model or --config/--teacher."""
    if args.model:
        from kdspeech.train.checkpoint import load_model

        model = load_model(args.model, device, conf_overrides=args.model_conf)
        return lambda batch: pick(call_model(model, batch), args.model)
    from kdspeech.bin.train import DEFAULTS, FREE
    from kdspeech.config import load_config
    from kdspeech.distill.teachers import build_teacher_sets

    conf = load_config(args.config, [], DEFAULTS, FREE)
    spec = dict((conf["teachers"] or {}).get(args.teacher) or {})
    if not spec.get("members"):
        raise KdError(f"the config has no teacher set '{args.teacher}' with live 'members'", path=args.config)
    spec.pop("precomputed", None)
    spec["input"] = "input"        # the whole utterance, whatever view the set reads in training
    teacher = build_teacher_sets({args.teacher: spec}, device, args.config)[args.teacher]
    return lambda batch: pick(as_outputs(teacher(batch)), args.config)


def pick(outs, where):
    if "emb" in outs:
        return outs["emb"]
    if not outs:
        raise KdError("the model returned no outputs", path=where)
    return next(iter(outs.values()))


def embed_dir(embedder, data, sr, device, min_seconds=0.0):
    dataset = SpeakerDataset(data, segment=0, sr=sr, train=False)
    keys, embs = [], []
    with torch.no_grad():
        for index in range(len(dataset)):
            item = dataset.whole(index)
            seconds = item["input"].shape[-1] / sr
            if seconds < min_seconds:
                scp = dataset.dir.read("wav.scp")
                raise KdError(f"utterance {item['key']} ({scp.get(item['key'], '?')}) is {seconds:.2f} s long, "
                              f"shorter than --min_seconds {min_seconds:g}", path=f"{data}/wav.scp")
            batch = {"input": item["input"][None].to(device), "key": [item["key"]]}
            emb = embedder(batch)
            if emb.dim() != 2 or emb.shape[0] != 1:
                raise KdError(f"utterance {item['key']}: expected an embedding [1, d], got {tuple(emb.shape)}",
                              path=data)
            keys.append(item["key"])
            embs.append(emb[0].float().cpu().numpy())
    return keys, np.stack(embs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="kdspeech model file or exp dir")
    p.add_argument("--model_conf", nargs="+", default=[], metavar="KEY=VALUE",
                   help="constructor options of --model changed at inference (same weights), e.g. chunk=2.0")
    p.add_argument("--config", help="training config holding the teacher set --teacher")
    p.add_argument("--teacher", help="teacher set of --config to embed with")
    p.add_argument("--data", required=True, help="data dir (wav.scp, utt2spk)")
    p.add_argument("--out", required=True, help="output .npz (keys, emb)")
    p.add_argument("--sr", type=int, default=16000)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--min_seconds", type=float, default=0.0,
                   help="an utterance shorter than this is an error (e.g. an enrolment clip shorter than one chunk)")
    args = p.parse_args(argv)
    if bool(args.model) == bool(args.config):
        raise KdError("give --model, or --config with --teacher (not both)")
    if args.config and not args.teacher:
        raise KdError("--config needs --teacher (the teacher set to embed with)", path=args.config)
    from kdspeech.train.distributed import pick_device

    device = pick_device(args.device)
    keys, embs = embed_dir(build_embedder(args, device), args.data, args.sr, device, args.min_seconds)
    with atomic_path(args.out) as tmp:
        np.savez(tmp, keys=np.array(keys), emb=embs)
    log.info("%d utterances of %s embedded (%d-d) -> %s", len(keys), args.data, embs.shape[1], args.out)
    return 0


if __name__ == "__main__":
    run_main(main)
