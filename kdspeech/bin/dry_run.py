"""Dry run of every paper-size config of every recipe: build, train a few steps, checkpoint, resume,
evaluate; one table row per config (``utils/dry_run.sh`` calls this).

    python -m kdspeech.bin.dry_run [--recipes "dns5/pse esc50/cls"] [--configs "*kd*"] [--steps 2]
        [--batch 1] [--seconds 1.0] [--device cpu|cuda] [--build_only] [--json out.json]

Which configs are the paper's, and what each gets fresh weights for (a teacher another stage trains,
an encoder another recipe trains), is in ``kdspeech.dryrun.configs``; the tiny data dirs cut from
``$KDSPEECH_CORPORA`` (default ``<repo>/../shared/corpora``) in ``kdspeech.dryrun.data``; one config's
run in ``kdspeech.dryrun.one``, in a process of its own so that the peak memory (RSS on the CPU,
``torch.cuda.max_memory_allocated`` on CUDA) is that config's.  ``--build_only`` builds every model
(with fresh weights for its dependencies) and counts its parameters, in this process: cheap.  The
exit status is 1 when any config fails.  Columns: params (of the model trained; the classification
models have the dry run's 2 classes), peak MiB, s/step (the resumed epoch's seconds per update at
``--batch`` x ``--seconds``), result, then the notes and the error of each config.

A full run on a 2-core CPU shared with a recipe run (torch 2.11, batch 1, 1 s crops, 2 steps), at
commit time; s/step is only indicative on a loaded machine::

    see the issue 21 note (the table printed by ``utils/dry_run.sh``)
"""

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from kdspeech.cli import positive_count, run_main
from kdspeech.dryrun.configs import find_paper_configs, prepare

REPO = Path(__file__).resolve().parents[2]


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipes", default="", help="corpus/task names, space-separated (default: every recipe)")
    p.add_argument("--configs", default="", help="shell patterns on <recipe>:<config stem>, space-separated "
                   "(e.g. 'librispeech/enh:train_student_kd dns5/pse:*'; default: every config)")
    p.add_argument("--steps", type=positive_count, default=2, help="training steps per epoch (default 2)")
    p.add_argument("--batch", type=positive_count, default=1, help="batch size (default 1)")
    p.add_argument("--seconds", type=float, default=1.0, help="longest crop and audio file, s (default 1.0)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device (default cpu)")
    p.add_argument("--build_only", action="store_true", help="only build each model and count its parameters")
    p.add_argument("--corpora", default=None, help="real corpora (default $KDSPEECH_CORPORA, else "
                   "<repo>/../shared/corpora)")
    p.add_argument("--egs", default=str(REPO / "egs"), help="recipes dir (default: the repository's egs/)")
    p.add_argument("--work_dir", default=None, help="scratch dir, kept (default: a temporary dir, removed)")
    p.add_argument("--timeout", type=positive_count, default=1800, help="seconds per config (default 1800)")
    p.add_argument("--json", default=None, help="also write the records to this JSON file")
    return p


def select(configs, patterns):
    """The configs whose ``<recipe>:<stem>`` (or that of a recipe sharing the conf dir) matches a pattern."""
    def names(pc):
        return [pc.name] + [f"{other}:{pc.path.stem}" for other in pc.also]
    return [pc for pc in configs
            if not patterns or any(fnmatch.fnmatch(n, pat) for n in names(pc) for pat in patterns)]


def build_only(pc, work):
    """Build the model of ``pc`` (dependencies given fresh weights); its record."""
    from kdspeech.models import build_model, count_parameters

    record = {"config": pc.name, "task": pc.task, "notes": []}
    try:
        conf, record["notes"] = prepare(pc, work, write_teachers=False)
        model = build_model(conf["model"]["name"], conf["model"].get("conf") or {}, where=str(pc.path))
        record.update(params=count_parameters(model), ok=True, error=None)
    except Exception as err:  # noqa: BLE001 - every failure is a row of the table
        record.update(ok=False, error=f"{type(err).__name__}: {err}")
    return record


def run_one(pc, work, args, corpora):
    """``kdspeech.dryrun.one`` for ``pc`` in a child process; its record."""
    cmd = [sys.executable, "-m", "kdspeech.dryrun.one", "--config", str(pc.path), "--recipe", pc.recipe,
           "--work", str(work), "--steps", str(args.steps), "--batch", str(args.batch),
           "--seconds", str(args.seconds), "--device", args.device, "--corpora", str(corpora)]
    work.mkdir(parents=True, exist_ok=True)
    log = work / "dry_run.log"
    try:
        with open(log, "w") as err:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, timeout=args.timeout)
        record = json.loads(proc.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        record = {"config": pc.name, "task": pc.task, "ok": False, "notes": [],
                  "error": f"timed out after {args.timeout} s"}
    except (ValueError, IndexError):
        tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
        record = {"config": pc.name, "task": pc.task, "ok": False, "notes": [],
                  "error": f"the process died (exit {proc.returncode}): {' '.join(tail)}"}
    if not record["ok"] and args.work_dir:
        record["log"] = str(log)
    return record


def fmt_row(record):
    params = f"{record['params'] / 1e6:.2f}M" if record.get("params") is not None else "-"
    peak = f"{record['peak_mb']:.0f}" if record.get("peak_mb") is not None else "-"
    step = f"{record['s_per_step']:.2f}" if record.get("s_per_step") is not None else "-"
    return f"{record['config']:<44} {record['task']:<25} {params:>8} {peak:>8} {step:>7}  " \
           f"{'pass' if record['ok'] else 'FAIL'}"


def print_table(records, skipped, args, out=None):
    out = out or sys.stdout
    what = "build only" if args.build_only else \
        f"{args.steps} steps x batch {args.batch}, crops <= {args.seconds:g} s, {args.device}"
    print(f"# dry run of the paper-size configs ({what})", file=out)
    print(f"{'config':<44} {'task':<25} {'params':>8} {'peak MiB':>8} {'s/step':>7}  result", file=out)
    for r in records:
        print(fmt_row(r), file=out)
        for note in r.get("notes") or []:
            print(f"    note: {note}", file=out)
        if r.get("also"):
            print(f"    note: also the config of {', '.join(r['also'])}", file=out)
        if not r["ok"]:
            print(f"    error: {r['error']}" + (f" (log: {r['log']})" if r.get("log") else ""), file=out)
    for name, why in sorted(skipped.items()):
        print(f"# {name}: not dry-run ({why})", file=out)
    failed = [r["config"] for r in records if not r["ok"]]
    print(f"# {len(records) - len(failed)} of {len(records)} passed"
          + (f"; failed: {' '.join(failed)}" if failed else ""), file=out)


def main(argv=None):
    args = get_parser().parse_args(argv)
    corpora = args.corpora or os.environ.get("KDSPEECH_CORPORA") or REPO.parent / "shared" / "corpora"
    configs, skipped = find_paper_configs(args.egs, args.recipes.split() or None)
    configs = select(configs, args.configs.split())
    with tempfile.TemporaryDirectory(prefix="dry_run.") as tmp:
        root = Path(args.work_dir or tmp)
        records = []
        for i, pc in enumerate(configs):
            work = root / f"{i:02d}_{pc.recipe.replace('/', '_')}_{pc.path.stem}"
            record = build_only(pc, work) if args.build_only else run_one(pc, work, args, corpora)
            record["also"] = pc.also
            records.append(record)
            print(fmt_row(record), file=sys.stderr, flush=True)   # progress
    print_table(records, skipped, args)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 1 if any(not r["ok"] for r in records) else 0


if __name__ == "__main__":
    run_main(main)
