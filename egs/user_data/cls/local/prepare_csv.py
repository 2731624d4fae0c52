#!/usr/bin/env python3
"""Your own clips -> data/all from a CSV with a header ``path,label,fold`` or ``path,label,participant``.

    local/prepare_csv.py --csv my_clips.csv --out data/all

The CSV is read by ``kdspeech.data.dir_from.from_csv`` (the CSV reader of ``kdspeech.bin.data_dir_from
--csv``): ``path`` is absolute or relative to the CSV's folder; any format soundfile reads, any rate
(dump_feats brings it to 16 kHz), one channel and at least one sample.  Every clip's header is read
here, and every bad row (an empty path, label or fold/participant, a missing, unreadable, stereo or
empty clip, a clip listed twice) is listed in one error with its CSV line, before any feature is
computed.  ``fold`` becomes utt2fold (your folds as they are), ``participant`` utt2group
(kdspeech.bin.split_cls deals whole participants into folds, so nobody is in both training and test);
``utt2dur`` (each clip's seconds) is what ``--duration auto`` reads.

Utterance ids: the clip's path relative to the CSV's folder, without extension, ``/`` replaced by
``__`` and any character other than letters, digits and ``_.+-`` by ``_`` (``clips/p01/a.wav`` ->
``clips__p01__a``); a clip outside the CSV's folder gets its file name (a warning counts them).
"""

import argparse
import logging
import os
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.data.dir_from import from_csv, read_csv_rows
from kdspeech.data.dir_ops import write_dir
from kdspeech.errors import KdError

log = logging.getLogger("prepare_csv")


def group_column(path):
    """``fold`` or ``participant``: the column that places each clip; a header without ``label`` and
    one of them is a KdError (line 1)."""
    try:
        columns, _ = read_csv_rows(path)
    except KdError as err:
        if err.line != 1:
            raise
        text = str(err)
        detail = text[text.index("(got ") + 1:].rstrip(")") if "(got " in text else text
        raise KdError(f"header must be path,label,fold or path,label,participant ({detail})", path=path,
                      line=1) from None
    groups = [c for c in ("fold", "participant") if c in columns]
    if "label" not in columns or len(groups) != 1:
        raise KdError(f"header must be path,label,fold or path,label,participant (got {','.join(columns)})",
                      path=path, line=1)
    return groups[0]


def outside(path, wav):
    """The clips of ``wav`` that are not under the CSV's folder."""
    base = str(Path(path).resolve().parent) + os.sep
    return sorted(p for p in wav.values() if not p.startswith(base))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    path = Path(args.csv)
    if not path.is_file():
        raise KdError("CSV not found (db.sh: user_csv=..., or KDSPEECH_USER_CSV)", path=path)
    group = group_column(path)
    tables = from_csv(path, required=("label", group), durations=True)
    elsewhere = outside(path, tables["wav.scp"])
    if elsewhere:
        log.warning("%d of %d clips lie outside the CSV's folder %s (e.g. %s): their utterance ids are their file "
                    "names; they are in stage 1's fingerprint all the same (the CSV and every clip it lists)",
                    len(elsewhere), len(tables["wav.scp"]), path.resolve().parent, elsewhere[0])
    out = write_dir(args.out, tables)
    labels, groups = tables["utt2label"], tables["utt2fold" if group == "fold" else "utt2group"]
    print(f"{len(out.utts)} clips, {len(set(labels.values()))} classes, {len(set(groups.values()))} {group}s")
    return 0


if __name__ == "__main__":
    run_main(main)
