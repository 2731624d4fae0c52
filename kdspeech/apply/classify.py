"""``kdspeech classify``: a clip classifier applied to audio files, folders, lists or data dirs.

    kdspeech classify --model cls.zip clips/
    kdspeech classify --model exp/fold1/basd_1000 clips/ --out labels/

Each input is brought to 16 kHz mono (one notice line per kind of conversion), heard through the
model's view (``kdspeech.bin.dump_feats.low_rate_view`` at the microphone rate it was trained for), cut
into clips of the training duration (a shorter recording is zero-padded, as in training; a longer one
is cut into consecutive clips, the last ending at the recording's end) and turned into the log-mel
the model was trained on.  The class probabilities (softmax) are averaged over the clips.  Output: one
line per input, ``<name>\\t<class>\\t<probability>``, on stdout, or with ``--out`` in
``<out>/classes.tsv`` (written atomically; every class's probability in ``<out>/probs.npz``: keys,
classes, probs).  A file that cannot be read is named in one error line, the others are classified,
and the command exits with status 1.
"""

from pathlib import Path

import numpy as np

SR = 16000


def add_arguments(p):
    p.add_argument("--model", required=True, help="packed model (.zip) or exp dir of a classifier")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files, folders, lists, .scp files or data dirs")
    p.add_argument("--out", "-o", help="output folder for classes.tsv and probs.npz (default: print)")


def clip_probabilities(model, device, view_rate, num_samples):
    """``fn(samples at 16 kHz) -> class probabilities`` of one clip (padded to ``num_samples``)."""
    import torch

    from kdspeech.bin.dump_feats import fit_duration, low_rate_view
    from kdspeech.models.calling import main_output
    from kdspeech.models.panns import FRONTEND, PannsFrontend

    frontend = PannsFrontend(**FRONTEND).eval()

    def fn(x):
        x = fit_duration(low_rate_view(x, SR, view_rate), num_samples)
        with torch.no_grad():
            feats = frontend(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
            logits = main_output(model, feats[None].to(device))
        return torch.softmax(logits.float(), dim=-1)[0].cpu().numpy()
    return fn


def run(args, device):
    from kdspeech.apply.chunking import windows_mean
    from kdspeech.apply.inputs import collect
    from kdspeech.apply.model import open_model
    from kdspeech.apply.runner import Notices, run_items, say
    from kdspeech.atomic import atomic_path, atomic_write_text

    items = collect(args.inputs)
    model = open_model(args.model, "classify", device)
    spec = model.meta["input"]
    classes = model.meta["output"]["classes"]
    num_samples = int(round(float(spec["duration"]) * SR))
    fn, notices = clip_probabilities(model, device, int(spec["view_rate"]), num_samples), Notices()
    names, probs = [], []

    def step(item):
        with item.open(SR) as reader:
            notices.reader(reader, item)
            p = windows_mean(reader.read, reader.length, fn, num_samples)
        if len(p) != len(classes):
            from kdspeech.errors import KdError
            raise KdError(f"the model gives {len(p)} scores for {len(classes)} classes", path=args.model)
        names.append(item.name)
        probs.append(p)
        if not args.out:
            print(f"{item.name}\t{classes[int(p.argmax())]}\t{p.max():.4f}", flush=True)

    failures = run_items(items, step, "classify")
    if args.out and names:
        out = Path(args.out)
        atomic_write_text(out / "classes.tsv", "".join(f"{n}\t{classes[int(p.argmax())]}\t{p.max():.4f}\n"
                                                       for n, p in zip(names, probs)))
        with atomic_path(out / "probs.npz") as tmp:
            np.savez(tmp, keys=np.array(names), classes=np.array(classes), probs=np.stack(probs))
        say(f"{len(names)} of {len(items)} inputs classified -> {out / 'classes.tsv'}")
    return 1 if failures else 0
