#!/usr/bin/env python3
"""Synthesize the mini_espeak clean-speech corpus with espeak-ng (no download, no network).

Writes ``<out_dir>/clean_{train,valid,test}`` Kaldi data dirs (``wav.scp``, ``text``, ``utt2spk``) and
the WAVs under ``<out_dir>/local/speech/<utt>.wav`` at espeak-ng's native 22.05 kHz (the recipe's
resample stage converts them).  Everything is decided up front from ``--seed``: the sentences are
split into disjoint test / valid / train pools, and every utterance gets a voice, a sentence and a
speaking rate, so the result never depends on thread scheduling.  Test voices are unseen speakers.

A WAV is re-synthesized only when it is missing or its recorded (voice, speed, text) changed, so
rerunning is cheap and idempotent.
"""

import argparse
import logging
import os
import random
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile
from tqdm import tqdm

from kdspeech.cli import run_main
from kdspeech.data.audio import save_audio
from kdspeech.data.datadir import read_kv, write_kv
from kdspeech.errors import KdError

from espeak_voices import check_voices, require_espeak  # local/, on sys.path as the script's dir

SENTENCES = Path(__file__).resolve().parent / "sentences.txt"
ESPEAK_RATE = 22050
KEEP_SILENCE_S = 0.1  # silence kept before the first / after the last active sample
ACTIVE_REL_THRESHOLD = 0.01  # |x| above 1 % of the peak (-40 dB) counts as speech


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out_dir", default="data", help="root of the data dirs")
    p.add_argument("--voices", default="en-us+m3,en-us+f3,en-gb+m1,en-gb+f2,en-us+m7,en-gb+f4",
                   help="comma-separated espeak-ng voices for train and valid")
    p.add_argument("--test_voices", default="en-us+f5,en-gb+m5", help="unseen voices for test")
    p.add_argument("--num_train", type=int, default=60)
    p.add_argument("--num_valid", type=int, default=12)
    p.add_argument("--num_test", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--speed_range", default="140,180", help="min,max words per minute (inclusive)")
    p.add_argument("--sentences", default=str(SENTENCES), help="one transcript per line")
    p.add_argument("--nj", type=int, default=2, help="parallel espeak-ng processes")
    return p


def speaker_id(voice):
    """Kaldi speaker id of an espeak-ng voice: ``en-us+m3`` -> ``en-us_m3``."""
    return voice.replace("+", "_")


def read_sentences(path):
    lines = [" ".join(line.split()) for line in Path(path).read_text(encoding="utf-8").splitlines()]
    sentences = [s for s in lines if s]
    if len(set(sentences)) != len(sentences):
        raise KdError("duplicate sentences", path=path)
    return sentences


def split_pools(sentences, num_valid, num_test, rng):
    """Disjoint (train, valid, test) sentence pools; valid and test take at most a fifth each."""
    order = list(sentences)
    rng.shuffle(order)
    n_test = min(num_test, len(order) // 5)
    n_valid = min(num_valid, len(order) // 5)
    test, valid, train = order[:n_test], order[n_test:n_test + n_valid], order[n_test + n_valid:]
    if (num_test and not test) or (num_valid and not valid) or not train:
        raise KdError(f"only {len(sentences)} sentences: too few for train/valid/test pools")
    return train, valid, test


def plan_split(num, voices, pool, speeds, first_index, rng):
    """``num`` utterances: voices round-robin, sentences cycling over a shuffled pool."""
    pool = list(pool)
    rng.shuffle(pool)
    plan = []
    for k in range(num):
        voice = voices[k % len(voices)]
        utt = f"{speaker_id(voice)}-{first_index + k:04d}"
        plan.append(dict(utt=utt, voice=voice, speed=rng.randint(*speeds), text=pool[k % len(pool)]))
    return plan


def trim_silence(x, sr):
    """Cut leading/trailing silence beyond KEEP_SILENCE_S; the rest is untouched."""
    active = np.flatnonzero(np.abs(x) > ACTIVE_REL_THRESHOLD * np.max(np.abs(x)))
    if active.size == 0:
        return x
    keep = int(round(KEEP_SILENCE_S * sr))
    return x[max(0, active[0] - keep): min(len(x), active[-1] + 1 + keep)]


def synthesize(item, wav_path):
    """Run espeak-ng for one utterance, trim it and save it as 16-bit PCM at 22.05 kHz."""
    with tempfile.TemporaryDirectory(prefix="kd_espeak_") as tmp:
        raw = os.path.join(tmp, "raw.wav")
        cmd = ["espeak-ng", "-v", item["voice"], "-s", str(item["speed"]), "-w", raw, item["text"]]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.exists(raw):
            raise KdError(f"espeak-ng failed for utt {item['utt']}: {proc.stderr.strip()}")
        x, sr = soundfile.read(raw, dtype="float32")
    if sr != ESPEAK_RATE or x.ndim != 1 or not np.any(x):
        raise KdError(f"espeak-ng gave unexpected audio for utt {item['utt']} (sr={sr}, shape={x.shape})")
    save_audio(wav_path, trim_silence(x, sr), sr)


def recipe_of(item):
    return f"{item['voice']} {item['speed']} {item['text']}"


def synthesize_all(items, speech_dir, nj):
    """Synthesize missing or changed WAVs in parallel; the manifest records what each WAV says."""
    manifest_path = speech_dir / "manifest"
    done = read_kv(manifest_path, allow_missing=True)
    todo = [it for it in items
            if done.get(it["utt"]) != recipe_of(it) or not (speech_dir / f"{it['utt']}.wav").is_file()]
    logging.info("%d utterances, %d to synthesize", len(items), len(todo))
    with ThreadPoolExecutor(max_workers=max(1, nj)) as pool:
        jobs = [pool.submit(synthesize, it, speech_dir / f"{it['utt']}.wav") for it in todo]
        for job in tqdm(jobs, desc="espeak-ng", disable=None):
            job.result()
    done.update({it["utt"]: recipe_of(it) for it in items})
    write_kv(manifest_path, done)


def write_data_dir(path, items, speech_dir):
    path.mkdir(parents=True, exist_ok=True)
    write_kv(path / "wav.scp", {it["utt"]: str(speech_dir / f"{it['utt']}.wav") for it in items})
    write_kv(path / "text", {it["utt"]: it["text"].upper() for it in items})
    write_kv(path / "utt2spk", {it["utt"]: speaker_id(it["voice"]) for it in items})


def main(argv=None):
    args = get_parser().parse_args(argv)
    voices = [v for v in args.voices.split(",") if v]
    test_voices = [v for v in args.test_voices.split(",") if v]
    if not voices or not test_voices:
        raise KdError("--voices and --test_voices must each name at least one voice")
    shared = set(map(speaker_id, voices)) & set(map(speaker_id, test_voices))
    if shared:
        raise KdError(f"test voices must be unseen, but {sorted(shared)} are also train voices")
    lo, hi = sorted(int(v) for v in args.speed_range.split(","))
    require_espeak()
    check_voices(voices + test_voices)

    rng = random.Random(args.seed)
    train_pool, valid_pool, test_pool = split_pools(read_sentences(args.sentences),
                                                    args.num_valid, args.num_test, rng)
    splits = {
        "clean_train": plan_split(args.num_train, voices, train_pool, (lo, hi), 0, rng),
        "clean_valid": plan_split(args.num_valid, voices, valid_pool, (lo, hi), args.num_train, rng),
        "clean_test": plan_split(args.num_test, test_voices, test_pool, (lo, hi),
                                 args.num_train + args.num_valid, rng),
    }
    out_dir = Path(args.out_dir).resolve()
    speech_dir = out_dir / "local" / "speech"
    speech_dir.mkdir(parents=True, exist_ok=True)
    synthesize_all([it for items in splits.values() for it in items], speech_dir, args.nj)
    for name, items in splits.items():
        write_data_dir(out_dir / name, items, speech_dir)
        logging.info("wrote %s (%d utterances)", out_dir / name, len(items))
    return 0


if __name__ == "__main__":
    run_main(main)
