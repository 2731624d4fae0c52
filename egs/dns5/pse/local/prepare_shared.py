#!/usr/bin/env python3
"""CPU-scale data dirs for the personalized-enhancement recipe from the shared corpora subsets.

    local/prepare_shared.py --librispeech <LibriSpeech root> --noise <noise root> --rirs <rirs dir> \\
        --out data [--min_seconds 4] [--test_noises 30] [--test_rirs 1] [--max_train_speakers 0] \\
        [--max_test_speakers 0]

Written under ``--out`` (the same names as local/prepare_dns5.py writes where they mean the same):

- ``train_clean``: LibriSpeech train-clean-100, where every reader has one utterance: each utterance is
  cut into two halves by a Kaldi ``segments`` file (``<utt>-a``, ``<utt>-b``, speaker = reader), so
  ``kdspeech.bin.split_sources`` can enrol a speaker with one half and mix the other (enrolment =
  *another part of the same utterance*).  Utterances shorter than ``--min_seconds`` are left out.
- ``test_clean``: LibriSpeech test-other (unseen readers, several utterances each: enrolment =
  *another utterance* of the same reader).
- ``noise`` / ``noise_test``: NOISEX-92 and the nonspeech sounds; the last ``--test_noises`` nonspeech
  sounds (by number) are kept for the test set only (unseen noises).
- ``rir`` / ``rir_test``: the room impulse responses, the last ``--test_rirs`` for the test set only.

``--max_train_speakers`` / ``--max_test_speakers`` (0: all) keep the first readers by id (smoke tests).
"""

import argparse
import re
from pathlib import Path

import soundfile as sf

from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError


def flacs(root, pattern="**/*.flac"):
    files = sorted(Path(root).glob(pattern))
    if not files:
        raise KdError(f"no FLAC files under {root} (stage 1: data preparation; see db.sh)", path=str(root))
    return files


def librispeech(root, subset, max_speakers=0):
    base = Path(root) / "LibriSpeech" / subset
    files = {f.stem: f for f in flacs(base, "*/*/*.flac")}
    if max_speakers:
        keep = sorted({u.split("-")[0] for u in files}, key=int)[:max_speakers]
        files = {u: f for u, f in files.items() if u.split("-")[0] in keep}
    return files


def write_dir(out, wav, utt2spk=None, segments=None):
    out.mkdir(parents=True, exist_ok=True)
    write_kv(out / "wav.scp", {k: str(Path(v).resolve()) for k, v in wav.items()})
    if utt2spk is not None:
        write_kv(out / "utt2spk", utt2spk)
    if segments is not None:
        write_kv(out / "segments", segments)


def halves(files, min_seconds):
    """wav.scp by recording, segments and utt2spk of the two halves of each long-enough utterance."""
    wav, segments, utt2spk = {}, {}, {}
    for utt, path in files.items():
        seconds = sf.info(str(path)).duration
        if seconds < min_seconds:
            continue
        wav[utt] = path
        mid = round(seconds / 2, 3)
        segments[f"{utt}-a"] = f"{utt} 0.000 {mid:.3f}"
        segments[f"{utt}-b"] = f"{utt} {mid:.3f} {seconds:.3f}"
        utt2spk[f"{utt}-a"] = utt2spk[f"{utt}-b"] = utt.split("-")[0]
    return wav, segments, utt2spk


def number(path):
    found = re.findall(r"\d+", path.stem)
    return int(found[-1]) if found else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--librispeech", required=True)
    p.add_argument("--noise", required=True, help="folder with noisex92/ and nonspeech/")
    p.add_argument("--rirs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--min_seconds", type=float, default=4.0)
    p.add_argument("--test_noises", type=int, default=30)
    p.add_argument("--test_rirs", type=int, default=1)
    p.add_argument("--max_train_speakers", type=int, default=0)
    p.add_argument("--max_test_speakers", type=int, default=0)
    a = p.parse_args()
    out = Path(a.out)

    wav, segments, utt2spk = halves(librispeech(a.librispeech, "train-clean-100", a.max_train_speakers), a.min_seconds)
    write_dir(out / "train_clean", wav, utt2spk, segments)
    test = librispeech(a.librispeech, "test-other", a.max_test_speakers)
    write_dir(out / "test_clean", test, {u: u.split("-")[0] for u in test})

    nonspeech = sorted(flacs(Path(a.noise) / "nonspeech"), key=number)
    noisex = flacs(Path(a.noise) / "noisex92")
    cut = len(nonspeech) - a.test_noises
    if cut <= 0:
        raise KdError(f"--test_noises {a.test_noises} leaves no nonspeech noise for training",
                      path=str(Path(a.noise) / "nonspeech"))
    write_dir(out / "noise", {f"noisex92-{f.stem}": f for f in noisex} | {f"nonspeech-{f.stem}": f for f in nonspeech[:cut]})
    write_dir(out / "noise_test", {f"nonspeech-{f.stem}": f for f in nonspeech[cut:]})

    rirs = sorted(flacs(a.rirs, "*.flac"), key=number)
    if len(rirs) <= a.test_rirs:
        raise KdError(f"{len(rirs)} RIRs: --test_rirs {a.test_rirs} leaves none for training", path=a.rirs)
    write_dir(out / "rir", {f.stem: f for f in rirs[:-a.test_rirs]})
    write_dir(out / "rir_test", {f.stem: f for f in rirs[-a.test_rirs:]})
    print(f"train_clean: {len(utt2spk)} half-utterances of {len(wav)} readers; test_clean: {len(test)} "
          f"utterances; noise: {len(noisex) + cut}, noise_test: {a.test_noises}; rir: {len(rirs) - a.test_rirs}, "
          f"rir_test: {a.test_rirs}")


if __name__ == "__main__":
    main()
