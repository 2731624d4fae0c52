"""The foundation's speed figures, measured in one run: resample+mix against the raw libraries, the
trainer's time per step against a hand-written loop, scoring with --nj 2 against one job, and the mini
recipe's wall time on a quiet machine against one with a competing busy process.

    tools/venv/bin/python benchmarks/bench_foundation.py

Each part is its own script (run them alone for options); this one runs them one after the other
so that their figures come from the same machine state.  Prints figures only; asserts nothing.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = [
    ("resample + mix throughput", ["bench_resample_mix.py"]),
    ("trainer overhead", ["bench_trainer.py", "--steps", "10"]),
    ("scoring, --nj 2 against --nj 1", ["bench_scoring.py"]),
    ("mini recipe, quiet and with one busy process", ["bench_recipe_load.py", "--busy", "1"]),
]


def main():
    status = 0
    for title, args in PARTS:
        print(f"== {title} ({' '.join(args)})", flush=True)
        proc = subprocess.run([sys.executable, str(HERE / args[0]), *args[1:]])
        status = status or proc.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
