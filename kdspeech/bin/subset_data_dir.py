"""Write a subset of a data dir: by an id list, the first N, N at random (seeded), or by speaker.

    python -m kdspeech.bin.subset_data_dir --src data/all --dst data/dev --utt_list dev_ids.txt
    python -m kdspeech.bin.subset_data_dir --src data/all --dst data/train --utt_list dev_ids.txt --exclude
    python -m kdspeech.bin.subset_data_dir --src data/all --dst data/first100 --first 100
    python -m kdspeech.bin.subset_data_dir --src data/all --dst data/rand500 --random 500 --seed 1
    python -m kdspeech.bin.subset_data_dir --src data/all --dst data/spk --spk_list speakers.txt
    python -m kdspeech.bin.subset_data_dir --src data/all --dst data/per_spk --per_spk 2

The Kaldi ``utils/subset_data_dir.sh`` and ``utils/filter_scp.pl`` operations.  Lists hold one id a
line; only the first field counts, so a ``utt2spk`` or ``wav.scp`` is a list too.  An id the source
does not have is an error naming the list's line.  ``--first`` and ``--per_spk`` take utterances in
sorted id order; ``--random N`` draws N without replacement with ``--seed`` (the same seed, the same
subset).  ``--exclude`` keeps the utterances the selection does NOT name (e.g. training = all minus
a list).  Every per-utterance file is filtered, ``spk2utt`` rewritten, ``trials`` kept where both
utterances are (``kdspeech.data.dir_ops``); ids are segment ids when the source has ``segments``.
"""

import argparse
import logging

import numpy as np

from kdspeech.cli import positive_count, run_main
from kdspeech.data.datadir import DataDir
from kdspeech.data.dir_ops import subset_dir
from kdspeech.errors import KdError

log = logging.getLogger("kdspeech.subset_data_dir")


def read_list(path, known, what):
    """Ids (first field of each non-blank line) of a list file; one not in ``known`` is a KdError."""
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as err:
        raise KdError(f"cannot read the list ({err.strerror})", path=path) from None
    ids = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if fields[0] not in known:
            raise KdError(f"{what} '{fields[0]}' is not in the source data dir", path=path, line=number)
        ids.append(fields[0])
    if not ids:
        raise KdError(f"the list names no {what}", path=path)
    return ids


def speakers_of(data):
    if not data.has("utt2spk"):
        raise KdError("selecting by speaker needs utt2spk", path=data.file("utt2spk"))
    return data.read("utt2spk")


def select(data, args):
    """The utterance ids the options select (before ``--exclude``)."""
    utts = data.utts
    if args.utt_list:
        return set(read_list(args.utt_list, set(utts), "utterance"))
    if args.spk_list:
        utt2spk = speakers_of(data)
        chosen = set(read_list(args.spk_list, set(utt2spk.values()), "speaker"))
        return {u for u in utts if utt2spk.get(u) in chosen}
    if args.per_spk:
        utt2spk, taken, out = speakers_of(data), {}, set()
        for u in utts:
            spk = utt2spk[u]
            if taken.get(spk, 0) < args.per_spk:
                taken[spk] = taken.get(spk, 0) + 1
                out.add(u)
        return out
    count = args.first or args.random
    if count > len(utts):
        raise KdError(f"{count} utterances asked for, but the data dir has {len(utts)}", path=data.path)
    if args.first:
        return set(utts[:count])
    rng = np.random.default_rng(args.seed)
    return {utts[i] for i in rng.choice(len(utts), size=count, replace=False)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", required=True, help="source data dir")
    p.add_argument("--dst", required=True, help="data dir to write (replaced when it exists)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--utt_list", help="file of utterance ids to keep (first field of each line)")
    how.add_argument("--spk_list", help="file of speaker ids whose utterances to keep (utt2spk)")
    how.add_argument("--first", type=positive_count, metavar="N", help="the first N utterances in id order")
    how.add_argument("--random", type=positive_count, metavar="N", help="N utterances drawn with --seed")
    how.add_argument("--per_spk", type=positive_count, metavar="N", help="the first N utterances of each speaker")
    p.add_argument("--seed", type=int, default=1, help="seed of --random (default 1)")
    p.add_argument("--exclude", action="store_true", help="keep the utterances NOT selected")
    args = p.parse_args(argv)
    data = DataDir(args.src).validate()
    keep = select(data, args)
    if args.exclude:
        keep = set(data.utts) - keep
    out = subset_dir(data, args.dst, keep)
    print(f"{out.path}: {len(out.utts)} of {len(data.utts)} utterances")
    return 0


if __name__ == "__main__":
    run_main(main)
