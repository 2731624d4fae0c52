"""Cross-validation folds of a classification data dir: test = one fold, validation from the others.

    python -m kdspeech.bin.split_cls --data data/all --out data [--num_folds 5 --resplit] \\
        [--valid_fraction 0.15] [--seed 1]

Folds come from ``utt2fold`` (ESC-50's official folds, user ``fold`` column); with ``--resplit`` (or
no utt2fold) the clips are dealt into ``--num_folds`` class-stratified folds (each class shuffled with
the seed and dealt round-robin, starting where the previous class stopped, so folds differ in size by
at most one clip); with ``utt2group`` (e.g. participant ids) whole groups are dealt into folds, so a
group never straddles train and test, balanced by clips and, where the groups allow, by class: the
largest group first, each to the fold it unbalances least (clips per fold, then clips per class and
fold), then single moves and swaps of groups between folds while they lower that imbalance.
``<data>/folds.txt`` lists the folds dealt with their test clips (``<fold> <clips>`` lines), for the
recipe's check of ``--folds``.  For test fold k, ``<out>/fold<k>/valid`` takes
``valid_fraction`` of every class of the training folds (at least one clip of a class with two or
more), never test clips.  Every dir gets ``classes.txt`` (sorted labels of ``<data>``).
"""

import argparse
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


def _imbalance(sizes, class_counts, size_target, class_target):
    """(squared clip-count deviation, squared per-class deviation) of a dealing, summed over folds."""
    by_size = sum((n - size_target) ** 2 for n in sizes)
    by_class = sum((row.get(c, 0) - t) ** 2 for row in class_counts for c, t in class_target.items())
    return by_size, by_class


def group_folds(groups, num_folds, seed, labels=None):
    """utt -> fold (1-based): whole groups, balanced by clips first, then by clips of each class."""
    members = defaultdict(list)
    for utt, g in sorted(groups.items()):
        members[g].append(utt)
    names = sorted(members)
    if len(names) < num_folds:
        raise KdError(f"{len(names)} groups cannot fill {num_folds} folds")
    labels = labels or {}
    count = {g: defaultdict(int) for g in names}
    for g in names:
        for utt in members[g]:
            count[g][labels.get(utt)] += 1
    totals = defaultdict(int)
    for g in names:
        for c, n in count[g].items():
            totals[c] += n
    size_target = len(groups) / num_folds
    class_target = {c: n / num_folds for c, n in totals.items()}
    rng = random.Random(seed)
    rng.shuffle(names)                                  # the seed breaks ties between equal groups
    names.sort(key=lambda g: -len(members[g]))          # largest first (stable: shuffled ties)
    fold_of, sizes = {}, [0] * num_folds
    class_counts = [defaultdict(int) for _ in range(num_folds)]

    def cost_with(f, g, sign):
        old_size, new_size = sizes[f], sizes[f] + sign * len(members[g])
        d_size = (new_size - size_target) ** 2 - (old_size - size_target) ** 2
        d_class = sum((class_counts[f][c] + sign * n - class_target[c]) ** 2
                      - (class_counts[f][c] - class_target[c]) ** 2 for c, n in count[g].items())
        return d_size, d_class

    def place(g, f, sign=1):
        sizes[f] += sign * len(members[g])
        for c, n in count[g].items():
            class_counts[f][c] += sign * n
        if sign > 0:
            fold_of[g] = f

    for i, g in enumerate(names):
        empty = [f for f in range(num_folds) if sizes[f] == 0]
        if len(empty) >= len(names) - i:                # every fold needs at least one group
            best = empty[0]
        else:
            best = min(range(num_folds), key=lambda f: (cost_with(f, g, 1), f))
        place(g, best)
    # Local search: move one group, or swap two, while (clip, class) imbalance drops.
    current = _imbalance(sizes, class_counts, size_target, class_target)
    for _ in range(50):
        improved = False
        for g in names:
            for f in range(num_folds):
                src = fold_of[g]
                if f == src or sizes[src] == len(members[g]):   # never empty a fold
                    continue
                place(g, src, -1); place(g, f)
                new = _imbalance(sizes, class_counts, size_target, class_target)
                if new < current:
                    current, improved = new, True
                    continue
                place(g, f, -1); place(g, src)
        for a in names if len(names) <= 400 else ():     # swaps: O(groups^2), for small sets
            for b in names:
                fa, fb = fold_of[a], fold_of[b]
                if a >= b or fa == fb:
                    continue
                place(a, fa, -1); place(b, fb, -1); place(a, fb); place(b, fa)
                new = _imbalance(sizes, class_counts, size_target, class_target)
                if new < current:
                    current, improved = new, True
                    continue
                place(a, fb, -1); place(b, fa, -1); place(a, fa); place(b, fb)
        if not improved:
            break
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
