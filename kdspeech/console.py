"""The ``kdspeech`` command: trained models applied to your own audio, and packed into one file.

    kdspeech enhance   --model model.zip noisy/ --out enhanced/
    kdspeech classify  --model model.zip clips/ [--out labels/]
    kdspeech embed     --model model.zip speakers/ --out emb/
    kdspeech verify    --model model.zip enroll.wav test.wav      (or --trials pairs.txt)
    kdspeech transcribe [--backend moonshine] [--enhance model.zip] recordings/ [--out text/]
    kdspeech pack      exp/student_s2 model.zip
    kdspeech info      model.zip

Installed as a console script by ``pip install -e .`` (setup.py); ``python -m kdspeech`` is the same.
Every subcommand takes files, folders, lists, scp files or data dirs (``kdspeech.apply.inputs``) at
any rate and channel count, a packed model or an exp dir, ``--device auto|cpu|cuda`` and
``--num_threads``; ``kdspeech <subcommand> --help`` tells the rest.  Bad input: one error line naming
the file, the other files still processed, and exit status 1 when any failed.
"""

import argparse
import re
import sys

from kdspeech.cli import run_main

SUBCOMMANDS = {
    "enhance": "kdspeech.apply.enhance",
    "classify": "kdspeech.apply.classify",
    "embed": "kdspeech.apply.embed",
    "verify": "kdspeech.apply.verify",
    "transcribe": "kdspeech.apply.transcribe",
    "pack": "kdspeech.apply.pack",
    "info": "kdspeech.apply.pack",
}
NO_DEVICE = ("pack", "info")


def _module(name):
    import importlib

    return importlib.import_module(SUBCOMMANDS[name])


def get_parser():
    parser = argparse.ArgumentParser(prog="kdspeech", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    for name in SUBCOMMANDS:
        module = _module(name)
        doc = (getattr(module, f"{name.upper()}_DOC", None) or module.__doc__).strip()
        summary = re.sub(r"^``kdspeech [a-z]+``: ", "", doc.split("\n")[0])
        p = sub.add_parser(name, help=summary, description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        getattr(module, f"add_{name}_arguments", getattr(module, "add_arguments", None))(p)
        if name not in NO_DEVICE:
            p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                           help="where the model runs (auto: a GPU when one is visible)")
            p.add_argument("--num_threads", type=int, default=0,
                           help="torch CPU threads (default: torch's own choice)")
    return parser


def main(argv=None):
    args = get_parser().parse_args(sys.argv[1:] if argv is None else argv)
    module = _module(args.subcommand)
    runner = getattr(module, f"run_{args.subcommand}", getattr(module, "run", None))
    if args.subcommand in NO_DEVICE:
        return runner(args)
    from kdspeech.apply.model import set_threads
    from kdspeech.train.distributed import pick_device

    set_threads(args.num_threads)
    return runner(args, pick_device(args.device))


def console():
    """The setup.py entry point."""
    run_main(main)


if __name__ == "__main__":
    console()
