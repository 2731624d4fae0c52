"""Check a Kaldi-style data dir: sorted unique ids, consistent files, optionally every audio file.

    python -m kdspeech.bin.validate_data_dir data/train [--audio] [--sr 16000]

Without ``--audio`` only the text files are checked (fast).  With ``--audio`` every entry of
wav.scp, spk1.scp and noise1.scp is decoded: it must be readable, mono, non-empty, at ``--sr`` when
given, and a mixture's reference and noise must have the mixture's length; every unusable entry is
listed in one error, with what to do.  ``--any_rate``: entries at several rates are fine.  ``--classes
FILE``: utt2label names only classes of FILE (a classification test set for trained models).
"""

import argparse

from tqdm import tqdm

from kdspeech.cli import run_main
from kdspeech.data.audio import load_audio
from kdspeech.data.datadir import AUDIO_SCPS, DataDir
from kdspeech.data.dir_from import MAX_LISTED
from kdspeech.errors import KdError

#: What to do about each kind of problem, said once under the list.
ADVICE = {
    "read": "replace or remove the file (its line in the list)",
    "empty": "remove the entry, or record it again",
    "channels": "down-mix it (sox in.wav out.wav remix -)",
    "rate": "resample it (a recipe's resample stage does: give the set to the recipe)",
    "length": "a reference (spk1.scp) and a noise (noise1.scp) must be sample-aligned with their input "
              "(wav.scp): cut both to the same span, or leave the reference out (then only "
              "non-intrusive metrics score the set)",
}


def check_audio(data, sr=None, any_rate=False):
    """Decode every audio entry of ``data``; returns the sample rates seen.  Every unusable entry
    (unreadable, empty, not mono, a reference or noise of another length than its input, another
    rate than ``sr``) is listed in one ``KdError`` with its file and what to do; with ``any_rate``
    entries at several rates are fine (a resample stage follows), else they are an error too."""

    scps = {name: data.read(name) for name in AUDIO_SCPS if data.has(name)}
    rates, problems, kinds = {}, [], []
    # Audio files are keyed by recording (wav.scp, with segments) or by utterance (spk1.scp...).
    entries = sorted(set().union(*map(set, scps.values())))
    for utt in tqdm(entries, desc=f"audio of {data.path}", disable=None):
        lengths = {}
        for name, scp in scps.items():
            if utt not in scp:
                continue
            where = f"{data.file(name)}: '{utt}' ({scp[utt]})"
            try:
                x, rate = load_audio(scp[utt], utt=utt, mono=False)   # [channels, samples]
            except KdError as err:
                problems.append(f"{where}: {err}")
                kinds.append("read")
                continue
            if x.shape[0] > 1:
                problems.append(f"{where}: {x.shape[0]} channels, expected mono")
                kinds.append("channels")
                continue
            if x.size == 0:
                problems.append(f"{where}: audio has no samples")
                kinds.append("empty")
                continue
            if sr is not None and rate != sr:
                problems.append(f"{where}: {rate} Hz, expected {sr} Hz")
                kinds.append("rate")
                continue
            rates.setdefault(rate, utt)
            lengths[name] = x.shape[1]
        ref = lengths.get("wav.scp")
        for name, n in lengths.items():
            if ref is not None and n != ref:
                which = "shorter" if n < ref else "longer"
                problems.append(f"{data.file(name)}: '{utt}' ({scps[name][utt]}) has {n} samples, {which} "
                                f"than its input in wav.scp ({ref} samples, {scps['wav.scp'][utt]})")
                kinds.append("length")
    if problems:
        shown = "\n  ".join(problems[:MAX_LISTED])
        more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        advice = "\n".join(f"  - {ADVICE[k]}" for k in dict.fromkeys(kinds))
        raise KdError(f"{len(problems)} audio entries cannot be used:\n  {shown}{more}\nWhat to do:\n{advice}",
                      path=data.path)
    if len(rates) > 1 and not any_rate:
        raise KdError("audio has mixed sample rates " + ", ".join(f"{r} Hz (e.g. '{u}')" for r, u in sorted(rates.items())),
                      path=data.path)
    return set(rates)


def check_labels(data, classes_file):
    """Every label of ``utt2label`` is one of the classes of ``classes_file``; the unknown ones are
    listed in one error."""
    from kdspeech.tasks.classification import read_classes

    if not data.has("utt2label"):
        raise KdError("no utt2label: a classification test set gives each clip's label", path=data.path)
    known = set(read_classes(classes_file))
    unknown = {}
    for utt, label in data.read("utt2label").items():
        if label not in known:
            unknown.setdefault(label, utt)
    if unknown:
        listed = ", ".join(f"'{label}' (e.g. {utt})" for label, utt in sorted(unknown.items())[:MAX_LISTED])
        raise KdError(f"{len(unknown)} labels are not classes of {classes_file}: {listed}; the models know only "
                      "those classes: relabel these clips or leave them out", path=data.file("utt2label"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", help="Kaldi-style data dir")
    parser.add_argument("--audio", action="store_true", help="also decode every audio file")
    parser.add_argument("--sr", type=int, default=None, help="required sample rate (with --audio)")
    parser.add_argument("--classes", metavar="FILE",
                        help="a class list (one a line): utt2label must exist and name only these classes")
    parser.add_argument("--any_rate", action="store_true",
                        help="with --audio: files at several sample rates are fine (a resample stage follows)")
    args = parser.parse_args(argv)
    data = DataDir(args.data_dir).validate()
    if args.classes:
        check_labels(data, args.classes)
    files = sorted(p.name for p in data.path.iterdir() if p.is_file())
    msg = f"{data.path}: OK, {len(data.recordings)} entries in wav.scp; files: {' '.join(files)}"
    if args.audio:
        rates = check_audio(data, args.sr, args.any_rate)
        msg += f"; audio OK at {'/'.join(map(str, sorted(rates)))} Hz"
    print(msg)
    return 0


if __name__ == "__main__":
    run_main(main)
