"""Cross-validation folds of a classification data dir: test = one fold, validation from the others.

    python -m kdspeech.bin.split_cls --data data/all --out data [--num_folds 5 --resplit] \\
        [--valid_fraction 0.15] [--seed 1]

Folds come from ``utt2fold`` (ESC-50's official folds, user ``fold`` column); with ``--resplit`` (or
no utt2fold) the clips are dealt into ``--num_folds`` class-stratified folds (each class shuffled with
the seed and dealt round-robin, starting where the previous class stopped, so folds differ in size by
at most one clip); with ``utt2group`` (e.g. participant ids) whole groups are dealt into folds, so a
group never straddles train and test.  For test fold k, ``<out>/fold<k>/valid`` takes
``valid_fraction`` of every class of the training folds (at least one clip of a class with two or
more), never test clips.  Every dir gets ``classes.txt`` (sorted labels of ``<data>``).
"""

import argparse
import random
from collections import defaultdict
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.data.datadir import DataDir, subset_data_dir, write_kv
from kdspeech.errors import KdError


def stratified_folds(labels, num_folds, seed):
    """utt -> fold (1-based): every class dealt round-robin after a seeded shuffle."""
    by_class = defaultdict(list)
    for utt, lab in sorted(labels.items()):
        by_class[lab].append(utt)
    rng = random.Random(seed)
    folds, start = {}, 0
    for lab in sorted(by_class):
        utts = by_class[lab]
        rng.shuffle(utts)
        for i, utt in enumerate(utts):
            folds[utt] = str((start + i) % num_folds + 1)
        start = (start + len(utts)) % num_folds
    return folds


def group_folds(groups, num_folds, seed):
    """utt -> fold: whole groups dealt round-robin after a seeded shuffle."""
    names = sorted(set(groups.values()))
    if len(names) < num_folds:
        raise KdError(f"{len(names)} groups cannot fill {num_folds} folds")
    random.Random(seed).shuffle(names)
    fold_of = {g: str(i % num_folds + 1) for i, g in enumerate(names)}
    return {utt: fold_of[g] for utt, g in groups.items()}


def valid_subset(utts, labels, fraction, seed):
    by_class = defaultdict(list)
    for utt in sorted(utts):
        by_class[labels[utt]].append(utt)
    rng = random.Random(seed)
    valid = []
    for lab in sorted(by_class):
        members = by_class[lab]
        rng.shuffle(members)
        n = round(fraction * len(members))
        if len(members) >= 2:
            n = min(max(n, 1), len(members) - 1)
        valid += members[:n]
    return set(valid)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="data dir with utt2label (+ utt2fold or utt2group)")
    p.add_argument("--out", required=True, help="root of fold<k>/{train,valid,test}")
    p.add_argument("--num_folds", type=int, default=5)
    p.add_argument("--resplit", action="store_true", help="ignore utt2fold; make stratified folds")
    p.add_argument("--valid_fraction", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    data = DataDir(args.data)
    data.validate()
    labels = data.read("utt2label")
    missing = [u for u in data.utts if u not in labels]
    if missing:
        raise KdError(f"utterance {missing[0]} has no label", path=f"{args.data}/utt2label")
    if data.has("utt2group"):
        folds = group_folds(data.read("utt2group"), args.num_folds, args.seed)
    elif data.has("utt2fold") and not args.resplit:
        folds = data.read("utt2fold")
    else:
        folds = stratified_folds(labels, args.num_folds, args.seed)
    if data.has("utt2group") or args.resplit or not data.has("utt2fold"):
        write_kv(Path(args.data) / "utt2fold.cv", folds)
    classes = "".join(c + "\n" for c in sorted(set(labels.values())))
    (Path(args.data) / "classes.txt").write_text(classes)
    names = sorted(set(folds.values()), key=lambda f: (len(f), f))
    for k in names:
        test = [u for u in data.utts if folds[u] == k]
        rest = [u for u in data.utts if folds[u] != k]
        valid = valid_subset(rest, labels, args.valid_fraction, args.seed)
        parts = {"train": [u for u in rest if u not in valid], "valid": sorted(valid), "test": test}
        for part, utts in parts.items():
            dst = Path(args.out) / f"fold{k}" / part
            subset_data_dir(args.data, dst, utts)
            (dst / "classes.txt").write_text(classes)
        print(f"fold {k}: " + ", ".join(f"{n} {len(u)}" for n, u in parts.items()))
    return 0


if __name__ == "__main__":
    run_main(main)
