"""Average the weights of a run's n best epochs into one model file (icefall's --avg, ESPnet's ave).

    python -m kdspeech.bin.average_models --exp_dir exp/student [--n 5] [--out exp/student/ave_5best.pth]

The run must have kept its best epochs (``trainer.keep_best: N``; they are listed, by the selection
figure of ``trainer.best``, in ``<exp_dir>/nbest/nbest.json``).  ``--n`` takes the first n of them
(default: all).  The output is a kdspeech model file like ``best.pth``: every verb that takes
``--model`` reads it.
"""

import argparse
import json
import logging
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.errors import KdError
from kdspeech.train.average import average_model_files
from kdspeech.train.checkpoint import atomic_save

log = logging.getLogger("kdspeech.average_models")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp_dir", required=True, help="experiment dir trained with trainer.keep_best > 1")
    p.add_argument("--n", type=int, default=None, help="how many of the best epochs (default: all kept)")
    p.add_argument("--out", default=None, help="output model file (default: <exp_dir>/ave_<n>best.pth)")
    args = p.parse_args(argv)
    index = Path(args.exp_dir) / "nbest" / "nbest.json"
    if not index.exists():
        raise KdError("no kept epochs: train with trainer.keep_best: N (N > 1)", path=index)
    entries = json.loads(index.read_text())
    n = args.n or len(entries)
    if n < 1 or n > len(entries):
        raise KdError(f"--n {n}: the run kept {len(entries)} epochs", path=index)
    files = [index.parent / f"epoch{e['epoch']}.pth" for e in entries[:n]]
    out = Path(args.out or Path(args.exp_dir) / f"ave_{n}best.pth")
    atomic_save(average_model_files(files), out)
    log.info("averaged epochs %s -> %s", ", ".join(str(e["epoch"]) for e in entries[:n]), out)
    return 0


if __name__ == "__main__":
    run_main(main)
