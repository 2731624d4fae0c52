"""Cross-validation folds of a classification data dir: test = one fold, validation from the others.

    python -m kdspeech.bin.split_cls --data data/all --out data [--num_folds 5 --resplit] \\
        [--valid_fraction 0.15] [--seed 1]

Folds come from ``utt2fold`` (ESC-50's official folds, user ``fold`` column); with ``--resplit`` (or
no utt2fold) the clips are dealt into ``--num_folds`` class-stratified folds (each class shuffled with
the seed and dealt round-robin, starting where the previous class stopped, so folds differ in size by
at most one clip); with ``utt2group`` (e.g. participant ids) whole groups are dealt into folds, so a
group never straddles train and test, each group where a hash of its id sends it within a capacity of
1.1 times the mean clips per fold (``group_folds``): a fold depends on the group ids and sizes only, so
one changed label moves no clip to another fold.
``<data>/folds.txt`` lists the folds dealt with their test clips (``<fold> <clips>`` lines), for the
recipe's check of ``--folds``.  For test fold k, ``<out>/fold<k>/valid`` takes
``valid_fraction`` of every class of the training folds (at least one clip of a class with two or
more), never test clips.  Every dir gets ``classes.txt`` (sorted labels of ``<data>``).
"""

import argparse
import hashlib
import math
import random
from collections import defaultdict
from pathlib import Path

from kdspeech.atomic import atomic_write_text
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


def _rank(seed, group, fold=None):
    """A stable pseudo-random number of (seed, group[, fold]): sha256, not Python's salted hash()."""
    text = f"{seed}\0{group}" + ("" if fold is None else f"\0{fold}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def group_folds(groups, num_folds, seed, labels=None):
    """utt -> fold (1-based): whole groups, each where a hash of its id sends it, within a capacity.

    Every group ranks the folds by a hash of (seed, group id, fold); the groups, in the order of a hash
    of (seed, group id), each take their first-ranked fold whose clips stay within ``ceil(1.1 * clips /
    folds)`` (else the fold with the fewest clips); a fold left empty then takes, from a fold of
    several groups, the group that ranks it highest.  Nothing depends on the labels (``labels`` is
    accepted for the callers' sake and unused): a changed label moves no clip to another fold, and
    an added or removed group moves only the groups placed after it that its clips displace."""
    members = defaultdict(list)
    for utt, g in sorted(groups.items()):
        members[g].append(utt)
    names = sorted(members, key=lambda g: _rank(seed, g))
    if len(names) < num_folds:
        raise KdError(f"{len(names)} groups cannot fill {num_folds} folds")
    capacity = math.ceil(1.1 * len(groups) / num_folds)
    sizes, fold_of = [0] * num_folds, {}
    for g in names:
        ranked = sorted(range(num_folds), key=lambda f: _rank(seed, g, f))
        fits = [f for f in ranked if sizes[f] + len(members[g]) <= capacity]
        fold_of[g] = fits[0] if fits else min(range(num_folds), key=lambda f: (sizes[f], ranked.index(f)))
        sizes[fold_of[g]] += len(members[g])
    for f in range(num_folds):
        if sizes[f]:
            continue
        movable = [g for g in names if sum(1 for h in names if fold_of[h] == fold_of[g]) > 1]
        g = min(movable, key=lambda h: _rank(seed, h, f))
        sizes[fold_of[g]] -= len(members[g])
        fold_of[g] = f
        sizes[f] += len(members[g])
    return {utt: str(fold_of[g] + 1) for utt, g in groups.items()}


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
        folds = group_folds(data.read("utt2group"), args.num_folds, args.seed, labels)
    elif data.has("utt2fold") and not args.resplit:
        folds = data.read("utt2fold")
    else:
        folds = stratified_folds(labels, args.num_folds, args.seed)
    if data.has("utt2group") or args.resplit or not data.has("utt2fold"):
        write_kv(Path(args.data) / "utt2fold.cv", folds)
    classes = "".join(c + "\n" for c in sorted(set(labels.values())))
    (Path(args.data) / "classes.txt").write_text(classes)
    names = sorted(set(folds.values()), key=lambda f: (len(f), f))
    atomic_write_text(Path(args.data) / "folds.txt",
                      "".join(f"{k} {sum(1 for f in folds.values() if f == k)}\n" for k in names))
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
