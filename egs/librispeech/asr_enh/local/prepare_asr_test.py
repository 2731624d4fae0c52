#!/usr/bin/env python3
"""The transcribed test speech as one Kaldi data dir (wav.scp, utt2spk, text), sorted.

    local/prepare_asr_test.py --root ../shared/corpora/asr --subsets "an4 speechbrain mini_ljspeech" --out data/clean_test

Each subset folder has ``text``, ``wav.list`` (paths relative to it) and ``utt2spk``.  AN4 keeps its
test part (``an4test_clstk``) only: its training part is the LM text a user may build.  ``--num_per_subset N`` keeps the first N
utterances (sorted ids) of each subset (tests).  Utterance
ids are prefixed by nothing (they are unique across the three); a duplicate is an error.
"""

import argparse
import sys
from pathlib import Path

from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError


def read_table(path):
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise KdError(f"cannot read ({err})", path=path) from None
    table = {}
    for number, line in enumerate(lines, start=1):
        fields = line.split(maxsplit=1)
        if len(fields) != 2:
            raise KdError(f"line {number}: expected '<utt> <value>'", path=path)
        table[fields[0]] = fields[1].strip()
    return table


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", required=True)
    p.add_argument("--subsets", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--num_per_subset", type=int, default=0, help="first N utterances of each subset (0: all)")
    args = p.parse_args(argv)
    wav, spk, text = {}, {}, {}
    for subset in args.subsets.split():
        root = Path(args.root) / subset
        if not root.is_dir():
            raise KdError(f"test subset {subset} not found (ASR_CORPORA in db.sh)", path=root)
        paths, speakers, words = (read_table(root / n) for n in ("wav.list", "utt2spk", "text"))
        taken = 0
        for utt, rel in sorted(paths.items()):
            if subset == "an4" and "an4test_clstk" not in rel:
                continue
            if args.num_per_subset and taken == args.num_per_subset:
                break
            taken += 1
            if utt in wav:
                raise KdError(f"utterance {utt} appears twice", path=root / "wav.list")
            if utt not in words:
                raise KdError(f"utterance {utt} has no transcript", path=root / "text")
            wav[utt] = str((root / rel).resolve())
            spk[utt] = f"{subset}-{speakers.get(utt, utt)}"
            text[utt] = words[utt]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_kv(out / "wav.scp", wav)
    write_kv(out / "utt2spk", spk)
    write_kv(out / "text", text)
    print(f"{out}: {len(wav)} transcribed test utterances", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except KdError as err:
        print(f"local/prepare_asr_test.py: {err}", file=sys.stderr)
        sys.exit(1)
