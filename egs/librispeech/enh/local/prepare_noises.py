#!/usr/bin/env python3
"""Noise data dirs: seen (training, validation, seen-noise test) and unseen (unseen-noise test) noises.

    local/prepare_noises.py --out data --train_dir /data/NOISEX-92 \
        --train_noises speech_shaped=speech_shaped,babble=babble,factory1=factory1 \
        --test_dir /data/CHiME4/backgrounds --test_noises "bus=*BUS*.CH1,cafe=*CAF*.CH1"

Each ``type=pattern`` names a noise type and a file-name pattern (glob, without extension; .wav,
.flac and .sph are tried) inside the folder; every matching file becomes one noise recording
``<type>`` (one file) or ``<type>-<stem>`` of that type (utt2noise), so a type may span several files (CHiME-4 backgrounds).
A pattern that matches nothing is an error naming the folder.
"""

import argparse
import sys
from pathlib import Path

from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError

EXTENSIONS = (".wav", ".flac", ".sph", ".WAV")


def parse_spec(text):
    pairs = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, sep, pattern = item.partition("=")
        if not sep or not name or not pattern:
            raise KdError(f"noise spec {item!r}: expected type=pattern")
        pairs.append((name, pattern))
    return pairs


def noise_dir(folder, spec, out):
    folder = Path(folder)
    wav, types = {}, {}
    for name, pattern in parse_spec(spec):
        files = sorted({f for ext in EXTENSIONS for f in folder.glob(pattern + ext)})
        if not files:
            raise KdError(f"noise type {name}: no file matches {pattern}{{{','.join(EXTENSIONS)}}}", path=folder)
        for f in files:
            rec = (name if len(files) == 1 else f"{name}-{f.stem}").replace(" ", "_")
            wav[rec], types[rec] = str(f.resolve()), name
    out.mkdir(parents=True, exist_ok=True)
    write_kv(out / "wav.scp", wav)
    write_kv(out / "utt2noise", types)
    print(f"{out.name}: {len(wav)} recordings of {len(set(types.values()))} noise types", file=sys.stderr)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="data")
    p.add_argument("--train_dir", required=True)
    p.add_argument("--train_noises", required=True)
    p.add_argument("--test_dir", required=True)
    p.add_argument("--test_noises", required=True)
    args = p.parse_args(argv)
    noise_dir(args.train_dir, args.train_noises, Path(args.out) / "noise_train")
    noise_dir(args.test_dir, args.test_noises, Path(args.out) / "noise_test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
