#!/usr/bin/env python3
"""TAU Urban Acoustic Scenes 2019 Mobile (development) -> data/all and data/fold1/{train,valid,test}.

    local/prepare_tau.py --root <TAU-urban-acoustic-scenes-2019-mobile-development> --out data \\
        [--valid_fraction 0.25] [--seed 1]

The DCASE 2019 task 1B split: ``evaluation_setup/fold1_train.csv`` is the training subset,
``fold1_evaluate.csv`` the test set (tab-separated, header ``filename scene_label``).  Validation =
``valid_fraction`` of the training subset's recording locations (``identifier`` of meta.csv, e.g.
``barcelona-0``; from the file name when meta.csv lacks it) per scene, whole locations, so segments
and parallel device recordings of one location never straddle train and validation.
A location is keyed by (scene, identifier).  Utterance id = file stem (``airport-barcelona-0-0-a``);
utt2spk = location identifier; utt2device = device.
"""

import argparse
import csv
import random
import sys
from collections import defaultdict
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.data.datadir import subset_data_dir, write_kv
from kdspeech.errors import KdError


def read_rows(path):
    if not path.exists():
        raise KdError("TAU metadata file not found (is db.sh's tau2019mobile right?)", path=path)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    for line, row in enumerate(rows, 2):
        if not row.get("filename") or not row.get("scene_label"):
            raise KdError("row needs filename and scene_label (tab-separated)", path=path, line=line)
    return rows


def location_of(stem):
    """``airport-barcelona-0-0-a`` -> ``barcelona-0`` (city-location id)."""
    parts = stem.split("-")
    if len(parts) < 5:
        raise KdError(f"file name {stem} is not <scene>-<city>-<location>-<segment>-<device>")
    return f"{parts[-4]}-{parts[-3]}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--valid_fraction", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    root, out = Path(args.root).resolve(), Path(args.out)
    setup = root / "evaluation_setup"
    train_rows = read_rows(setup / "fold1_train.csv")
    test_rows = read_rows(setup / "fold1_evaluate.csv")
    ident = {}
    if (root / "meta.csv").exists():
        ident = {Path(r["filename"]).stem: r.get("identifier") for r in read_rows(root / "meta.csv")}
    wav, label, loc, dev = {}, {}, {}, {}
    for row in train_rows + test_rows:
        stem = Path(row["filename"]).stem
        path = root / row["filename"]
        if not path.exists():
            raise KdError(f"audio file missing: {path}", path=setup)
        wav[stem], label[stem] = str(path), row["scene_label"]
        loc[stem] = ident.get(stem) or location_of(stem)
        dev[stem] = stem.split("-")[-1]
    train = sorted({Path(r["filename"]).stem for r in train_rows})
    test = sorted({Path(r["filename"]).stem for r in test_rows})
    overlap = set(train) & set(test)
    if overlap:
        raise KdError(f"{len(overlap)} clips are in both fold1_train and fold1_evaluate", path=setup)
    locations = defaultdict(set)
    for u in train:
        locations[label[u]].add(loc[u])
    rng = random.Random(args.seed)
    held = set()
    for scene in sorted(locations):
        locs = sorted(locations[scene])
        rng.shuffle(locs)
        n = min(max(1, round(args.valid_fraction * len(locs))), len(locs) - 1) if len(locs) > 1 else 0
        held |= {(scene, x) for x in locs[:n]}
    valid = [u for u in train if (label[u], loc[u]) in held]
    train = [u for u in train if (label[u], loc[u]) not in held]
    straddle = {loc[u] for u in train} & {loc[u] for u in test}
    all_dir = out / "all"
    for name, kv in (("wav.scp", wav), ("utt2label", label), ("utt2spk", loc)):
        write_kv(all_dir / name, kv)
    write_kv(all_dir / "utt2device", dev)
    classes = "".join(c + "\n" for c in sorted(set(label.values())))
    (all_dir / "classes.txt").write_text(classes)
    (all_dir / "folds.txt").write_text(f"1 {len(test)}\n")   # the folds dealt, for cls.sh's --folds
    for part, utts in (("train", train), ("valid", valid), ("test", test)):
        d = out / "fold1" / part
        subset_data_dir(all_dir, d, utts)
        write_kv(d / "utt2device", {u: dev[u] for u in utts})
        (d / "classes.txt").write_text(classes)
    print(f"train {len(train)}, valid {len(valid)} ({len(held)} locations held out), test {len(test)} clips; "
          f"{len(straddle)} locations shared by train and test (from the official split)", file=sys.stderr)


if __name__ == "__main__":
    run_main(main)
