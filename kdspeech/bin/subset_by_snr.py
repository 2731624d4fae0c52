"""Write the part of a mixture data dir whose SNR (utt2snr) lies in [--min, --max).

    python -m kdspeech.bin.subset_by_snr --src dump/mix/test_seen --dst dump/mix/test_seen_teacher_1 \\
        --min -inf --max 0

Every per-utterance file of the source (wav.scp, spk1.scp, utt2snr, utt2noise, text, ...) is
filtered to those mixtures.  Used to score a teacher of an SNR range on the test mixtures of its range.
"""

import argparse
import logging
import math

from kdspeech.cli import run_main
from kdspeech.data.datadir import DataDir, subset_data_dir
from kdspeech.errors import KdError

log = logging.getLogger("kdspeech.subset_by_snr")


def snr_bound(text):
    """A float; ``-inf`` / ``inf`` leave that side open."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number (or -inf / inf): '{text}'") from None


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, help="mixture data dir with utt2snr")
    parser.add_argument("--dst", required=True, help="data dir to write")
    parser.add_argument("--min", type=snr_bound, default=-math.inf, help="lowest SNR kept, dB (default: -inf)")
    parser.add_argument("--max", type=snr_bound, default=math.inf, help="SNR bound excluded, dB (default: inf)")
    return parser


def select(utt2snr, low, high, where):
    """Ids whose SNR is in [low, high), in sorted order."""
    keep = []
    for utt, value in sorted(utt2snr.items()):
        try:
            snr = float(value)
        except ValueError:
            raise KdError(f"utterance {utt}: SNR '{value}' is not a number", path=where) from None
        if low <= snr < high:
            keep.append(utt)
    return keep


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not args.min < args.max:
        raise KdError(f"empty SNR range [{args.min:g}, {args.max:g})")
    src = DataDir(args.src)
    if not src.has("utt2snr"):
        raise KdError("no utt2snr: not a mixture dir of kdspeech.bin.mix_data_dir", path=args.src)
    keep = select(src.read("utt2snr"), args.min, args.max, f"{args.src}/utt2snr")
    if not keep:
        raise KdError(f"no mixture has an SNR in [{args.min:g}, {args.max:g}) dB", path=args.src)
    subset_data_dir(src, args.dst, keep)
    log.info("%s: %d of %d mixtures with SNR in [%g, %g) dB", args.dst, len(keep), len(src.read("utt2snr")),
             args.min, args.max)
    return 0


if __name__ == "__main__":
    run_main(main)
