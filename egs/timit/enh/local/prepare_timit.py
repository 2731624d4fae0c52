#!/usr/bin/env python3
"""Clean-speech data dirs from TIMIT: speaker-disjoint train / valid from TRAIN, test from TEST.

    local/prepare_timit.py --root /data/TIMIT --out data --num_train 950 --num_valid 50 --num_test 100

Reads ``<root>/TRAIN/DR*/<SPK>/<SENT>.WAV`` and ``<root>/TEST/...`` in either letter case; the audio
may be the distributed NIST SPHERE ``.WAV`` (soundfile reads it) or ``.wav`` / ``.flac`` conversions
(one file per sentence is used; ``SA1.WAV.wav`` next to ``SA1.WAV`` counts once).  The dialect
sentences SA1/SA2, read by every speaker, are left out unless ``--keep_sa``.  Utterance ids are
``<SPK>_<SENT>`` (upper case).  Validation speakers are drawn from TRAIN by ``--seed`` and are not
used for training; utterances are taken round-robin over speakers (first sentence of each speaker,
then the second, ...).  ``--max_seconds`` cuts utterances as in the LibriSpeech recipe.
"""

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path

from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError

AUDIO = (".wav", ".flac")


def find_split(root, split):
    for child in Path(root).iterdir() if Path(root).is_dir() else []:
        if child.is_dir() and child.name.lower() == split.lower():
            return child
    raise KdError(f"no {split}/ folder (either case) under the TIMIT root; set TIMIT in db.sh", path=root)


def sentences(split_dir, keep_sa):
    """``{speaker: [(utt, path)]}`` of one split, speakers and sentences sorted."""
    by_spk = defaultdict(dict)
    for path in sorted(split_dir.glob("*/*/*")):
        dialect, spk = path.parent.parent.name, path.parent.name
        if not dialect.lower().startswith("dr") or path.suffix.lower() not in AUDIO:
            continue
        sent = path.name.split(".")[0].upper()
        if sent.startswith("SA") and not keep_sa:
            continue
        utt = f"{spk.upper()}_{sent}"
        by_spk[spk.upper()].setdefault(utt, path.resolve())  # first of SA1.WAV / SA1.WAV.wav / ...
    if not by_spk:
        raise KdError("no DR*/<speaker>/<sentence>.WAV files", path=split_dir)
    return {spk: sorted(utts.items()) for spk, utts in sorted(by_spk.items())}


def take(by_spk, speakers, n):
    items, depth = [], 0
    while len(items) < n:
        row = [(by_spk[s][depth], s) for s in speakers if depth < len(by_spk[s])]
        if not row:
            break
        items += [(utt, spk, path) for (utt, path), spk in row[: n - len(items)]]
        depth += 1
    return items


def write_dir(out, items, max_seconds):
    out.mkdir(parents=True, exist_ok=True)
    entry = (lambda p: f"sox {p} -t wav - trim 0 {max_seconds} |") if max_seconds > 0 else str
    write_kv(out / "wav.scp", {utt: entry(p) for utt, _, p in items})
    write_kv(out / "utt2spk", {utt: spk for utt, spk, _ in items})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="TIMIT folder holding TRAIN/ and TEST/")
    p.add_argument("--out", default="data")
    p.add_argument("--num_train", type=int, default=950)
    p.add_argument("--num_valid", type=int, default=50)
    p.add_argument("--num_test", type=int, default=100)
    p.add_argument("--num_valid_speakers", type=int, default=10)
    p.add_argument("--max_seconds", type=float, default=0)
    p.add_argument("--keep_sa", action="store_true", help="keep the SA1/SA2 sentences")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    train = sentences(find_split(args.root, "TRAIN"), args.keep_sa)
    test = sentences(find_split(args.root, "TEST"), args.keep_sa)
    speakers = list(train)
    random.Random(args.seed).shuffle(speakers)
    n_valid = min(args.num_valid_speakers, len(speakers) - 1)
    if n_valid < 1:
        raise KdError("TRAIN needs at least two speakers (training and validation)", path=args.root)
    valid_spk, train_spk = sorted(speakers[:n_valid]), sorted(speakers[n_valid:])
    test_spk = list(test)
    random.Random(args.seed).shuffle(test_spk)
    sets = {"clean_train": (take(train, train_spk, args.num_train), args.num_train),
            "clean_valid": (take(train, valid_spk, args.num_valid), args.num_valid),
            "clean_test": (take(test, sorted(test_spk), args.num_test), args.num_test)}
    for name, (items, wanted) in sets.items():
        if len(items) < wanted:
            print(f"prepare_timit: {name}: only {len(items)} of {wanted} utterances", file=sys.stderr)
        write_dir(Path(args.out) / name, items, args.max_seconds)
        print(f"{name}: {len(items)} utterances, {len({s for _, s, _ in items})} speakers", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
