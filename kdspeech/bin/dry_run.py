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

``utils/dry_run.sh`` (every config, 2 steps, batch 1, crops <= 1 s, CPU) on a 2-core CPU shared with
a recipe run, torch 2.11, tools/env.sh's tcmalloc and passive OpenMP (an earlier run without them,
``python -m`` with tests beside it, measured steps 2-60x slower); 5.5 min for the 34 configs, the
TEMPLATE/asr row run right after with ``--recipes TEMPLATE/asr``; peak MiB is the RSS of the whole
process (about 550 of it is Python, torch and kdspeech), s/step is indicative only on a loaded machine;
"also the config of timit/enh" (librispeech/enh's rows) and "of chime4/asr_enh" (librispeech/asr_enh's)
notes left out::

    # dry run of the paper-size configs (2 steps x batch 1, crops <= 1 s, cpu)
    config                                       task                        params peak MiB  s/step  result
    TEMPLATE/asr:train_asr_conformer_ctc         asr                         20.91M     1744    0.46  pass
    TEMPLATE/asr:train_asr_joint_aso             asr                         24.58M     1941    1.04  pass
    TEMPLATE/asr:train_asr_joint_grad            asr                         24.58M     1943    1.58  pass
    TEMPLATE/asr:train_asr_joint_straight        asr                         24.58M     1940    1.07  pass
    TEMPLATE/asr:train_asr_proposed              asr                         24.58M     1869    0.53  pass
    librispeech/asr_enh:student_df               enhancement                  3.67M     1085    1.01  pass
    librispeech/asr_enh:student_ld               enhancement                  3.67M     1164    0.72  pass
        note: teachers.conformer.members: fresh weights of librispeech/asr_enh/conf/teacher.yaml (1 member(s), filled in by the recipe)
    librispeech/asr_enh:student_le               enhancement                  3.67M     1159    0.77  pass
        note: teachers.conformer.members: fresh weights of librispeech/asr_enh/conf/teacher.yaml (1 member(s), filled in by the recipe)
    librispeech/asr_enh:student_le_ld            enhancement                  3.67M     1158    0.73  pass
        note: teachers.conformer.members: fresh weights of librispeech/asr_enh/conf/teacher.yaml (1 member(s), filled in by the recipe)
    librispeech/asr_enh:student_lr               enhancement                  3.67M     1067    0.62  pass
    librispeech/asr_enh:teacher                  enhancement                 21.52M     1499    0.37  pass
    dns5/pse:train_e3net                         personalized_enhancement     6.65M     1016    0.17  pass
    dns5/pse:train_light                         personalized_enhancement     2.44M      930    0.42  pass
        note: model.conf.encoder: fresh weights of shared_speakers/spk/conf/train_contrastive.yaml (instead of the trained exp/contrastive)
    dns5/pse:train_oracle                        personalized_enhancement     3.69M      960    0.49  pass
    dns5/pse:train_pdccrn                        personalized_enhancement     3.93M     1096    0.74  pass
    dns5/pse:train_pdfnet2                       personalized_enhancement     2.27M      926    0.41  pass
    esc50/cls:train                              classification              79.68M     3638    2.10  pass
    esc50/cls:train_mobilenetv2                  classification               3.54M      860    0.07  pass
    esc50/cls:train_resnet38                     classification              72.71M     3335    1.79  pass
    librispeech/enh:train_crn                    enhancement                 17.58M     1436    0.38  pass
    librispeech/enh:train_psm_blstm              enhancement                  2.76M      882    0.06  pass
    librispeech/enh:train_student                enhancement                 12.83M     1282    0.47  pass
    librispeech/enh:train_student_kd             enhancement                 12.83M     1486    0.41  pass
        note: teachers.snr.members: fresh weights of librispeech/enh/conf/train_teacher.yaml (4 member(s), filled in by the recipe)
    librispeech/enh:train_teacher                enhancement                 12.83M     1282    0.32  pass
    librispeech/enh:train_wavenet_denoise        enhancement                  6.28M     1796    1.66  pass
    shared_speakers/spk:train_contrastive        speaker_embedding            0.17M      782    0.04  pass
        note: teachers.teacher: precomputed outputs dropped (the live teacher runs)
        note: batch 2 (BatchNorm of the embedding needs 2 examples)
    shared_speakers/spk:train_cos                speaker_embedding            0.17M      781    0.03  pass
        note: teachers.teacher: precomputed outputs dropped (the live teacher runs)
        note: batch 2 (BatchNorm of the embedding needs 2 examples)
    shared_speakers/spk:train_mse                speaker_embedding            0.17M      782    0.03  pass
        note: teachers.teacher: precomputed outputs dropped (the live teacher runs)
        note: batch 2 (BatchNorm of the embedding needs 2 examples)
    tau2019mobile/cls:train                      classification              79.68M     3637    1.31  pass
    tau2019mobile/cls:train_mobilenetv2          classification               3.54M      860    0.12  pass
    tau2019mobile/cls:train_resnet38             classification              72.71M     3334    1.00  pass
    user_data/cls:train                          classification              79.68M     3639    0.73  pass
    user_data/cls:train_mobilenetv2              classification               3.54M      860    0.13  pass
    user_data/cls:train_resnet38                 classification              72.71M     3333    0.57  pass
    voxceleb/spk:train_contrastive               speaker_embedding            0.17M      785    0.10  pass
        note: teachers.teacher: precomputed outputs dropped (the live teacher runs)
        note: batch 2 (BatchNorm of the embedding needs 2 examples)
    voxceleb/spk:train_contrastive_ecapa         speaker_embedding            0.15M      806    0.07  pass
        note: teachers.teacher: precomputed outputs dropped (the live teacher runs)
        note: teachers.teacher.members[0]: fresh weights of voxceleb/spk/conf/train_ecapa_small.yaml (instead of the trained exp/ecapa_small)
        note: batch 2 (BatchNorm of the embedding needs 2 examples)
    voxceleb/spk:train_cos                       speaker_embedding            0.17M      781    0.10  pass
        note: teachers.teacher: precomputed outputs dropped (the live teacher runs)
        note: batch 2 (BatchNorm of the embedding needs 2 examples)
    voxceleb/spk:train_ecapa_small               speaker_embedding            6.98M     1023    0.18  pass
        note: batch 2 (BatchNorm of the embedding needs 2 examples)
    voxceleb/spk:train_mse                       speaker_embedding            0.17M      781    0.10  pass
        note: teachers.teacher: precomputed outputs dropped (the live teacher runs)
        note: batch 2 (BatchNorm of the embedding needs 2 examples)
    # mini_espeak/enh: not dry-run (the offline mini recipe: conf/ is its only, tiny, scale)
    # 39 of 39 passed   (the four joint SE+ASR rows: --recipes TEMPLATE/asr, measured after the others)
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
from kdspeech.dryrun.data import without_data

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
        model_conf = {**(conf["model"].get("conf") or {}), **without_data(pc.task)}
        model = build_model(conf["model"]["name"], model_conf, where=str(pc.path))
        record.update(params=count_parameters(model), ok=True, error=None)
    except Exception as err:  # noqa: BLE001 - every failure is a row of the table
        record.update(ok=False, error=f"{type(err).__name__}: {err}")
    return record


def run_one(pc, work, args, corpora, overrides=()):
    """``kdspeech.dryrun.one`` for ``pc`` in a child process (``overrides``: its ``--set`` words); its
    record."""
    cmd = [sys.executable, "-m", "kdspeech.dryrun.one", "--config", str(pc.path), "--recipe", pc.recipe,
           "--work", str(work), "--steps", str(args.steps), "--batch", str(args.batch),
           "--seconds", str(args.seconds), "--device", args.device, "--corpora", str(corpora),
           *(["--set", *overrides] if overrides else [])]
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
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.device == "cuda" and not args.build_only:
        import torch
        if not torch.cuda.is_available():
            parser.error("--device cuda: no GPU is visible")
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
