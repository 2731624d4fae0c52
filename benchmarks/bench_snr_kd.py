"""SNR-based teachers-student step time: S2 (student + four SNR-routed teachers) against S1 (student alone).

Both train the same Wave-U-Net student with kdspeech's Trainer on the same in-memory batches whose
SNRs are drawn from the paper's student set {-20, -10, 0, 10, 20} dB; S2 adds the paper's loss
a/2 ||s - t_i||^2 + (1-a)/2 ||s - y||^2 (``--loss mse``) or its scale-invariant CPU-config form
a (-SI-SNR(s, t_i)) + (1-a) (-SI-SNR(s, y)) (``--loss si_snr``, the default) with teacher i chosen by
SNR (bounds -10, 0, 10).  The run
also checks the routing cost claim: per step, each teacher runs at most once, on exactly the examples
routed to it, so the teachers together see one batch worth of examples (counted with forward hooks).
The expected S2/S1 ratio is 1 + (teacher forward) / (student forward + backward + update).

    tools/venv/bin/python benchmarks/bench_snr_kd.py [--steps 10] [--batch 16] [--segment 16384] \\
        [--width cpu|paper] [--loss si_snr|mse] [--threads 1] [--repeats 2]
"""

import argparse
import copy
import logging
import tempfile

import torch
from torch.utils.data import Dataset

from bench_trainer import trainer_epoch  # same folder: the one timed trainer epoch
from kdspeech.distill.losses import build_loss_terms
from kdspeech.distill.teachers import TeacherSet
from kdspeech.models import build_model

WIDTHS = {  # teachers and student share the architecture, as in the paper
    "cpu": {"num_layers": 5, "base_channels": 8, "growth": 8, "num_decimations": 5,  # conf/cpu
            "enc_kernel": 15, "dec_kernel": 5, "output_init": "identity"},
    "paper": {},                                                                          # 12.8M parameters
}
STUDENT_SNRS = (-20.0, -10.0, 0.0, 10.0, 20.0)
LOSSES = {  # (S1's terms, S2's terms)
    "mse": ([{"name": "mse_target"}],
            [{"name": "mse_teacher", "weight": 0.5, "teacher": "snr"}, {"name": "mse_target", "weight": 0.5}]),
    "si_snr": ([{"name": "si_snr"}],
               [{"name": "si_snr_teacher", "weight": 0.5, "teacher": "snr"}, {"name": "si_snr", "weight": 0.5}]),
}
BOUNDS = [-10.0, 0.0, 10.0]


class Batches(Dataset):
    def __init__(self, n, segment):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, segment, generator=g) * 0.1
        self.y = torch.randn(n, segment, generator=g) * 0.1
        self.snr = torch.tensor([STUDENT_SNRS[i] for i in torch.randint(0, 5, (n,), generator=g).tolist()])

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input": self.x[i], "target": self.y[i], "snr": self.snr[i], "key": str(i)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--segment", type=int, default=16384)
    p.add_argument("--width", choices=sorted(WIDTHS), default="cpu")
    p.add_argument("--loss", choices=sorted(LOSSES), default="si_snr")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2, help="interleaved repeats, best kept")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    conf = WIDTHS[args.width]
    data = Batches(args.steps * args.batch, args.segment)
    student = build_model("waveunet", conf)
    members = [build_model("waveunet", conf) for _ in range(4)]
    teachers = {"snr": TeacherSet(members, route_by="snr", bounds=BOUNDS, name="snr")}
    seen = [[] for _ in members]  # batch sizes each teacher ran on
    for i, m in enumerate(members):
        m.register_forward_hook(  # the trainer calls models by keyword (kdspeech.models.calling)
            lambda mod, args, kwargs, out, i=i: seen[i].append((list(args) + list(kwargs.values()))[0].shape[0]),
            with_kwargs=True)
    sup, kd = (build_loss_terms(terms) for terms in LOSSES[args.loss])
    s1, s2 = [], []
    with tempfile.TemporaryDirectory() as tmp:
        trainer_epoch(copy.deepcopy(student), Batches(2 * args.batch, args.segment), args.batch, tmp, sup)
        for _ in range(args.repeats):
            s1.append(trainer_epoch(copy.deepcopy(student), data, args.batch, tmp, sup))
            for s in seen:
                s.clear()
            s2.append(trainer_epoch(copy.deepcopy(student), data, args.batch, tmp, kd, teachers))
    # Routing check on the last S2 epoch: one call per needed teacher per step, one example each.
    calls = sum(len(s) for s in seen)
    examples = sum(sum(s) for s in seen)
    expected = [int(((data.snr >= lo) & (data.snr < hi)).sum())
                for lo, hi in zip([-1e9] + BOUNDS, BOUNDS + [1e9])]
    assert examples == len(data), (examples, len(data))
    assert [sum(s) for s in seen] == expected, ([sum(s) for s in seen], expected)
    assert calls <= 4 * args.steps
    a, b = min(s1), min(s2)
    params = sum(p.numel() for p in student.parameters())
    print(f"threads={torch.get_num_threads()} batch={args.batch}x{args.segment} steps={args.steps} "
          f"width={args.width} ({params:,} parameters per model) loss={args.loss} repeats={args.repeats} (best kept)")
    print(f"S1 student alone           : {a:.3f} s/step")
    print(f"S2 student + 4 SNR teachers: {b:.3f} s/step  ({b / a:.2f}x S1)")
    print(f"routing: {calls} teacher calls in {args.steps} steps ({calls / args.steps:.2f} per step, at most 4), "
          f"{examples} examples through teachers = {len(data)} examples in the epoch; per teacher {expected}")


if __name__ == "__main__":
    main()
