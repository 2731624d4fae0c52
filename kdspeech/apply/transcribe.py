"""``kdspeech transcribe``: an ASR backend (``kdspeech.asr``) applied to audio, optionally enhanced first.

    kdspeech transcribe recordings/
    kdspeech transcribe --backend moonshine --enhance model.zip noisy/ --out text/

``--backend``: ``pocketsphinx`` (offline, the default; ``--lm`` an ARPA language model),
``trained:<exp dir>`` (a recogniser trained by a recipe, ``kdspeech.asr.trained``) or
``moonshine``.  Each input is brought to 16 kHz mono (one notice line per kind of conversion) and
decoded on its own, whole.  ``--enhance``: a packed enhancement model or exp dir applied first, in
chunks as ``kdspeech enhance`` does.  Output: ``<name>\\t<words>`` lines on stdout, or with ``--out``
``<out>/<name>.txt`` per input and ``<out>/transcripts.tsv`` (each written atomically).  A file that
cannot be read is named in one error line, the others are transcribed, and the command exits with
status 1.
"""

from pathlib import Path

import numpy as np

SR = 16000


def add_arguments(p):
    from kdspeech.apply.enhance import DEFAULT_CHUNK_S, DEFAULT_OVERLAP_S

    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files, folders, lists, .scp files or data dirs")
    p.add_argument("--backend", default="pocketsphinx", help="ASR backend: pocketsphinx (default), moonshine "
                   "or trained:<exp dir or model file> (a recogniser a recipe trained, task asr)")
    p.add_argument("--lm", help="pocketsphinx: ARPA language model instead of the bundled one")
    p.add_argument("--enhance", metavar="MODEL", help="packed enhancement model or exp dir applied first")
    p.add_argument("--chunk", type=float, default=DEFAULT_CHUNK_S, help="--enhance: seconds per chunk")
    p.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP_S, help="--enhance: seconds cross-faded")
    p.add_argument("--out", "-o", help="output folder (default: print)")


def run(args, device):
    from kdspeech.apply.chunking import overlap_add
    from kdspeech.apply.inputs import collect
    from kdspeech.apply.runner import Notices, run_items, say
    from kdspeech.asr import build_backend
    from kdspeech.atomic import atomic_write_text

    items = collect(args.inputs)
    asr = build_backend(args.backend, {"lm": args.lm} if args.lm else None)
    sr, enhance = SR, None
    if args.enhance:
        from kdspeech.apply.enhance import enhancer
        from kdspeech.apply.model import open_model

        model = open_model(args.enhance, "enhance", device)
        sr, enhance = int(model.meta["sr"]), enhancer(model, device)
    notices, texts = Notices("the rate of " + ("the enhancement model" if enhance else "the recogniser")), {}

    def step(item):
        with item.open(sr) as reader:
            notices.reader(reader, item)
            if enhance is None:
                x = reader.read(0, reader.length)
            else:
                blocks = []
                overlap_add(reader.read, reader.length, enhance, int(round(args.chunk * sr)),
                            int(round(args.overlap * sr)), blocks.append, where=args.enhance)
                x = np.concatenate(blocks)
        text = " ".join(asr.transcribe(x, sr).split())
        texts[item.name] = text
        if args.out:
            atomic_write_text(Path(args.out) / f"{item.name}.txt", text + "\n")
        else:
            print(f"{item.name}\t{text}", flush=True)

    failures = run_items(items, step, "transcribe")
    if args.out and texts:
        atomic_write_text(Path(args.out) / "transcripts.tsv", "".join(f"{n}\t{t}\n" for n, t in texts.items()))
        say(f"{len(texts)} of {len(items)} inputs transcribed -> {Path(args.out) / 'transcripts.tsv'}")
    return 1 if failures else 0
