"""The mini recipe's wall time on a quiet machine and with competing busy processes.

    tools/venv/bin/python benchmarks/bench_recipe_load.py [--busy 1] [--only quiet|loaded] [-- run.sh args]

Each case runs every stage of ``egs/mini_espeak/enh`` in a fresh fork of the recipe (nothing is
skipped).  The loaded case first starts ``--busy`` processes that keep one core each busy
(``python -c 'while True: pass'``) and stops them after the run.  A machine with C cores and B busy
processes leaves the recipe about (C - B) / C of it, so the loaded time should stay near
quiet x C / (C - B) (2x for one busy process on 2 cores); far more means threads wait for each
other (too many threads per job, or OpenMP threads spinning: see kdspeech/jobs/threads.py and
tools/env.sh).  Needs espeak-ng and sox.  Prints figures only; asserts nothing.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import recipe_helpers  # noqa: E402  (the recipe tests' fork of a recipe, made as a user makes one)


def run_recipe(workdir, args):
    """Seconds of one full run of a fresh fork; raises on failure (with the log's tail)."""
    recipe = recipe_helpers.copy_recipe("mini_espeak/enh", Path(tempfile.mkdtemp(dir=workdir)) / "enh",
                                        "enh/enh.sh")
    env = recipe_helpers.recipe_env()
    start = time.monotonic()
    proc = subprocess.run(["./run.sh", *args], cwd=recipe, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"mini recipe failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed


def busy_processes(n):
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--busy", type=int, default=1, help="competing busy processes in the loaded case")
    p.add_argument("--only", choices=["quiet", "loaded"], help="run one case only")
    p.add_argument("args", nargs="*", help="options of the mini recipe's run.sh (after --)")
    opts = p.parse_args(argv)
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        print("mini recipe: skipped (needs espeak-ng and sox; tools/install.sh)")
        return 0
    cores = len(os.sched_getaffinity(0))
    times = {}
    with tempfile.TemporaryDirectory(prefix="bench_recipe_load.") as workdir:
        for case in ("quiet", "loaded"):
            if opts.only and opts.only != case:
                continue
            hogs = busy_processes(opts.busy) if case == "loaded" else []
            try:
                times[case] = run_recipe(workdir, opts.args)
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()
            extra = f", {opts.busy} busy process(es)" if hogs else ""
            print(f"mini recipe, {case} ({cores} cores{extra}): {times[case]:.0f} s", flush=True)
    if len(times) == 2:
        fair = cores / max(1, cores - opts.busy)
        print(f"loaded / quiet: {times['loaded'] / times['quiet']:.2f}x "
              f"(the busy processes' fair share: {fair:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
