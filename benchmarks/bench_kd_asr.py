"""KD-SE-for-ASR speed figures: real-time factors of students and teachers, and the cost of a KD step.

1. CPU real-time factor (seconds of compute per second of 16 kHz audio, batch 1, inference mode,
   --threads torch threads) of DCCRN-CL at the published size and a tiny CPU size, the Conformer
   teacher at the paper size (ESPnet separator defaults) and a tiny size, and DeepFilterNet3 through
   libDF (single-threaded runtime; its per-utterance state creation, about 0.5 s, is shown apart).
2. One Trainer epoch of the tiny DCCRN student with L_r (si_snr) alone against L_r + L_e + L_d
   (frame_kd + seq_kd on ``spec``) with the teacher's outputs precomputed (``teachers: {t:
   {precomputed: ...}}``, what the recipe does after caching the teacher).  Goal: ratio <= 1.15.

    tools/venv/bin/python benchmarks/bench_kd_asr.py [--seconds 4] [--threads 1] [--steps 8] \\
        [--batch 8] [--segment 32000] [--repeats 2] [--skip-paper]
"""

import argparse
import copy
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from bench_trainer import trainer_epoch  # same folder: the one timed trainer epoch
from kdspeech.distill.losses import build_loss_terms
from kdspeech.distill.teachers import build_teacher_sets
from kdspeech.models import build_model, count_parameters
from kdspeech.models.complexity import cpu_latency

TINY_DCCRN = {"channels": [16, 32, 32, 64, 64, 64], "lstm_units": 64}
TINY_CONFORMER = {"dim": 64, "heads": 2, "layers": 2, "units": 128}


class Utterances(Dataset):
    def __init__(self, n, segment):
        g = torch.Generator().manual_seed(0)
        self.y = torch.randn(n, segment, generator=g) * 0.1
        self.x = self.y + torch.randn(n, segment, generator=g) * 0.1

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input": self.x[i], "target": self.y[i], "key": str(i)}


def rtf_rows(seconds, repeats, paper):
    rows = []
    models = [("DCCRN-CL tiny", "dccrn", TINY_DCCRN), ("Conformer tiny", "conformer_enh", TINY_CONFORMER)]
    if paper:
        models = [("DCCRN-CL published", "dccrn", {})] + models[:1] + [
            ("Conformer paper", "conformer_enh", {})] + models[1:]
    for label, name, conf in models:
        model = build_model(name, conf).eval()
        t = cpu_latency(model, seconds=seconds, repeats=repeats)
        rows.append((label, count_parameters(model), t / seconds))
    try:
        from kdspeech.models.loaders import load_member
        df = load_member({"loader": "deepfilternet", "path": "builtin"})
        x = torch.randn(1, int(seconds * 16000)) * 0.05
        t0 = time.perf_counter()
        df.lib.df_free(df._create())
        create = time.perf_counter() - t0
        t0 = time.perf_counter()
        with torch.inference_mode():
            df(x)
        total = time.perf_counter() - t0
        rows.append((f"DeepFilterNet3 (libDF; state creation {create:.2f} s of it)", None, total / seconds))
    except Exception as err:  # noqa: BLE001 - a missing optional package only drops the row
        rows.append((f"DeepFilterNet3 unavailable ({err})", None, float("nan")))
    return rows


def kd_ratio(steps, batch, segment, repeats):
    torch.manual_seed(0)
    data = Utterances(steps * batch, segment)
    student = build_model("dccrn", TINY_DCCRN)
    teacher = build_model("conformer_enh", TINY_CONFORMER).eval()
    plain = build_loss_terms([{"name": "si_snr"}])
    kd = build_loss_terms([{"name": "si_snr"}, {"name": "frame_kd", "teacher": "t"},
                           {"name": "seq_kd", "weight": 0.1, "teacher": "t"}])
    with tempfile.TemporaryDirectory() as tmp:
        with torch.inference_mode():
            outs = [teacher(data.x[i:i + batch]) for i in range(0, len(data), batch)]
        path = Path(tmp) / "teacher.npz"
        np.savez(path, keys=np.array([str(i) for i in range(len(data))]),
                 wav=torch.cat([o["wav"] for o in outs]).numpy(),
                 spec=torch.cat([o["spec"] for o in outs]).numpy())
        teachers = build_teacher_sets({"t": {"precomputed": [str(path)]}}, "cpu")
        trainer_epoch(copy.deepcopy(student), Utterances(2 * batch, segment), batch, tmp, plain)  # warm-up
        a, b = [], []
        for _ in range(repeats):
            a.append(trainer_epoch(copy.deepcopy(student), data, batch, tmp, plain))
            b.append(trainer_epoch(copy.deepcopy(student), data, batch, tmp, kd, teachers))
    return min(a), min(b), count_parameters(student)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=4.0, help="audio per RTF measurement")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--segment", type=int, default=32000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--skip-paper", action="store_true", help="leave out the paper-size models")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    print(f"threads={torch.get_num_threads()}; RTF on {args.seconds:g} s of 16 kHz audio, batch 1, median "
          f"of {args.repeats}")
    for label, params, rtf in rtf_rows(args.seconds, args.repeats, not args.skip_paper):
        size = f"{params / 1e6:7.3f}M" if params else "      - "
        print(f"  {label:58s} {size}  RTF {rtf:.3f}")
    plain, kd, params = kd_ratio(args.steps, args.batch, args.segment, args.repeats)
    print(f"train step, DCCRN tiny ({params:,} parameters), batch {args.batch}x{args.segment}, "
          f"{args.steps} steps, best of {args.repeats}:")
    print(f"  L_r (si_snr)                                    {plain:.3f} s/step")
    print(f"  L_r + L_e + L_d, precomputed teacher outputs    {kd:.3f} s/step  ratio {kd / plain:.3f} "
          f"(goal <= 1.15)")


if __name__ == "__main__":
    main()
