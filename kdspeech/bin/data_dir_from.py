"""Make a Kaldi data dir from your own audio: a folder, paired noisy/clean folders, or a CSV.

    python -m kdspeech.bin.data_dir_from --audio recordings/ --out data/mine [--spk_from dir]
    python -m kdspeech.bin.data_dir_from --noisy noisy/ --clean clean/ --out data/mine_test
    python -m kdspeech.bin.data_dir_from --csv clips.csv --out data/all
    python -m kdspeech.bin.data_dir_from --audio blind/noisy --enrol blind/enrol --out data/blind

``--audio``: every audio file under the folder (recursive; .wav .flac .ogg .mp3 .sph ...) ->
``wav.scp`` and ``utt2spk``.  ``--noisy``/``--clean``: files matched by their path relative to each
folder (suffix aside: ``noisy/a/1.wav`` pairs with ``clean/a/1.flac``) -> ``wav.scp`` (noisy) and
``spk1.scp`` (the clean reference, ESPnet's name, which scoring reads); a file without a partner, a
reference at another rate or of another length is an error.  ``--csv``: a header with ``path`` and
any of ``utt speaker label text fold participant group snr noise_type clean`` -> ``wav.scp``,
``utt2spk``, ``utt2label``, ``text``, ``utt2fold``, ``utt2group``, ``utt2snr``, ``utt2noise``,
``spk1.scp``; paths are absolute or relative to the CSV's folder.  ``--enrol`` (with ``--audio``): a
folder of enrolment clips beside the recordings, for personalized enhancement -> ``utt2enroll``: each
recording's clip is the one of the same relative name (suffix aside), else, with ``--spk_from dir``, the
one clip of its speaker's folder (DNS5's blind sets: ``noisy/`` and ``enrol/``).

Utterance ids: the relative path without suffix, ``/`` -> ``__`` (``spk1/a.wav`` -> ``spk1__a``).
Speakers (``utt2spk``): a CSV's ``speaker`` column, else each utterance its own speaker (Kaldi's rule
for unknown speakers), or with ``--spk_from dir`` the first folder of the relative path.  Every
file's header is read: unreadable, empty and multi-channel files are listed in one error, files at
different rates in a warning.  The dir is validated before it replaces ``--out``.
"""

import argparse

from kdspeech.cli import run_main
from kdspeech.data.dir_from import SPK_FROM, from_csv, from_folder, from_pairs
from kdspeech.data.dir_ops import write_dir
from kdspeech.errors import KdError


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--audio", metavar="DIR", help="a folder of audio files")
    source.add_argument("--noisy", metavar="DIR", help="a folder of noisy inputs (with --clean)")
    source.add_argument("--csv", metavar="FILE", help="a CSV with a path column (see above)")
    p.add_argument("--clean", metavar="DIR", help="the folder of clean references of --noisy")
    p.add_argument("--enrol", metavar="DIR", help="a folder of enrolment clips for the --audio files (utt2enroll)")
    p.add_argument("--out", required=True, help="data dir to write (replaced when it exists)")
    p.add_argument("--spk_from", choices=SPK_FROM, default="utt",
                   help="speaker of a file: itself (utt, default) or its first folder (dir)")
    args = p.parse_args(argv)
    if bool(args.noisy) != bool(args.clean):
        raise KdError("--noisy and --clean go together (paired folders)")
    if args.enrol and not args.audio:
        raise KdError("--enrol goes with --audio (the recordings whose enrolment clips it holds)")
    if args.audio:
        tables = from_folder(args.audio, args.spk_from, enrol=args.enrol)
    elif args.noisy:
        tables = from_pairs(args.noisy, args.clean, args.spk_from)
    else:
        tables = from_csv(args.csv, args.spk_from)
    out = write_dir(args.out, tables)
    files = ", ".join(name for name in sorted(tables) if tables[name])
    print(f"{out.path}: {len(out.utts)} utterances ({files})")
    return 0


if __name__ == "__main__":
    run_main(main)
