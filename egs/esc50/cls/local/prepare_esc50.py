#!/usr/bin/env python3
"""ESC-50 -> Kaldi data dir: wav.scp, utt2label (category), utt2fold (official fold), utt2spk.

    local/prepare_esc50.py --root <ESC-50 dir with meta/esc50.csv and audio/> --out data/all

The csv lists ``.wav`` names; the audio is found by stem, whatever its extension (the official
archive has .wav, the shared test subset .flac).  Rows whose clip is absent are an error unless
``--allow_missing`` (then they are skipped and counted).
"""

import argparse
import csv
import sys
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--allow_missing", action="store_true")
    args = p.parse_args(argv)
    root = Path(args.root).resolve()
    meta = root / "meta" / "esc50.csv"
    if not meta.exists():
        raise KdError("ESC-50 metadata not found (set esc50 in db.sh or run the download stage)", path=meta)
    audio = {f.stem: f for f in (root / "audio").iterdir() if f.suffix.lower() in (".wav", ".flac")}
    wav, label, fold, spk, missing = {}, {}, {}, {}, 0
    with open(meta, newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), 2):
            try:
                stem = Path(row["filename"]).stem
                cat, fo = row["category"], row["fold"]
            except KeyError as err:
                raise KdError(f"column {err} missing", path=meta, line=line) from None
            if stem not in audio:
                if args.allow_missing:
                    missing += 1
                    continue
                raise KdError(f"no audio file for {row['filename']} (looked for {stem}.wav/.flac)", path=meta, line=line)
            wav[stem], label[stem], fold[stem], spk[stem] = str(audio[stem]), cat, fo, stem
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, kv in (("wav.scp", wav), ("utt2label", label), ("utt2fold", fold), ("utt2spk", spk)):
        write_kv(out / name, kv)
    print(f"{len(wav)} clips, {len(set(label.values()))} classes, folds {sorted(set(fold.values()))}"
          f"{f', {missing} csv rows without audio skipped' if missing else ''}", file=sys.stderr)


if __name__ == "__main__":
    run_main(main)
