"""Training step of every paper-size config on a GPU (or the CPU): seconds per step, samples per second,
peak memory and the fraction of the step the GPU is busy, fp32 against bf16 and DataLoader workers 0
against N.

    tools/venv/bin/python benchmarks/bench_gpu_step.py [--device cuda] [--configs 'dns5/pse:* esc50/cls:train']
        [--steps 20] [--batch 8] [--seconds 4] [--precisions fp32,bf16] [--workers 0,4]

Each cell is one ``kdspeech.dryrun.one`` process (the dry run of ``utils/dry_run.sh``: the recipe's
paper-size config, its dependencies on other runs given fresh weights, a few real files of
../shared/corpora, the one trainer): ``--steps`` updates of ``--batch`` crops of ``--seconds``, a
checkpoint, then ``--steps`` more resumed from it, the last epoch timed.  With ``--set
trainer.precision=<p> num_workers=<w>`` per cell.  On CUDA the resumed epoch runs under the torch
profiler: GPU busy = kernel time / wall time (a low figure: the step waits on data or on the host);
peak memory is ``torch.cuda.max_memory_allocated``.  On the CPU, peak memory is the process's RSS and
GPU busy is ``-``; fp16 is CUDA-only and left out there.  It prints figures; it asserts nothing.
A cell whose config fails prints its error and the others go on.

Figures: none on a GPU yet (no GPU was lent to the sessions that wrote it).  On the 2-core CPU the
dry run's table (kdspeech.bin.dry_run's docstring) has the fp32 step times at batch 1;
benchmarks/bench_precision.py the bf16/fp32 ratios.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None, choices=("cpu", "cuda"), help="default: cuda when visible")
    p.add_argument("--recipes", default="", help="corpus/task names (default: every recipe)")
    p.add_argument("--configs", default="", help="patterns on <recipe>:<config stem> (default: every one)")
    p.add_argument("--steps", type=int, default=20, help="timed updates (default 20)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=4.0, help="crop length, s (default 4)")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--workers", default=f"0,{min(8, max(1, (os.cpu_count() or 2) - 1))}")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    p.set_defaults(work_dir=None)   # kdspeech.bin.dry_run.run_one's: scratch dirs are temporary here
    return p


def cell(value, fmt):
    return format(value, fmt) if value is not None else "-".rjust(int(fmt.split(".")[0]))


def main(argv=None):
    import torch

    from kdspeech.bin.dry_run import run_one, select
    from kdspeech.dryrun.configs import find_paper_configs

    args = get_parser().parse_args(argv)
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_gpu_step: --device cuda, but no GPU is visible")
    corpora = os.environ.get("KDSPEECH_CORPORA") or str(REPO.parent / "shared" / "corpora")
    configs, _ = find_paper_configs(REPO / "egs", args.recipes.split() or None)
    configs = select(configs, args.configs.split())
    precisions = [p for p in args.precisions.split(",") if args.device == "cuda" or p != "fp16"]
    workers = [int(w) for w in args.workers.split(",")]
    name = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {name}; batch {args.batch} x {args.seconds:g} s, {args.steps} timed steps")
    print(f"{'config':<44} {'precision':>9} {'workers':>7} {'s/step':>8} {'samples/s':>9} {'peak MiB':>8} "
          f"{'GPU busy':>8}")
    with tempfile.TemporaryDirectory(prefix="bench_gpu_step.") as tmp:
        for i, pc in enumerate(configs):
            for precision in precisions:
                for w in workers:
                    work = Path(tmp) / f"{i:02d}_{precision}_{w}"
                    record = run_one(pc, work, args, corpora,
                                     overrides=[f"trainer.precision={precision}", f"num_workers={w}"])
                    step = record.get("s_per_step")
                    rate = args.batch / step if step else None
                    line = (f"{pc.name:<44} {precision:>9} {w:>7} {cell(step, '8.3f')} {cell(rate, '9.1f')} "
                            f"{cell(record.get('peak_mb'), '8.0f')} {cell(record.get('gpu_busy'), '8.1%')}")
                    print(line + ("" if record["ok"] else f"  FAIL: {record['error']}"), flush=True)
    print("bench_gpu_step: done")


if __name__ == "__main__":
    sys.exit(main())
