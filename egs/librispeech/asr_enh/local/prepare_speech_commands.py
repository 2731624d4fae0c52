#!/usr/bin/env python3
"""Speech Commands words as transcribed, speaker-disjoint data dirs for the ASR training approaches at
CPU scale (a word recogniser is what a few minutes of CPU training can learn; the transcribed sentences
of the enhancement test set are far beyond it).

    local/prepare_speech_commands.py --root ../shared/corpora/speech_commands --out data --seed 1 \\
        --num_valid_speakers 12 --num_test_speakers 25

Writes ``<out>/clean_asr_train``, ``clean_asr_valid`` and ``clean_asr_test`` (wav.scp, utt2spk, text).
Every spoken clip counts: the ten command words of their folders and the other words of
``_unknown_`` (``<word>_<speaker>_nohash_<n>``); ``_silence_`` clips are left out (no speech).  The text
is the word in upper case (the WER normaliser lower-cases it).  Speakers (the token before
``_nohash_``) are shuffled with ``--seed`` and dealt: the first ``--num_test_speakers`` to test, the
next ``--num_valid_speakers`` to valid, the rest to train, so no speaker is in two sets.  Utterance ids
are ``sc<speaker>-<word>-<n>`` (speaker first, so utt2spk sorts with them).  ``--max_per_set N`` keeps
the first N utterances (sorted ids) of each set (tests).  File names may end in .wav, .flac or
(as the shared subset's ``_unknown_`` clips) .wav.flac.
"""

import argparse
import random
import re
import sys
from pathlib import Path

from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError

CLIP = re.compile(r"^(?:(?P<word>[a-z]+)_)?(?P<spk>[0-9a-f]{8})_nohash_(?P<n>\d+)(?:\.wav)?\.(?:flac|wav)$")
SETS = ("clean_asr_train", "clean_asr_valid", "clean_asr_test")


def find_clips(root):
    """``[(utt, speaker, word, path)]`` of every spoken clip under ``root`` (folders per word)."""
    root = Path(root)
    folders = sorted(d for d in root.iterdir() if d.is_dir() and d.name != "_silence_") if root.is_dir() else []
    if not folders:
        raise KdError("no word folders (Speech Commands layout: <word>/<speaker>_nohash_<n>.wav)", path=root)
    clips = []
    for folder in folders:
        for path in sorted(folder.iterdir()):
            match = CLIP.match(path.name)
            if not match:
                continue
            word = match["word"] if folder.name == "_unknown_" else folder.name
            if not word or not word.isalpha():
                raise KdError(f"cannot tell the word of {path.name}", path=path)
            spk = match["spk"]
            clips.append((f"sc{spk}-{word}-{match['n']}", spk, word, str(path.resolve())))
    if not clips:
        raise KdError("no clip named <speaker>_nohash_<n>.wav|.flac in the word folders", path=root)
    return clips


def deal_speakers(speakers, seed, num_valid, num_test):
    """``{speaker: set name}``: shuffled with ``seed``, test first, then valid, the rest train."""
    speakers = sorted(speakers)
    if num_valid + num_test >= len(speakers):
        raise KdError(f"{len(speakers)} speakers cannot give {num_test} test and {num_valid} validation speakers "
                      "and leave some for training")
    random.Random(seed).shuffle(speakers)
    order = [SETS[2]] * num_test + [SETS[1]] * num_valid
    return {spk: order[i] if i < len(order) else SETS[0] for i, spk in enumerate(speakers)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="the Speech Commands folder (word folders inside)")
    p.add_argument("--out", default="data")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--num_valid_speakers", type=int, default=12)
    p.add_argument("--num_test_speakers", type=int, default=25)
    p.add_argument("--max_per_set", type=int, default=0, help="first N utterances of each set (0: all)")
    args = p.parse_args(argv)
    clips = find_clips(args.root)
    where = deal_speakers({c[1] for c in clips}, args.seed, args.num_valid_speakers, args.num_test_speakers)
    for name in SETS:
        chosen = sorted(c for c in clips if where[c[1]] == name)
        if args.max_per_set:
            chosen = chosen[:args.max_per_set]
        out = Path(args.out) / name
        out.mkdir(parents=True, exist_ok=True)
        write_kv(out / "wav.scp", {u: path for u, _, _, path in chosen})
        write_kv(out / "utt2spk", {u: spk for u, spk, _, _ in chosen})
        write_kv(out / "text", {u: word.upper() for u, _, word, _ in chosen})
        print(f"{name}: {len(chosen)} words of {len({c[1] for c in chosen})} speakers, "
              f"{len({c[2] for c in chosen})} distinct words", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KdError as err:
        sys.exit(f"prepare_speech_commands.py: {err}")
