"""Cost of deterministic mode (``trainer.deterministic``, kdspeech.train.determinism) on a training step
of each task's CPU-scale model: the same steps timed with torch's deterministic algorithms off and on,
interleaved, and the ratio on / off printed per model (the aim: at most 1.10).  Times are the process's
CPU seconds per step (``time.process_time``), the minimum over the repeats: on a machine shared with
other jobs, wall time swings by 2x or more from one repeat to the next; CPU time much less (run it with
``OMP_NUM_THREADS=1`` so that CPU time is the step's time).

Models and sizes come from the recipes' own configs (``model`` section), inputs are random tensors of
the task's shape, and the loss is a mean square of the model's first output, so only the model's ops
are measured (the losses and data pipeline are the same in both modes).

    tools/venv/bin/python benchmarks/bench_deterministic.py [--steps 5] [--batch 4] [--seconds 1] \\
        [--repeats 3] [--models waveunet,dccrn,...]
"""

import argparse
import time
from pathlib import Path

import torch
import yaml

from kdspeech.models import build_model
from kdspeech.models.calling import call_model
from kdspeech.train.determinism import set_deterministic

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {  # task model -> (recipe config, sample rate)
    "waveunet": ("egs/librispeech/enh/conf/cpu/train_student.yaml", 16000),
    "crn": ("egs/librispeech/enh/conf/cpu/train_crn.yaml", 16000),
    "dccrn": ("egs/librispeech/asr_enh/conf/cpu/student_lr.yaml", 16000),
    "conformer_enh": ("egs/librispeech/asr_enh/conf/cpu/teacher.yaml", 16000),
    "tiny_ecapa": ("egs/shared_speakers/spk/conf/train_contrastive.yaml", 16000),
    "cnn14": ("egs/esc50/cls/conf/cpu/train.yaml", 16000),
    "mobilenetv2": ("egs/esc50/cls/conf/cpu/train_mobilenetv2.yaml", 16000),
}


def model_of(path):
    conf = yaml.safe_load((REPO / path).read_text())["model"]
    return build_model(conf["name"], conf.get("conf") or {})


def first_tensor(out):
    if torch.is_tensor(out):
        return out
    values = out.values() if isinstance(out, dict) else out
    return next(v for v in values if torch.is_tensor(v) and v.is_floating_point())


def step_seconds(model, batch, steps, deterministic):
    set_deterministic(deterministic)
    optimizer = torch.optim.Adam(model.parameters(), 1e-4)
    start = time.process_time()   # CPU seconds of this process: less swayed by other processes than wall time
    for _ in range(steps):
        out = first_tensor(call_model(model, batch, ()))
        loss = out.float().pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.process_time() - start) / steps


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--models", default=",".join(CONFIGS))
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch} x {args.seconds} s")
    print("model | parameters | CPU s/step off | CPU s/step on | on / off")
    for name in args.models.split(","):
        path, sr = CONFIGS[name]
        torch.manual_seed(0)
        model = model_of(path)
        wav = torch.randn(args.batch, int(args.seconds * sr), generator=torch.Generator().manual_seed(0)) * 0.1
        batch = {"input": wav, "lengths": torch.full((args.batch,), wav.shape[1])}
        step_seconds(model, batch, 1, False)   # warm-up
        off, on = [], []
        for _ in range(args.repeats):          # interleaved, so drift of the machine hits both
            off.append(step_seconds(model, batch, args.steps, False))
            on.append(step_seconds(model, batch, args.steps, True))
        set_deterministic(False)
        params = sum(q.numel() for q in model.parameters())
        print(f"{name} | {params} | {min(off):.4f} | {min(on):.4f} | {min(on) / min(off):.3f}")
    print("deterministic mode: done")


if __name__ == "__main__":
    main()
