"""One training step of every paper-size model, fp32 vs bf16 autocast on the CPU (``trainer.precision``,
kdspeech.train.precision), and which models fail under bf16.

The paper-size configs are the recipes' ``egs/*/*/conf/*.yaml`` outside ``conf/cpu/`` that have a
``model`` section; models with the same name and options are measured once (the configs sharing them
are listed).  A step is batch 1 (2 for a speaker model whose BatchNorm on embeddings cannot train on
one example) on ``--seconds`` of random audio at the config's ``data.sr``: the
forward under autocast (``kdspeech.train.precision.autocast``, as the trainer runs it), a mean square of
every floating output computed in fp32, backward, Adam.  Times are the process's CPU seconds per step
(``time.process_time``; run with ``OMP_NUM_THREADS=1`` so that CPU time is the step's time), the minimum
over ``--repeats`` interleaved repeats of ``--steps`` steps; on a machine shared with other jobs they are
indicative only.  It prints figures; it asserts nothing.

    tools/venv/bin/python benchmarks/bench_precision.py [--seconds 3] [--steps 2] [--repeats 2] \\
        [--configs egs/dns5/pse/conf/train_pdccrn.yaml,...] [--models dccrn,crn]

Measured once (``--seconds 2 --steps 1 --repeats 1``, ``OMP_NUM_THREADS=1``, torch 2.11.0, a 2-core
CPU shared with a recipe run: indicative only), bf16 / fp32 step time: waveunet (paper) 0.47, mini
waveunet 0.69, dccrn (asr_enh students) 0.67, pDCCRN 0.72, conformer_enh 0.72, wavenet_denoise 0.86,
tiny_ecapa 1.04-1.12, resnet38 1.12, cnn14 1.17, mobilenetv2 1.19, pse_refine (oracle) 1.26, pdfnet2
1.28, crn 1.52, e3net 2.19, psm_blstm 3.25.  No model fails under bf16 since the STFT/iSTFT and the
complex masks run in fp32 (before, every DCCRN config did); pse_refine of ``train_light.yaml`` cannot
be built without the speaker recipe's trained model.

These figures set the CPU preference each model class declares (``cpu_precision``), which
``trainer.precision: auto`` follows on a CPU with native bf16 (``kdspeech.train.precision``): bf16 for
waveunet, dccrn (pDCCRN), conformer_enh and wavenet_denoise (ratio < 0.9), fp32 for every other model
(ratio > 1).  The table's last column shows the declared preference, so a new measurement that
contradicts one is seen at once.
"""

import argparse
import json
import time
from pathlib import Path

import torch
import yaml

from kdspeech.models import MODELS, build_model, count_parameters
from kdspeech.models.calling import as_outputs
from kdspeech.models.complexity import example_inputs, run_forward
from kdspeech.train.precision import autocast

REPO = Path(__file__).resolve().parents[1]


def paper_configs():
    """(model name, options, sample rate) -> the configs that use them, for every paper-size config."""
    found = {}
    for path in sorted(REPO.glob("egs/*/*/conf/*.yaml")):
        try:
            conf = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue
        model = conf.get("model") if isinstance(conf, dict) else None
        if not isinstance(model, dict) or not model.get("name"):
            continue
        sr = int((conf.get("data") or {}).get("sr") or 16000)
        key = (model["name"], json.dumps(model.get("conf") or {}, sort_keys=True), sr)
        found.setdefault(key, []).append(str(path.relative_to(REPO)))
    return found


def step(model, inputs, optimizer, precision):
    with autocast(torch.device("cpu"), precision):
        out = as_outputs(run_forward(model, inputs))
    loss = sum(v.float().pow(2).mean() for v in out.values()
               if torch.is_tensor(v) and v.is_floating_point() and v.requires_grad)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def seconds_per_step(model, inputs, optimizer, precision, steps):
    start = time.process_time()
    for _ in range(steps):
        step(model, inputs, optimizer, precision)
    return (time.process_time() - start) / steps


def measure(name, options, sr, args):
    torch.manual_seed(0)
    model = build_model(name, json.loads(options)).train()
    inputs = example_inputs(model, int(args.seconds * sr))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-5)
    batch = 1
    try:
        step(model, inputs, optimizer, "fp32")
    except ValueError as err:   # BatchNorm over [B, C] embeddings: no statistics at batch 1 in training
        if "more than 1 value per channel" not in str(err):
            raise
        inputs = {k: torch.cat([v, v]) if torch.is_tensor(v) else v for k, v in inputs.items()}
        batch = 2
    times = {}
    for precision in ("fp32", "bf16"):   # warm-up, and the failure if there is one
        try:
            step(model, inputs, optimizer, precision)
        except Exception as err:  # noqa: BLE001 - reported, not raised: this is a survey
            times[precision] = f"fails: {type(err).__name__}: {str(err).splitlines()[0][:120]}"
    runs = {p: [] for p in ("fp32", "bf16") if p not in times}
    for _ in range(args.repeats):         # interleaved, so drift of the machine hits both
        for precision in runs:
            runs[precision].append(seconds_per_step(model, inputs, optimizer, precision, args.steps))
    times.update({p: min(v) for p, v in runs.items()})
    return count_parameters(model), batch, times


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=3.0, help="audio per step (batch 1)")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--configs", default="", help="comma-separated configs (default: every paper-size one)")
    p.add_argument("--models", default="", help="comma-separated model names to keep")
    args = p.parse_args()
    keep_configs = {c.strip() for c in args.configs.split(",") if c.strip()}
    keep_models = {m.strip() for m in args.models.split(",") if m.strip()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch 1 x {args.seconds} s; "
          f"CPU s/step, min of {args.repeats} x {args.steps} steps")
    print("model | configs | parameters | fp32 s/step | bf16 s/step | bf16 / fp32 | declared cpu_precision")
    failing = []
    for (name, options, sr), configs in paper_configs().items():
        if keep_configs and not keep_configs & set(configs) or keep_models and name not in keep_models:
            continue
        where = ", ".join(configs)
        try:
            params, batch, times = measure(name, options, sr, args)
        except Exception as err:  # noqa: BLE001 - a model that cannot be built here (a missing file)
            print(f"{name} | {where} | - | not built: {type(err).__name__}: {str(err).splitlines()[0][:120]}")
            continue
        fp32, bf16 = times.get("fp32"), times.get("bf16")
        ratio = f"{bf16 / fp32:.2f}" if isinstance(fp32, float) and isinstance(bf16, float) else "-"
        show = [f"{t:.3f}" if isinstance(t, float) else t for t in (fp32, bf16)]
        declared = getattr(MODELS.get(name), "cpu_precision", "fp32")
        print(f"{name}{'' if batch == 1 else f' (batch {batch}: BatchNorm on embeddings)'} | {where} | "
              f"{params} | {show[0]} | {show[1]} | {ratio} | {declared}")
        if isinstance(fp32, float) and not isinstance(bf16, float):
            failing.append(name)
    print(f"fails under bf16 (and not under fp32): {', '.join(failing) if failing else 'none'}")


if __name__ == "__main__":
    main()
