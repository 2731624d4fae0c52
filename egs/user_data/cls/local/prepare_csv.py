#!/usr/bin/env python3
"""Your own clips -> data/all from a CSV with a header ``path,label,fold`` or ``path,label,participant``.

    local/prepare_csv.py --csv my_clips.csv --out data/all

``path`` is absolute or relative to the CSV's folder; any format soundfile reads, any rate (dump_feats
brings it to 16 kHz), one channel and at least one sample: every clip's header is read here, so a
stereo, empty or unreadable clip is reported with its CSV line (and its utterance id) before any
feature is computed.  ``fold`` columns become utt2fold (your folds as they are); ``participant``
columns become utt2group (kdspeech.bin.split_cls deals whole participants into folds, so nobody is
in both training and test).

Utterance ids: the clip's path relative to the CSV's folder when every clip lies under it, else
relative to the longest folder common to all clips (absolute paths elsewhere), without extension,
``/`` replaced by ``__`` and any character other than letters, digits and ``_.+-`` by ``_``:
``clips/p01/a.wav`` -> ``clips__p01__a``.
"""

import argparse
import csv
import os
import re
import sys
from pathlib import Path

import soundfile as sf

from kdspeech.cli import run_main
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError


def utt_id(rel):
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", str(Path(rel).with_suffix("")).replace(os.sep, "__"))


def id_root(csv_dir, clips):
    """The folder utterance ids are relative to: the CSV's folder, or the clips' common folder."""
    csv_dir = os.path.normpath(os.path.abspath(csv_dir))
    if all(os.path.commonpath([csv_dir, c]) == csv_dir for c in clips):
        return csv_dir
    return os.path.commonpath([os.path.dirname(c) for c in clips])


def check_clip(audio, path, line, utt):
    try:
        info = sf.info(str(audio))
    except (RuntimeError, sf.LibsndfileError) as err:
        raise KdError(f"clip {utt} ({audio}) cannot be read: {err}", path=path, line=line) from None
    if info.channels != 1:
        raise KdError(f"clip {utt} ({audio}) has {info.channels} channels, expected mono "
                      "(mix it down, e.g. sox in.wav out.wav remix -)", path=path, line=line)
    if info.frames == 0:
        raise KdError(f"clip {utt} ({audio}) is empty (0 samples)", path=path, line=line)


def read_csv(path):
    """``(group column, [(line, absolute clip path, label, group)])``, every row checked."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        cols = [c.strip() for c in reader.fieldnames or []]
        if "path" not in cols or "label" not in cols or not ({"fold", "participant"} & set(cols)):
            raise KdError(f"header must be path,label,fold or path,label,participant (got {','.join(cols)})",
                          path=path, line=1)
        reader.fieldnames = cols
        group_col = "fold" if "fold" in cols else "participant"
        rows = []
        for line, row in enumerate(reader, 2):
            rel, lab, grp = ((row.get(k) or "").strip() for k in ("path", "label", group_col))
            if not rel or not lab or not grp:
                raise KdError("empty path, label or " + group_col, path=path, line=line)
            audio = os.path.normpath(os.path.join(os.path.abspath(path.parent), rel))
            if not os.path.exists(audio):
                raise KdError(f"audio file not found: {audio}", path=path, line=line)
            rows.append((line, audio, lab, grp))
    if not rows:
        raise KdError("CSV lists no clips", path=path)
    return group_col, rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    path = Path(args.csv)
    if not path.is_file():
        raise KdError("CSV not found (db.sh: user_csv=..., or KDSPEECH_USER_CSV)", path=path)
    group_col, rows = read_csv(path)
    root = id_root(path.parent, [audio for _, audio, _, _ in rows])
    wav, label, group, line_of = {}, {}, {}, {}
    for line, audio, lab, grp in rows:
        utt = utt_id(os.path.relpath(audio, root))
        if utt in wav:
            raise KdError(f"clip {audio} gives utterance id {utt}, as line {line_of[utt]} does "
                          "(a clip listed twice, or two files differing only in extension)", path=path, line=line)
        check_clip(audio, path, line, utt)
        wav[utt], label[utt], group[utt], line_of[utt] = str(Path(audio).resolve()), lab, grp, line
    out = Path(args.out)
    write_kv(out / "wav.scp", wav)
    write_kv(out / "utt2label", label)
    write_kv(out / ("utt2fold" if group_col == "fold" else "utt2group"), group)
    print(f"{len(wav)} clips, {len(set(label.values()))} classes, {len(set(group.values()))} {group_col}s; "
          f"utterance ids relative to {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
