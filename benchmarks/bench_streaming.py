"""Streaming against offline processing (issue 23): compute per hop at one thread in torch and in
onnxruntime, and the total time of a stream against one offline forward of the same audio.

Each model of ``--models`` (registry names at their default, published size; ``--conf
NAME.KEY=VALUE`` changes an option of one) in eval mode with its initial weights (the cost does not
depend on them), batch 1, ``--seconds`` of seeded noise at 16 kHz, ``--threads`` torch and
onnxruntime threads: the rows of ``kdspeech.deploy.stream_measure.measure_stream`` (the torch step of
``kdspeech.models.streaming`` and its ONNX export run hop by hop, the export checked against torch),
printed as per-hop mean / 99th percentile (ms), real-time factor, and stream total / offline total
(aim: within 1.5x).  A model that cannot stream is named with the reason.  ``--hops 1,2,4,8``: a row
per hops per step k (the adapter's ``hops_per_step``: per hop = a step's time over k, latency + (k - 1)
hops), and per model the ratios of k against the first k listed, measured in the same process (on a
loaded machine compare those, not figures of separate runs).

    OMP_NUM_THREADS=1 tools/venv/bin/python benchmarks/bench_streaming.py [--models crn,dccrn,e3net,pdfnet2] \\
        [--seconds 5] [--repeats 3] [--threads 1] [--hops 1,2,4,8]
"""

import argparse
import tempfile
from pathlib import Path

import torch

from kdspeech.config import parse_overrides
from kdspeech.deploy.stream_measure import measure_stream
from kdspeech.models import build_model


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="crn,dccrn,e3net,pdfnet2")
    p.add_argument("--conf", nargs="*", default=[], metavar="NAME.KEY=VALUE")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hops", default="1", help="hops per step, comma-separated (e.g. 1,2,4,8)")
    args = p.parse_args()
    hops = [int(k) for k in args.hops.split(",") if k.strip()]
    torch.set_num_threads(args.threads)
    confs = parse_overrides(args.conf)
    print(f"{args.threads} thread(s), {args.seconds:g} s at 16 kHz; per hop: mean / p99 ms; RTF = mean / hop; "
          "total: stream (every hop) / one offline forward (torch)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in [n.strip() for n in args.models.split(",") if n.strip()]:
            torch.manual_seed(0)
            model = build_model(name, confs.get(name, {})).eval()
            rows = []
            for k in hops:
                rows.append(measure_stream(name, model, args.seconds, 16000, Path(tmp) / f"{name}.k{k}.onnx",
                                           args.threads, repeats=args.repeats, hops=k if hops != [1] else None))
                print_row(name, rows[-1], k if hops != [1] else None)
                if len(rows) == 1 and rows[0].get("stream_status") == "cannot stream":
                    break
            print_ratios(name, rows, hops)
    print("bench_streaming: done")


def print_row(name, row, k):
    """The figures of one row (``k`` hops a step, None: the one-hop default)."""
    if "hop_ms" not in row:
        print(f"{name}: {row['stream_error']}")
        return
    steps = f", {k} hop{'s' if k != 1 else ''} a step" if k else ""
    print(f"{name}{steps}: {row['parameters'] / 1e6:.2f} M parameters, hop {row['hop_ms']:g} ms, algorithmic latency "
          f"{row['latency_ms']:.2f} ms, state {row['state_bytes'] / 1024:.1f} KiB, "
          f"{row['macs_per_second'] / 1e6:,.0f} MMAC/s")
    print(f"  torch       per hop {row['torch_hop_mean_ms']:7.2f} / {row['torch_hop_p99_ms']:7.2f} ms, "
          f"RTF {row['torch_rtf']:.3f}, stream / offline {row['stream_over_offline']:.2f}x "
          f"({row['torch_total_s']:.2f} s / {row['offline_total_s']:.2f} s)")
    if row.get("onnx_hop_mean_ms") is not None:
        print(f"  onnxruntime per hop {row['onnx_hop_mean_ms']:7.2f} / {row['onnx_hop_p99_ms']:7.2f} ms, "
              f"RTF {row['onnx_rtf']:.3f}, stream / offline torch {row['onnx_stream_over_offline']:.2f}x "
              f"({row['onnx_total_s']:.2f} s); ONNX stream max abs diff {row['onnx_max_abs_diff']:.2g} "
              f"(tolerance {row['onnx_tolerance']:.2g})")
    if row["stream_status"] != "ok":
        print(f"  {row['stream_status']}")


def print_ratios(name, rows, hops):
    """Per k after the first: per-hop mean, p99 and stream / offline against the first k (same process)."""
    base = rows[0]
    if len(rows) < 2 or "hop_ms" not in base:
        return
    keys = [("torch", "torch_hop_mean_ms", "torch_hop_p99_ms", "stream_over_offline"),
            ("onnxruntime", "onnx_hop_mean_ms", "onnx_hop_p99_ms", "onnx_stream_over_offline")]
    for k, row in zip(hops[1:], rows[1:]):
        parts = []
        for label, mean, p99, total in keys:
            if row.get(mean) is not None and base.get(mean) is not None:
                parts.append(f"{label} per hop mean {row[mean] / base[mean]:.2f}x, p99 {row[p99] / base[p99]:.2f}x"
                             + (f", stream / offline {row[total]:.2f} vs {base[total]:.2f}"
                                if row.get(total) is not None and base.get(total) is not None else ""))
        print(f"  {name} k={k} vs k={hops[0]}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
