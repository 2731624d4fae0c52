"""Split a speech sources dir for personalized enhancement: enrolment clips, then train/valid sources by file.

    python -m kdspeech.bin.split_sources --data data/sources --out data/pse \\
        [--valid_fraction 0.15] [--seed 1]

1. Enrolment: for every speaker (``utt2spk``) with at least two utterances, one utterance is drawn
   with the seed and set aside in ``<out>/enroll``.  That dir is keyed by *speaker* (``wav.scp``
   ``<spk> <audio>``, ``utt2spk`` ``<spk> <spk>``, ``segments`` renamed likewise, ``enroll2utt``
   ``<spk> <source utterance>``), so ``kdspeech.bin.embed`` on it writes the speaker-keyed
   embedding table that ``data.enroll_emb`` and ``kdspeech.bin.mix_pse`` expect.  A speaker with a
   single utterance cannot be both target and enrolled: its utterance is left out (logged).
2. The remaining files are shuffled with the seed and ``round(valid_fraction * n)`` of them (at
   least one; none and no ``valid`` dir with ``--valid_fraction 0``, e.g. for test speakers) go to
   ``<out>/valid``, the rest to ``<out>/train`` (every per-utterance file of ``--data`` filtered).  Enrolment utterances are in neither, so an example never uses its
   enrolment clip as target or interferer.
"""

import argparse
import logging
import random
from collections import defaultdict
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.data.datadir import DataDir, subset_data_dir, write_kv
from kdspeech.errors import KdError

log = logging.getLogger("kdspeech.split_sources")


def choose(utt2spk, valid_fraction, seed):
    """``(enroll {spk: utt}, train utts, valid utts, left-out utts)``, from the seed only."""
    by_spk = defaultdict(list)
    for utt, spk in sorted(utt2spk.items()):
        by_spk[spk].append(utt)
    rng = random.Random(seed)
    enroll, rest, left = {}, [], []
    for spk in sorted(by_spk):
        utts = by_spk[spk]
        if len(utts) < 2:
            left += utts
            continue
        enroll[spk] = rng.choice(utts)
        rest += [u for u in utts if u != enroll[spk]]
    if len(rest) < 2:
        raise KdError(f"{len(rest)} utterance(s) left after taking enrolment clips: nothing to split")
    rng.shuffle(rest)
    n_valid = 0 if valid_fraction == 0 else min(max(1, round(valid_fraction * len(rest))), len(rest) - 1)
    return enroll, sorted(rest[n_valid:]), sorted(rest[:n_valid]), left


def write_enroll(src, dst, enroll):
    """The enrolment dir keyed by speaker (see the module doc)."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    if src.has("segments"):
        segments = src.read("segments")
        write_kv(dst / "segments", {spk: segments[utt] for spk, utt in enroll.items()})
        recordings = {segments[utt].split()[0] for utt in enroll.values()}
        write_kv(dst / "wav.scp", {r: src.wav_scp[r] for r in recordings})
    else:
        write_kv(dst / "wav.scp", {spk: src.wav_scp[utt] for spk, utt in enroll.items()})
    write_kv(dst / "utt2spk", {spk: spk for spk in enroll})
    write_kv(dst / "enroll2utt", dict(enroll))
    return DataDir(dst).validate()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="sources data dir (wav.scp, utt2spk)")
    parser.add_argument("--out", required=True, help="writes <out>/{train,valid,enroll}")
    parser.add_argument("--valid_fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 0 <= args.valid_fraction < 1:
        parser.error("--valid_fraction must be in [0, 1)")
    src = DataDir(args.data).validate()
    if not src.has("utt2spk"):
        raise KdError("the sources need utt2spk (speakers for enrolment)", path=src.file("utt2spk"))
    enroll, train, valid, left = choose(src.read("utt2spk"), args.valid_fraction, args.seed)
    if left:
        log.warning("%d speaker(s) with a single utterance left out (cannot be target and enrolled), "
                    "first '%s'", len(left), left[0])
    out = Path(args.out)
    for name, utts in (("train", train), ("valid", valid)):
        if utts:
            subset_data_dir(src, out / name, utts).validate()
    write_enroll(src, out / "enroll", enroll)
    print(f"{out}: train {len(train)}, valid {len(valid)} utterances, enroll {len(enroll)} speakers"
          + (f", {len(left)} left out" if left else ""))
    return 0


if __name__ == "__main__":
    run_main(main)
