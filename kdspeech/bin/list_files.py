"""The files a stage reads from outside the recipe, identified by content: what utils/stage.sh's
``--inputs`` (a folder) and ``--inputs_listed`` (a data dir or a CSV) fingerprint.

    python -m kdspeech.bin.list_files data/my_test      # the files of wav.scp, spk1.scp, noise1.scp, utt2enroll
    python -m kdspeech.bin.list_files clips.csv         # the files of its path and clean columns
    python -m kdspeech.bin.list_files --folder corpus/  # every file under a folder (links followed)
    ... --known OLD                                     # reuse the hashes of an earlier listing

One line per file, sorted: ``<path><TAB><size><TAB><mtime in ns><TAB><sha256 of the bytes>``, or
``<path><TAB>missing<TAB>-<TAB>-`` for a listed file that is not there (the stage that reads it
reports that).  Paths are absolute for a listing, relative to the folder with ``--folder``.

A file is read only when ``--known`` (lines of an earlier output, e.g. the manifest of the stamp that
the stage left last time) has no line for it with the same size and modification time: a corpus is
hashed once, and after that checked by a stat per file (as git's index does).  A copied or restored
corpus, whose files all have new times, is read once more and found unchanged, so that its stages
stay up to date; a file replaced by one of the same size is found changed.

Entries that are commands (``<utt> sox a.flac -t wav - |``) are left out: their text is part of the
list, which the stage fingerprints by content.  Paths of a data dir are relative to the current
directory (Kaldi's rule, the recipe's folder), those of a CSV to the CSV's folder
(``kdspeech.data.dir_from``).
"""

import argparse
import hashlib
import os
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.data.datadir import AUDIO_SCPS, DataDir
from kdspeech.data.dir_from import csv_paths
from kdspeech.errors import KdError

#: Files of a data dir whose values are files the dir's users read (audio, enrolment clips).
LISTING_FILES = (*AUDIO_SCPS, "utt2enroll")


def data_dir_paths(path):
    """The files named by the lists of data dir ``path`` (commands left out), as given."""
    data = DataDir(path)
    if not data.has("wav.scp"):
        raise KdError("not a data dir (no wav.scp) and not a CSV file", path=path)
    paths = []
    for name in LISTING_FILES:
        if data.has(name):
            paths += [v for v in data.read(name).values() if not v.rstrip().endswith("|")]
    return paths


def _stat(path):
    try:
        return os.stat(path)
    except OSError:
        return None


def listed_files(path):
    """``[(absolute path, stat or None)]`` of the files ``path`` (a data dir or a CSV) lists."""
    path = Path(path)
    paths = data_dir_paths(path) if path.is_dir() else csv_paths(path)
    return [(p, _stat(p)) for p in sorted({os.path.abspath(p) for p in paths})]


def folder_files(folder):
    """``[(path relative to folder, stat or None)]`` of every file under ``folder`` (not the folders;
    symbolic links followed, a broken one None), sorted by path."""
    out = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs.sort()
        for name in files:
            full = os.path.join(root, name)
            out.append((os.path.relpath(full, folder), _stat(full)))
    return sorted(out, key=lambda item: item[0].encode())


def sha256_of(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_known(path):
    """``{path: (size, mtime, sha256)}`` from the lines of an earlier output (others are skipped)."""
    known = {}
    for line in Path(path).read_text().splitlines():
        fields = line.split("\t")
        if len(fields) == 4 and fields[3] != "-":
            known[fields[0]] = tuple(fields[1:])
    return known


def describe(files, base="", known=None):
    """The output lines of ``files`` (``[(path, stat or None)]``; ``base`` joined to a relative path
    to read it), each file hashed unless ``known`` has it at the same size and time."""
    known = known or {}
    lines = []
    for path, st in files:
        if st is None:
            lines.append(f"{path}\tmissing\t-\t-")
            continue
        size, mtime = str(st.st_size), str(st.st_mtime_ns)
        old = known.get(path)
        sha = old[2] if old and old[:2] == (size, mtime) else sha256_of(os.path.join(base, path))
        lines.append(f"{path}\t{size}\t{mtime}\t{sha}")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="a data dir, or a CSV with a path column (a folder with --folder)")
    p.add_argument("--folder", action="store_true", help="every file under the folder PATH")
    p.add_argument("--known", help="an earlier output whose hashes are reused for unchanged files")
    args = p.parse_args(argv)
    if not os.path.exists(args.path):
        raise KdError("not found", path=args.path)
    if args.folder and not os.path.isdir(args.path):
        raise KdError("--folder: not a folder", path=args.path)
    known = read_known(args.known) if args.known and os.path.exists(args.known) else {}
    if args.folder:
        lines = describe(folder_files(args.path), base=args.path, known=known)
    else:
        lines = describe(listed_files(args.path), known=known)
    if lines:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    run_main(main)
