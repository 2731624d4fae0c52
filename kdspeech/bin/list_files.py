"""The files a data dir or a CSV lists, with their sizes and modification times: what a stage that
reads them depends on (utils/stage.sh's ``--inputs_listed``).

    python -m kdspeech.bin.list_files data/my_test      # wav.scp, spk1.scp, noise1.scp, utt2enroll
    python -m kdspeech.bin.list_files clips.csv         # its path and clean columns

One line per file, sorted and unique: ``<absolute path><TAB><size><TAB><mtime in ns>``, or
``<absolute path><TAB>missing`` for a file that is not there (the stage that reads it reports that).
Nothing is read but the lists themselves: a stat per file.  Entries that are commands
(``<utt> sox a.flac -t wav - |``) are left out: their text is part of the list, which the stage
fingerprints by content.  Paths of a data dir are relative to the current directory (Kaldi's rule,
the recipe's folder), those of a CSV to the CSV's folder (``kdspeech.data.dir_from``).
"""

import argparse
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


def listed_files(path):
    """``[(absolute path, stat or None)]`` of the files ``path`` (a data dir or a CSV) lists."""
    path = Path(path)
    paths = data_dir_paths(path) if path.is_dir() else csv_paths(path)
    out = []
    for p in sorted({os.path.abspath(p) for p in paths}):
        try:
            out.append((p, os.stat(p)))
        except OSError:
            out.append((p, None))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="a data dir, or a CSV with a path column")
    args = p.parse_args(argv)
    if not os.path.exists(args.path):
        raise KdError("not found", path=args.path)
    lines = [f"{p}\t{st.st_size}\t{st.st_mtime_ns}" if st else f"{p}\tmissing" for p, st in listed_files(args.path)]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    run_main(main)
