"""``kdspeech embed``: a speaker encoder applied to audio files, folders, lists or data dirs.

    kdspeech embed --model spk.zip speakers/ --out emb/

Each input is brought to the model's rate, mono (one notice line per kind of conversion), and embedded
whole (the speaker task's evaluation view; the model's ``emb`` output, else its primary one).  A
recording longer than ``--chunk`` seconds is embedded in consecutive windows of that length (the last
one ending at the recording's end) and their embeddings averaged, so memory stays bounded.  Output:
``<out>/emb.npz`` with ``keys`` (the inputs' relative names) and ``emb`` ``[N, d]``, the table
``kdspeech.bin.score_trials`` reads (``--out`` ending in ``.npz``: that file), written atomically.
A file that cannot be read is named in one error line, the others are embedded, and the command
exits with status 1.
"""

from pathlib import Path

import numpy as np

DEFAULT_CHUNK_S = 60.0


def add_arguments(p):
    p.add_argument("--model", required=True,
                   help="packed model (.zip) or exp dir of a speaker encoder, or pretrained:resemblyzer, "
                   "pretrained:ecapa:<checkpoint>")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files, folders, lists, .scp files or data dirs")
    p.add_argument("--out", "-o", required=True, help="output folder (emb.npz inside) or .npz file")
    add_chunk_argument(p)


def add_chunk_argument(p):
    p.add_argument("--chunk", type=float, default=DEFAULT_CHUNK_S,
                   help=f"longer recordings are embedded in windows of this many seconds, averaged "
                   f"(default {DEFAULT_CHUNK_S:g}; 0: always whole)")


def embedder(model, device):
    """``fn(samples [T]) -> embedding [d]``."""
    import torch

    from kdspeech.models.calling import call_model

    def fn(x):
        with torch.no_grad():
            outs = call_model(model, {"input": torch.from_numpy(x)[None].to(device)})
        emb = outs["emb"] if "emb" in outs else next(iter(outs.values()))
        return emb.reshape(emb.shape[0], -1)[0].float().cpu().numpy()
    return fn


def embed_items(items, model, device, chunk_s, desc):
    """``({name: embedding}, failures)`` of ``items``."""
    from kdspeech.apply.chunking import windows_mean
    from kdspeech.apply.runner import Notices, run_items

    sr = int(model.meta["sr"])
    fn, notices, out = embedder(model, device), Notices(), {}

    def step(item):
        with item.open(sr) as reader:
            notices.reader(reader, item)
            out[item.name] = windows_mean(reader.read, reader.length, fn, int(round(chunk_s * sr)))

    failures = run_items(items, step, desc)
    return out, failures


def run(args, device):
    from kdspeech.apply.inputs import collect
    from kdspeech.apply.model import open_model
    from kdspeech.apply.runner import say
    from kdspeech.atomic import atomic_path

    items = collect(args.inputs)
    model = open_model(args.model, "embed", device)
    embs, failures = embed_items(items, model, device, args.chunk, "embed")
    out = Path(args.out)
    path = out if out.suffix == ".npz" else out / "emb.npz"
    if embs:
        with atomic_path(path) as tmp:
            np.savez(tmp, keys=np.array(list(embs)), emb=np.stack(list(embs.values())))
        say(f"{len(embs)} of {len(items)} inputs embedded ({len(next(iter(embs.values())))}-d) -> {path}")
    return 1 if failures else 0
