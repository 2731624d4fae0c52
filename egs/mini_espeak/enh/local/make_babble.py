#!/usr/bin/env python3
"""Make a babble-noise WAV by overlapping utterances of different speakers from a data dir.

Each talker's utterance is looped to ``--duration`` seconds, circularly shifted by a random offset
(so the talkers do not all start together), scaled to unit RMS (equal loudness), then all talkers
are summed and the sum is scaled to a peak of ``PEAK``.  Talkers come from distinct speakers as long
as the data dir has enough of them.  The choice of utterances and offsets depends only on ``--seed``.
"""

import argparse
import logging
import random

import numpy as np

from kdspeech.cli import run_main
from kdspeech.data.audio import load_audio, save_audio
from kdspeech.data.datadir import DataDir
from kdspeech.errors import KdError

PEAK = 0.9


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir", help="speech data dir with wav.scp and utt2spk")
    p.add_argument("out_wav", help="babble WAV to write")
    p.add_argument("--num_talkers", type=int, default=6)
    p.add_argument("--duration", type=float, default=30.0, help="seconds")
    p.add_argument("--sr", type=int, default=22050, help="sample rate every input must have")
    p.add_argument("--seed", type=int, default=1)
    return p


def pick_talkers(utt2spk, num_talkers, rng):
    """Utterance ids, one per speaker in a shuffled speaker order, cycling if speakers run out."""
    by_spk = {}
    for utt, spk in utt2spk.items():
        by_spk.setdefault(spk, []).append(utt)
    speakers = sorted(by_spk)
    rng.shuffle(speakers)
    for spk in speakers:
        rng.shuffle(by_spk[spk])
    picked = []
    while len(picked) < num_talkers and any(by_spk.values()):
        for spk in speakers:
            if by_spk[spk] and len(picked) < num_talkers:
                picked.append(by_spk[spk].pop())
    if len(set(utt2spk[u] for u in picked)) < num_talkers:
        logging.warning("only %d different speakers available for %d talkers",
                        len(set(utt2spk[u] for u in picked)), num_talkers)
    return picked


def make_babble(signals, num_samples, rng):
    """Sum of the looped, shifted, RMS-normalized signals, scaled to peak PEAK."""
    total = np.zeros(num_samples, dtype=np.float64)
    for x in signals:
        looped = np.roll(np.resize(x.astype(np.float64), num_samples), rng.randrange(num_samples))
        total += looped / np.sqrt(np.mean(looped ** 2))
    return (PEAK * total / np.max(np.abs(total))).astype(np.float32)


def main(argv=None):
    args = get_parser().parse_args(argv)
    data = DataDir(args.data_dir)
    utt2spk = data.read("utt2spk")
    rng = random.Random(args.seed)
    talkers = pick_talkers(utt2spk, args.num_talkers, rng)
    if not talkers:
        raise KdError("no utterances to make babble from", path=args.data_dir)
    signals = [load_audio(data.wav_scp[u], sr=args.sr, utt=u)[0] for u in talkers]
    for utt, x in zip(talkers, signals):
        if not np.any(x):
            raise KdError(f"utterance {utt} is all zeros", path=data.wav_scp[utt])
    babble = make_babble(signals, int(round(args.duration * args.sr)), rng)
    save_audio(args.out_wav, babble, args.sr)
    logging.info("wrote %s from %s", args.out_wav, " ".join(talkers))
    return 0


if __name__ == "__main__":
    run_main(main)
