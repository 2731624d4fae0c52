"""Trainer overhead: seconds per step of kdspeech's Trainer against a minimal hand-written loop.

Both train the same Wave-U-Net on the same in-memory batches (the trainer through its DataLoader,
sampler and logging path); goal: the trainer costs at most 10 % more per step.  Also prints the step
time of a student distilled from two SNR-routed teachers (S2) against the same student alone (S1),
and a step with a teacher returning a dict (``wav``, ``emb``) read by two loss terms (the teacher's
``wav`` and the student's tapped bottleneck against the teacher's ``emb``) against the same step with
one term: the dict outputs, taps and the extra term should cost next to nothing.

    tools/venv/bin/python benchmarks/bench_trainer.py [--steps 20] [--batch 16] [--segment 16384]
"""

import argparse
import copy
import logging
import time

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from kdspeech.distill.losses import build_loss_terms
from kdspeech.distill.teachers import TeacherSet
from kdspeech.models import build_model
from kdspeech.train.optim import ConstantLR
from kdspeech.train.trainer import Trainer

STUDENT = {"num_layers": 6, "base_channels": 16, "growth": 16, "num_decimations": 6}
TEACHER = {"num_layers": 8, "base_channels": 24, "growth": 24, "num_decimations": 7}
STUDENT_BOTTLENECK = STUDENT["base_channels"] + STUDENT["growth"] * STUDENT["num_layers"]


class Batches(Dataset):
    """Fixed random (noisy, clean, snr) examples."""

    def __init__(self, n, segment):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, segment, generator=g) * 0.1
        self.y = torch.randn(n, segment, generator=g) * 0.1
        self.snr = torch.tensor([(-5.0, 5.0)[i % 2] for i in range(n)])

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input": self.x[i], "target": self.y[i], "snr": self.snr[i], "key": str(i)}


class DictTeacher(torch.nn.Module):
    """A teacher returning a dict: its enhanced waveform and a per-example 'embedding'."""

    def __init__(self, conf):
        super().__init__()
        self.net = build_model("waveunet", conf)

    def forward(self, x):
        wav = self.net(x)
        return {"wav": wav, "emb": F.adaptive_avg_pool1d(wav.abs()[:, None], 64)[:, 0]}


def hand_loop(model, data, batch):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    t0 = time.perf_counter()
    for start in range(0, len(data), batch):
        x, y = data.x[start:start + batch], data.y[start:start + batch]
        loss = 0.5 * F.mse_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / (len(data) // batch)


def trainer_epoch(model, data, batch, tmp, terms, teachers=None):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    trainer = Trainer(model, opt, ConstantLR(opt), terms, data, data, tmp, teachers=teachers,
                      batch_size=batch, conf={"tensorboard": False, "log_interval": 10 ** 9})
    t0 = time.perf_counter()
    trainer.train_epoch(1)
    return (time.perf_counter() - t0) / (len(data) // batch)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--segment", type=int, default=16384)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(0)
    data = Batches(args.steps * args.batch, args.segment)
    base = build_model("waveunet", STUDENT)
    sup = build_loss_terms([{"name": "mse_target"}])
    kd = build_loss_terms([{"name": "mse_teacher", "weight": 0.5, "teacher": "snr"},
                           {"name": "mse_target", "weight": 0.5}])
    teachers = {"snr": TeacherSet([build_model("waveunet", TEACHER), build_model("waveunet", TEACHER)],
                                  route_by="snr", bounds=[0], name="snr")}
    one_term = build_loss_terms([{"name": "mse_teacher", "teacher": "d", "teacher_key": "wav"}])
    two_terms = build_loss_terms([{"name": "mse_teacher", "teacher": "d", "teacher_key": "wav"},
                                  {"name": "cos_emb", "teacher": "d", "teacher_key": "emb",
                                   "student_key": "hidden.bottleneck", "pool": "mean",
                                   "proj": [STUDENT_BOTTLENECK, 64]}])
    dict_teacher = {"d": TeacherSet([DictTeacher(TEACHER)], name="d")}
    hand, mine, s2, one, two = [], [], [], [], []
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        hand_loop(copy.deepcopy(base), Batches(2 * args.batch, args.segment), args.batch)  # warm-up
        for _ in range(args.repeats):  # interleaved, best of N: robust to a busy machine
            hand.append(hand_loop(copy.deepcopy(base), data, args.batch))
            mine.append(trainer_epoch(copy.deepcopy(base), data, args.batch, tmp, sup))
            s2.append(trainer_epoch(copy.deepcopy(base), data, args.batch, tmp, kd, teachers))
            one.append(trainer_epoch(copy.deepcopy(base), data, args.batch, tmp, one_term, dict_teacher))
            two.append(trainer_epoch(copy.deepcopy(base), data, args.batch, tmp, two_terms, dict_teacher))
    h, m, k = min(hand), min(mine), min(s2)
    print(f"threads={torch.get_num_threads()} batch={args.batch}x{args.segment} steps={args.steps} "
          f"student={STUDENT} teacher={TEACHER}")
    print(f"hand-written loop : {h:.3f} s/step")
    print(f"kdspeech Trainer  : {m:.3f} s/step  (overhead {100 * (m / h - 1):+.1f} %, goal <= +10 %)")
    print(f"S2 (2 routed teachers) : {k:.3f} s/step  ({k / m:.2f}x S1)")
    o, t = min(one), min(two)
    print(f"dict-output teacher, 1 term  : {o:.3f} s/step")
    print(f"dict-output teacher, 2 terms : {t:.3f} s/step  ({100 * (t / o - 1):+.1f} %: the second term, "
          "a tap and a projection)")


if __name__ == "__main__":
    main()
