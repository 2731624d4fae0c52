#!/usr/bin/env python3
"""Clean-speech data dirs from LibriSpeech: speaker-disjoint train / valid, test from another subset.

    local/prepare_librispeech.py --root /data/LibriSpeech --train_subset train-clean-100 \
        --test_subset test-other --out data --num_train 200 --num_valid 20 --num_test 20 --seed 1

Train and valid speakers are drawn from ``train_subset`` (disjoint: a speaker is in one of them),
test utterances from ``test_subset`` round-robin over its speakers, so test speakers are unseen.
``--max_seconds S`` cuts every utterance to its first S seconds (a ``sox ... trim |`` wav.scp
entry, materialised by the resample stage), which keeps a CPU-scale run short; 0 keeps them whole.
"""

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path

from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError


def utterances(root, subset):
    """``{speaker: [(utt, path)]}`` of one subset (``<spk>/<chapter>/<spk>-<chapter>-<n>.flac``)."""
    folder = Path(root) / subset
    if not folder.is_dir():
        raise KdError(f"LibriSpeech subset {subset} not found (set LIBRISPEECH in db.sh)", path=folder)
    by_spk = defaultdict(list)
    for path in sorted(folder.glob("*/*/*.flac")) + sorted(folder.glob("*/*/*.wav")):
        by_spk[path.parent.parent.name].append((path.stem, path.resolve()))
    if not by_spk:
        raise KdError("no .flac or .wav files under <speaker>/<chapter>/", path=folder)
    return dict(sorted(by_spk.items()))


def entry(path, max_seconds):
    return f"sox {path} -t wav - trim 0 {max_seconds} |" if max_seconds > 0 else str(path)


def write_dir(out, items, max_seconds):
    out.mkdir(parents=True, exist_ok=True)
    write_kv(out / "wav.scp", {utt: entry(p, max_seconds) for utt, _, p in items})
    write_kv(out / "utt2spk", {utt: spk for utt, spk, _ in items})


def take(by_spk, speakers, n):
    """``n`` utterances round-robin over ``speakers`` (first utterance of each, then the second...)."""
    items, depth = [], 0
    while len(items) < n:
        added = False
        for spk in speakers:
            if depth < len(by_spk[spk]) and len(items) < n:
                utt, path = by_spk[spk][depth]
                items.append((utt, spk, path))
                added = True
        if not added:
            break
        depth += 1
    return items


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="the LibriSpeech/ folder")
    p.add_argument("--train_subset", default="train-clean-100")
    p.add_argument("--test_subset", default="test-other")
    p.add_argument("--out", default="data")
    p.add_argument("--num_train", type=int, default=950)
    p.add_argument("--num_valid", type=int, default=50)
    p.add_argument("--num_test", type=int, default=100)
    p.add_argument("--max_seconds", type=float, default=0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    train = utterances(args.root, args.train_subset)
    test = utterances(args.root, args.test_subset)
    speakers = list(train)
    random.Random(args.seed).shuffle(speakers)
    # Valid speakers: enough for num_valid utterances at one per speaker when possible.
    num_valid_spk = max(1, min(args.num_valid, len(speakers) // 10 or 1))
    valid_spk, train_spk = sorted(speakers[:num_valid_spk]), sorted(speakers[num_valid_spk:])
    sets = {"clean_train": take(train, train_spk, args.num_train),
            "clean_valid": take(train, valid_spk, args.num_valid),
            "clean_test": take(test, list(test), args.num_test)}
    wanted = {"clean_train": args.num_train, "clean_valid": args.num_valid, "clean_test": args.num_test}
    for name, items in sets.items():
        if len(items) < wanted[name]:
            print(f"prepare_librispeech: {name}: only {len(items)} of {wanted[name]} utterances available",
                  file=sys.stderr)
        write_dir(Path(args.out) / name, items, args.max_seconds)
        print(f"{name}: {len(items)} utterances, {len({s for _, s, _ in items})} speakers", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
