#!/usr/bin/env python3
"""Your own clips -> data/all from a CSV with a header ``path,label,fold`` or ``path,label,participant``.

    local/prepare_csv.py --csv my_clips.csv --out data/all

``path`` is absolute or relative to the CSV's folder; any format soundfile reads, any rate (dump_feats
brings it to 16 kHz).  ``fold`` columns become utt2fold (your folds as they are); ``participant``
columns become utt2group (kdspeech.bin.split_cls deals whole participants into folds, so nobody is
in both training and test).  Utterance id = the path relative to the CSV folder, without extension,
``/`` replaced by ``__``.
"""

import argparse
import csv
import re
import sys
from pathlib import Path

from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError


def utt_id(rel):
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", str(Path(rel).with_suffix("")).replace("/", "__"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--csv", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    path = Path(args.csv)
    if not path.exists():
        raise KdError("CSV not found (db.sh: user_csv=...)", path=path)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        cols = reader.fieldnames or []
        if "path" not in cols or "label" not in cols or not ({"fold", "participant"} & set(cols)):
            raise KdError(f"header must be path,label,fold or path,label,participant (got {','.join(cols)})",
                          path=path, line=1)
        group_col = "fold" if "fold" in cols else "participant"
        wav, label, group = {}, {}, {}
        for line, row in enumerate(reader, 2):
            rel, lab, grp = row["path"].strip(), row["label"].strip(), row[group_col].strip()
            if not rel or not lab or not grp:
                raise KdError("empty path, label or " + group_col, path=path, line=line)
            audio = (path.parent / rel).resolve()
            if not audio.exists():
                raise KdError(f"audio file not found: {audio}", path=path, line=line)
            utt = utt_id(rel)
            if utt in wav:
                raise KdError(f"clip {rel} listed twice", path=path, line=line)
            wav[utt], label[utt], group[utt] = str(audio), lab, grp
    if not wav:
        raise KdError("CSV lists no clips", path=path)
    out = Path(args.out)
    write_kv(out / "wav.scp", wav)
    write_kv(out / "utt2label", label)
    write_kv(out / ("utt2fold" if group_col == "fold" else "utt2group"), group)
    print(f"{len(wav)} clips, {len(set(label.values()))} classes, {len(set(group.values()))} {group_col}s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
