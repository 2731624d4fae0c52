#!/usr/bin/env python3
"""Data dirs of the ICASSP 2023 DNS Challenge (DNS5) personalized track: training sources, noises,
room impulse responses and the blind test sets.

    local/prepare_dns5.py --root /data/DNS5/datasets_fullband --blind /data/DNS5/V5_BlindTestSet \
        --out data [--speech read_speech,vctk_wav48_silence_trimmed] [--speaker_regex '^([^_]+)']

Layout read (the DNS5 downloads, unpacked):

    <root>/clean_fullband/<collection>/...*.wav   training speech (read_speech, german_speech, ...,
                                                  vctk_wav48_silence_trimmed/<p225>/...)
    <root>/noise_fullband/*.wav                   noises
    <root>/impulse_responses/**/*.wav             RIRs (SLR26 simulated, SLR28 real)
    <blind>/Track1_Headset/{noisy,enrol}/*.wav    blind test set, headset track
    <blind>/Track2_Speakerphone/{noisy,enrol}/*.wav  speakerphone track

Written under ``--out``:

- ``train_clean``: ``wav.scp``, ``utt2spk`` (and ``spk2utt``); utterance ids are
  ``<collection>-<path below it, '/' as '-'>``; the speaker is the LibriVox reader
  (``..._reader_<id>_...`` in read_speech names), else the folder holding the file (VCTK ``p225``),
  else the collection;
- ``noise`` and ``rir``: ``wav.scp`` (ids from the path below their folder);
- ``blind_track1_headset``, ``blind_track2_speakerphone``: ``wav.scp`` (the noisy clips),
  ``utt2spk`` and ``utt2enroll`` (``<utt> <enrolment clip>``); no clean reference exists.

A noisy clip's enrolment clip is the enrol clip with the same file name, else the enrol clip of the
same speaker: the speaker key is the first group of ``--speaker_regex`` matched on the file name
(without extension) of the noisy and the enrol clips alike (default: the name up to its first
underscore).  A noisy clip with no enrolment clip, two enrol clips of one speaker, or a missing
folder is a KdError naming the file or folder; nothing is written then.
"""

import argparse
import re
import sys
from pathlib import Path

from kdspeech.data.datadir import write_kv
from kdspeech.data.dir_from import enrolment_clips
from kdspeech.errors import KdError

TRACKS = {"Track1_Headset": "blind_track1_headset", "Track2_Speakerphone": "blind_track2_speakerphone"}
READER = re.compile(r"reader_(\d+)")
DEFAULT_SPEAKER_REGEX = r"^([^_]+)"


def wavs(folder, what):
    """Sorted ``.wav`` files under ``folder`` (recursively); KdError when there is none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise KdError(f"{what} folder not found (set it in db.sh)", path=folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
    if not files:
        raise KdError(f"no .wav files in the {what} folder", path=folder)
    return files


def file_id(path, below):
    """An id without whitespace from the path below ``below``: ``a/b c.wav`` -> ``a-b_c``."""
    rel = path.relative_to(below).with_suffix("")
    return re.sub(r"\s+", "_", "-".join(rel.parts))


def training_speech(clean_root, collections):
    """``(wav.scp, utt2spk)`` of the training speech collections."""
    scp, spk = {}, {}
    for collection in collections:
        folder = Path(clean_root) / collection
        for path in wavs(folder, f"clean speech collection {collection}"):
            utt = f"{collection}-{file_id(path, folder)}"
            reader = READER.search(path.stem)
            if reader:
                speaker = f"reader{reader.group(1)}"
            elif path.parent != folder:
                speaker = f"{collection}-{path.parent.name}"
            else:
                speaker = collection
            scp[utt], spk[utt] = str(path.resolve()), re.sub(r"\s+", "_", speaker)
    return scp, spk


def speaker_key(stem, pattern, path):
    match = pattern.search(stem)
    if not match or not match.group(1):
        raise KdError(f"--speaker_regex {pattern.pattern!r} finds no speaker in this file name", path=path)
    return match.group(1)


def blind_track(track_dir, pattern):
    """``(wav.scp, utt2spk, utt2enroll)`` of one blind-test track: the enrolment clips matched by
    ``kdspeech.data.dir_from.enrolment_clips`` (the same name, else the speaker's one clip)."""
    noisy_dir, enrol_dir = Path(track_dir) / "noisy", Path(track_dir) / "enrol"
    noisy = wavs(noisy_dir, "noisy")
    wavs(enrol_dir, "enrol")

    def speaker_of(rel):
        return speaker_key(Path(rel).stem, pattern, rel)

    rels = {file_id(path, noisy_dir): path.relative_to(noisy_dir).as_posix() for path in noisy}
    enroll = enrolment_clips(rels, enrol_dir, speaker_of, noisy_dir)
    scp = {utt: str((noisy_dir / rel).resolve()) for utt, rel in rels.items()}
    spk = {utt: speaker_of(rel) for utt, rel in rels.items()}
    return scp, spk, {utt: str(Path(clip).resolve()) for utt, clip in enroll.items()}


def spk2utt(utt2spk):
    out = {}
    for utt, spk in sorted(utt2spk.items()):
        out.setdefault(spk, []).append(utt)
    return {spk: " ".join(utts) for spk, utts in out.items()}


def prepare(root, blind, out, collections, speaker_regex=DEFAULT_SPEAKER_REGEX):
    """Read everything first, then write: a bad corpus leaves no half-written data dirs."""
    pattern = re.compile(speaker_regex)
    dirs = {}
    if root:
        root = Path(root)
        scp, spk = training_speech(root / "clean_fullband", collections)
        dirs["train_clean"] = {"wav.scp": scp, "utt2spk": spk, "spk2utt": spk2utt(spk)}
        for name, folder in (("noise", root / "noise_fullband"), ("rir", root / "impulse_responses")):
            dirs[name] = {"wav.scp": {file_id(p, folder): str(p.resolve()) for p in wavs(folder, name)}}
    if blind:
        for track, name in TRACKS.items():
            if (Path(blind) / track).is_dir():
                scp, spk, enroll = blind_track(Path(blind) / track, pattern)
                dirs[name] = {"wav.scp": scp, "utt2spk": spk, "utt2enroll": enroll, "spk2utt": spk2utt(spk)}
        if not any(name in dirs for name in TRACKS.values()):
            raise KdError(f"neither {' nor '.join(TRACKS)} found in the blind test set", path=blind)
    for name, files in dirs.items():
        for filename, table in files.items():
            write_kv(Path(out) / name / filename, table)
    return {name: len(files["wav.scp"]) for name, files in dirs.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", help="datasets_fullband (clean_fullband, noise_fullband, impulse_responses)")
    p.add_argument("--blind", help="V5_BlindTestSet (Track1_Headset, Track2_Speakerphone)")
    p.add_argument("--out", required=True, help="where the data dirs go")
    p.add_argument("--speech", default="read_speech",
                   help="comma-separated collections of clean_fullband used for training")
    p.add_argument("--speaker_regex", default=DEFAULT_SPEAKER_REGEX,
                   help="regex whose first group is the speaker in a blind-test file name")
    args = p.parse_args(argv)
    if not args.root and not args.blind:
        raise KdError("give --root and/or --blind")
    try:
        counts = prepare(args.root, args.blind, args.out, [c for c in args.speech.split(",") if c],
                         args.speaker_regex)
    except KdError as err:
        print(f"prepare_dns5: {err}", file=sys.stderr)
        return 1
    for name, count in counts.items():
        print(f"{args.out}/{name}: {count} recordings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
