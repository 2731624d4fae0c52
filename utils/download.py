#!/usr/bin/env python3
"""Download (resumable, checksum-verified) and optionally extract a corpus archive, for recipes.

    utils/download.py --url https://www.openslr.org/resources/12/dev-clean.tar.gz \
        --md5 42e2234ba48799c1f50f24a7926300a1 --dest /data/librispeech --extract \
        [--creates LibriSpeech/dev-clean] [--keep_archive]

Skips everything when ``--creates`` (a path under --dest) already exists; see kdspeech.data.download.
"""

import argparse
import logging
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.data.download import extract, fetch


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--dest", required=True, help="folder receiving the archive and its contents")
    p.add_argument("--md5")
    p.add_argument("--sha256")
    p.add_argument("--extract", action="store_true", help="unpack the archive into --dest")
    p.add_argument("--creates", help="path under --dest that exists once done: skip when present")
    p.add_argument("--keep_archive", action="store_true", help="keep the archive after extracting")
    args = p.parse_args(argv)
    if args.creates and (Path(args.dest) / args.creates).exists():
        logging.info("%s exists, nothing to download", Path(args.dest) / args.creates)
        return 0
    archive = fetch(args.url, args.dest, md5=args.md5, sha256=args.sha256)
    if args.extract:
        extract(archive, args.dest)
        if not args.keep_archive:
            archive.unlink()
    return 0


if __name__ == "__main__":
    run_main(main)
