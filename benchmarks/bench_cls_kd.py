"""Cost of a distillation epoch against a plain fine-tuning epoch (low-rate classification).

The same student (CNN14 at --width) trains one epoch on the same cached features through the one
Trainer: (1) fine-tuning with cross-entropy; (2) BASD/CSSD with the teacher's logits precomputed
(``teachers: {kd: {precomputed: ...}}``, what egs/TEMPLATE/cls does); (3) for reference, CSSD with the
16 kHz teacher run live on the input_16k view (TeacherSet, no cache).  Goal: (2)/(1) <= 1.15.

    tools/venv/bin/python benchmarks/bench_cls_kd.py [--clips 96] [--frames 501] [--width 0.0625] [--threads 1]
"""

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from kdspeech.bin.infer_cls import infer, save_logits
from kdspeech.data.datadir import write_kv
from kdspeech.distill.losses import build_loss_terms
from kdspeech.distill.teachers import build_teacher_sets
from kdspeech.models import build_model
from kdspeech.tasks import build_dataset
from kdspeech.train.checkpoint import atomic_save
from kdspeech.train.optim import ConstantLR
from kdspeech.train.trainer import Trainer


def make_data(root, clips, frames, classes=10):
    utts = [f"u{i:04d}" for i in range(clips)]
    write_kv(root / "data" / "wav.scp", {u: "/dev/null" for u in utts})
    write_kv(root / "data" / "utt2label", {u: f"c{i % classes}" for i, u in enumerate(utts)})
    (root / "data" / "classes.txt").write_text("".join(f"c{k}\n" for k in range(classes)))
    rng = np.random.default_rng(0)
    for rate in (16000, 1000):
        d = root / "feats" / str(rate)
        d.mkdir(parents=True)
        np.save(d / "feats.npy", rng.standard_normal((clips, frames, 64)).astype(np.float32))
        (d / "utts.txt").write_text("".join(u + "\n" for u in utts))


def epoch_seconds(root, conf, terms, teachers, batch, repeats):
    torch.manual_seed(0)
    model = build_model("cnn14", conf)
    data = {"feats": str(root / "feats" / "1000"), "views": {"input_16k": str(root / "feats" / "16000")}}
    train_set = build_dataset("classification", root / "data", data, True, 1)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    trainer = Trainer(model, opt, ConstantLR(opt), build_loss_terms(terms), train_set, train_set, root / "exp",
                      teachers=teachers, batch_size=batch, conf={"tensorboard": False, "log_interval": 10**6})
    times = []
    for epoch in range(1, repeats + 1):
        t0 = time.perf_counter()
        trainer.train_epoch(epoch)
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=96)
    p.add_argument("--frames", type=int, default=501, help="501 = a 5 s clip")
    p.add_argument("--width", type=float, default=0.0625)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2, help="epochs per setting (the fastest counts)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    conf = {"num_classes": 10, "width": args.width, "dropout": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_data(root, args.clips, args.frames)
        teacher = build_model("cnn14", conf).eval()
        atomic_save({"model_name": "cnn14", "model_conf": conf, "model": teacher.state_dict()}, root / "t.pth")
        ds = build_dataset("classification", root / "data", {"feats": str(root / "feats" / "16000")}, False, 1)
        keys, logits = infer(teacher, ds)
        save_logits(root / "t.npz", keys, logits)
        kd = [{"name": "ce", "weight": 0.5}, {"name": "kl_logits", "weight": 0.5, "T": 2, "teacher": "kd"}]
        ce = [{"name": "ce", "weight": 1.0}]
        pre = build_teacher_sets({"kd": {"precomputed": [str(root / "t.npz")]}}, "cpu")
        live = build_teacher_sets({"kd": {"members": [str(root / "t.pth")], "input": "input_16k"}}, "cpu")
        base = epoch_seconds(root, conf, ce, {}, args.batch, args.repeats)
        fast = epoch_seconds(root, conf, kd, pre, args.batch, args.repeats)
        slow = epoch_seconds(root, conf, kd, live, args.batch, args.repeats)
    print(f"{args.clips} clips x {args.frames} frames, CNN14 width {args.width}, batch {args.batch}, "
          f"{args.threads} thread(s); fastest of {args.repeats} epochs")
    print(f"fine-tuning (CE)               {base:7.2f} s/epoch")
    print(f"BASD/CSSD, precomputed teacher {fast:7.2f} s/epoch  ratio {fast / base:.3f}  (goal <= 1.15)")
    print(f"CSSD, live 16 kHz teacher      {slow:7.2f} s/epoch  ratio {slow / base:.3f}  (reference)")


if __name__ == "__main__":
    main()
