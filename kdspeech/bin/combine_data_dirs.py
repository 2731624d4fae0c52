"""Combine data dirs into one (Kaldi's utils/combine_data.sh).

    python -m kdspeech.bin.combine_data_dirs --dst data/train_all data/train_a data/train_b
    python -m kdspeech.bin.combine_data_dirs --dst data/test_all --prefixes "a- b-" data/test data/test

Every per-utterance file of the sources is joined (``wav.scp``, ``utt2spk``, ``text``, ``spk1.scp``,
``utt2snr``...), ``spk2utt`` rewritten, ``trials`` concatenated, ``classes.txt`` kept when all
sources agree (``kdspeech.data.dir_ops``).  An utterance id in two sources is an error naming both
files: ``--prefixes`` (one per source, one argument) puts a prefix before each source's utterance and recording
ids.  A file every utterance needs (``utt2spk``, ``text``, ``spk1.scp``, ``noise1.scp``) that only
some sources have is an error naming a source without it.  The output is validated before it
replaces ``--dst``.
"""

import argparse

from kdspeech.cli import run_main
from kdspeech.data.dir_ops import combine_dirs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dst", required=True, help="data dir to write (replaced when it exists)")
    p.add_argument("--prefixes", metavar="'P1 P2 ...'",
                   help="one prefix per source (one argument, space-separated) for its utterance and "
                   "recording ids")
    p.add_argument("srcs", nargs="+", metavar="SRC", help="source data dirs")
    args = p.parse_args(argv)
    out = combine_dirs(args.srcs, args.dst, args.prefixes.split() if args.prefixes else None)
    print(f"{out.path}: {len(out.utts)} utterances from {len(args.srcs)} data dirs")
    return 0


if __name__ == "__main__":
    run_main(main)
