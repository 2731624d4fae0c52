"""Deployment cost of classifiers: parameters, MACs and CPU latency for one clip.

    python -m kdspeech.bin.deploy_cls --models exp/fold1/init_16k [--arch cnn14 --arch mobilenetv2] \\
        [--duration 5] [--num_threads 1] --out_dir exp/deploy

``--models`` are trained models (exp dirs or model files); ``--arch`` adds the published full-size
architecture (width 1, the same number of classes as the first model, else 50).  MACs are counted
by kdspeech.models.complexity on a waveform clip of ``--duration`` seconds at batch 1 (conv and linear
layers; the STFT/mel front end is not counted); latency is the median of ``--repeats`` forward passes
with ``--num_threads`` threads on this machine's CPU.  Writes ``deploy.tsv`` and ``deploy.json``.
"""

import argparse
import json
from pathlib import Path

import torch

from kdspeech.cli import run_main
from kdspeech.models import build_model, count_parameters
from kdspeech.models.complexity import count_macs, cpu_latency
from kdspeech.results import atomic_write_text
from kdspeech.train.checkpoint import load_model


def measure(name, model, duration, repeats):
    x = torch.zeros(1, int(round(16000 * duration)))
    return {"model": name, "parameters": count_parameters(model), "macs": int(count_macs(model, x)),
            "latency_ms": 1000 * cpu_latency(model, seconds=duration, sr=16000, repeats=repeats)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", default=[], help="exp dirs or model files")
    p.add_argument("--arch", action="append", default=[], help="published architecture at width 1")
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--num_threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out_dir", required=True)
    args = p.parse_args(argv)
    torch.set_num_threads(args.num_threads)
    rows, classes = [], 50
    for path in args.models:
        model = load_model(path)
        classes = model.fc_transfer.out_features if hasattr(model, "fc_transfer") else classes
        rows.append(measure(str(path), model, args.duration, args.repeats))
    for arch in args.arch:
        rows.append(measure(f"{arch} (width 1)", build_model(arch, {"num_classes": classes}).eval(),
                            args.duration, args.repeats))
    out = Path(args.out_dir)
    tsv = "model\tparameters\tMACs\tlatency_ms\n" + "".join(
        f"{r['model']}\t{r['parameters']}\t{r['macs']}\t{r['latency_ms']:.1f}\n" for r in rows)
    atomic_write_text(out / "deploy.tsv", tsv)
    atomic_write_text(out / "deploy.json", json.dumps({"duration_s": args.duration, "num_threads": args.num_threads,
                                                      "models": rows}, indent=1))
    for r in rows:
        print(f"{r['model']}: {r['parameters'] / 1e6:.2f} M parameters, {r['macs'] / 1e9:.3f} GMACs, "
              f"{r['latency_ms']:.1f} ms per {args.duration:g} s clip ({args.num_threads} thread)")
    return 0


if __name__ == "__main__":
    run_main(main)
