"""Compare a run's RESULTS.md with the committed one, table by table and cell by cell.

    python -m kdspeech.bin.compare_results --ours exp/results/RESULTS.md --reference RESULTS.md \\
        --out exp/compare/compare.md [--update exp/results]

Prints the summary (cells identical, reproduced within the reference's stated run-to-run spread,
differing, or with no stated spread, per table; the cells that are not reproduced) and writes it to
``--out`` followed by every compared cell (kdspeech.results_compare).  A difference is not an error:
the exit status is 0 whenever both files could be read.  A missing reference is said, not an error.

``--update RUN_DIR`` then copies every file of RUN_DIR (the run's results, laid out as the committed
ones: ``exp/results/RESULTS.md``, ``exp/results/results/*.png``) over the committed copy, under
``--dest`` (default: the current dir, the recipe's): what a maintainer does to make a run the new
reference (``./run.sh --update_results true``).
"""

import argparse
import logging
from pathlib import Path

from kdspeech.atomic import atomic_write_text
from kdspeech.cli import run_main
from kdspeech.errors import KdError
from kdspeech.results import update_committed
from kdspeech.results_compare import compare_files

log = logging.getLogger("kdspeech.compare_results")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ours", required=True, help="the run's results file (e.g. exp/results/RESULTS.md)")
    p.add_argument("--reference", required=True, help="the committed results file (e.g. RESULTS.md)")
    p.add_argument("--out", required=True, help="the comparison, Markdown (e.g. exp/compare/compare.md)")
    p.add_argument("--update", default=None, metavar="RUN_DIR",
                   help="after comparing, copy the files of RUN_DIR over the committed results")
    p.add_argument("--dest", default=".", help="where the committed results lie (default: .)")
    args = p.parse_args(argv)
    if not Path(args.ours).is_file():
        raise KdError("the run's results file is missing (made by the results stage)", path=args.ours)
    report = compare_files(args.ours, args.reference)
    atomic_write_text(args.out, report.markdown())
    print(report.summary() + f"\n(every cell: {args.out})", flush=True)
    if args.update:
        if not Path(args.update).is_dir():
            raise KdError("no such directory", path=args.update)
        written = update_committed(args.update, args.dest)
        log.info("committed results updated from %s: %d files (%s)", args.update, len(written),
                 ", ".join(written[:5]) + (", ..." if len(written) > 5 else ""))
    return 0


if __name__ == "__main__":
    run_main(main)
