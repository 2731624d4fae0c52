"""Deployment report: parameters, MACs per second of audio, CPU real-time factor, ONNX export checked.

    python -m kdspeech.bin.deploy --models exp/a exp/b [--arch cnn14 mobilenetv2] [--arch_conf num_classes=10] \\
        [--seconds 1] [--sr 16000] [--num_threads 1] [--repeats 5] [--onnx [--onnx_rtol 1e-4]] \\
        [--streaming [--stream_seconds 3]] --out_dir exp/deploy

``--models`` are trained models: exp dirs (their ``best.pth``) or kdspeech model files.  ``--arch``
adds registered architectures built with their default (published) configuration, changed by
``--arch_conf key=value`` (e.g. the number of classes of the recipe).  Every figure is for batch 1 and
``--seconds`` of audio at ``--sr`` Hz given to the model's first input (other inputs from the model's
``example_inputs``; a personalized enhancer without one, ``forward(mix, enroll_emb)``, gets a
``[1, --emb_dim]`` embedding, by default its ``emb_dim`` attribute):

- parameters; MACs per second of audio (kdspeech.models.complexity: convolutions, linear layers,
  matrix products, attention, recurrent layers; the STFT, normalisation, activations and element-wise
  ops are not counted);
- CPU real-time factor of torch with ``--num_threads`` threads: median compute seconds of ``--repeats``
  runs (after one warm-up) over audio seconds;
- with ``--onnx``: the model exported with torch.onnx's TorchScript exporter (opset 17, for this input
  length; a torchaudio spectrogram is exported as a real-valued STFT) to ``<out_dir>/onnx/<name>.onnx``,
  run in onnxruntime on the same inputs; the largest absolute difference from torch must stay within
  ``--onnx_rtol`` x the largest absolute torch output (per output); and onnxruntime's real-time factor
  with ``--num_threads`` threads.

The export hook, the one way any model (or part) chooses what is exported instead of its forward:
``model.export_module(inputs)``, given the model's keyword inputs (``{"mix": ..., "enroll_emb": ...}``),
returns ``(module, {name: tensor}, what)`` (a module with real-valued inputs and outputs, its inputs
derived from those, a short description), or None to export the forward.  An STFT-domain enhancer
returns the network between its STFT and its iSTFT, which the host computes (complex tensors have no
ONNX export; DeepFilterNet deploys its networks the same way): ``pdfnet2``, ``dccrn``,
``conformer_enh``, ``crn`` and ``psm_blstm`` (their ``spectral_core``, inputs ``noisy`` [1, 2, bins,
frames] and ``enroll_emb`` where the model takes one) and ``pse_refine`` around
such an enhancer (encoder, similarity and that core).  That module is exported, run in torch and
onnxruntime on the same inputs and timed; the row's ``onnx_exported`` says what it was (``whole
forward`` otherwise), its status reads ``ok (<what>)`` and ``onnx_rtf`` is that module's alone
(parameters, MACs and the torch RTF stay the whole model's).

A two-part system (``pse_refine``: an enhancer and the on-the-fly similarity encoder) is reported
part by part and whole with ``--parts enhancer,encoder``: rows ``<model> [enhancer]``,
``<model> [encoder]`` (each child module measured alone on its own inputs: the encoder on
``--seconds`` of audio, what it embeds per second of output) and ``<model> [enhancer+encoder]`` (the
whole forward, the deployed system; or what its ``export_module`` returns, in ONNX).  Each part
uses its own hook: ``pse_refine`` with a ``pdfnet2`` enhancer exports the enhancer's spectral core, the
encoder's forward, and for the whole the encoder, similarity and spectral core.  Models without any of
those children get their usual single row; a model with only some of them is an error.

Streaming latency (``--streaming``, ``kdspeech.deploy.stream_measure``): every model (whole, not its
``--parts``) is streamed hop by hop through its adapter (``kdspeech.models.streaming``) over
``--stream_seconds`` of audio: algorithmic latency (the adapter's delay, window + look-ahead, in ms),
compute per hop in torch and in onnxruntime with ``--num_threads`` threads (mean and 99th
percentile), real-time factor, state size, parameters and MACs per second; the step is exported to
``<out_dir>/onnx/<name>.stream.onnx`` with its state as inputs and outputs
(``kdspeech.deploy.stream_onnx``; pse_refine's refinement and TinyECAPA's chunk embeddings, periodic
work, through ``kdspeech.deploy.stream_periodic``) and its onnxruntime stream checked against the torch
stream within ``--onnx_rtol`` x the largest output.  One table in deploy.md (a model that cannot stream
is named under it with the reason), ``deploy_streaming.tsv`` and ``streaming`` in deploy.json; a
failed export or check is ``FAIL: <why>`` and exit status 1, as for ``--onnx``; a step the export
does not take is measured in torch only, its status saying why.  ``--stream_hops 1,4``: a row per model
and hops per step k (the adapter's ``hops_per_step``: a step takes k hops, its frames batched), a
``hops / step`` column in the table and ``hops_per_step`` in the TSV; per-hop figures are a step's over
k, the algorithmic latency includes the (k - 1) hops a step waits for, the exports are
``<name>.stream.k<k>.onnx`` for k > 1; a model whose adapter takes one hop only gets a ``cannot stream``
row for k > 1 saying so.  Without ``--stream_hops`` the table is the one-hop table without that column.

Writes ``deploy.tsv``, ``deploy.json`` and ``deploy.md`` (a Markdown table for a RESULTS.md) in
``--out_dir``.  A model whose export fails or exceeds the tolerance is marked ``FAIL: <why>`` in every
report, and the command exits with status 1 after writing them.
"""

import argparse
import logging
import re
from pathlib import Path

import torch

from kdspeech.cli import run_main
from kdspeech.config import parse_overrides
from kdspeech.deploy.inputs import parts as model_parts
from kdspeech.deploy.measure import measure_model
from kdspeech.deploy.onnx_check import DEFAULT_RTOL
from kdspeech.deploy.report import conditions, write_report
from kdspeech.deploy.stream_measure import measure_stream
from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.train.checkpoint import load_model

log = logging.getLogger(__name__)


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=[], help="exp dirs (best.pth) or kdspeech model files")
    p.add_argument("--arch", nargs="+", action="extend", default=[],
                   help="registered model names, built at their default (published) size")
    p.add_argument("--arch_conf", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="constructor options for every --arch model (e.g. num_classes=10)")
    p.add_argument("--seconds", type=float, default=1.0, help="audio length of every measurement")
    p.add_argument("--sr", type=int, default=16000, help="sample rate of the audio input")
    p.add_argument("--num_threads", type=int, default=1, help="CPU threads of torch and onnxruntime")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per model (the median is reported)")
    p.add_argument("--onnx", action="store_true", help="export to ONNX, check onnxruntime against torch, time it")
    p.add_argument("--onnx_rtol", type=float, default=DEFAULT_RTOL,
                   help="tolerance of the ONNX check, relative to the largest absolute torch output")
    p.add_argument("--streaming", action="store_true",
                   help="also stream each model hop by hop (torch and an ONNX step): the latency table")
    p.add_argument("--stream_seconds", type=float, default=3.0, help="audio length of the streaming measurement")
    p.add_argument("--stream_hops", default=None, metavar="K[,K]",
                   help="hops per streaming step, a row each (e.g. 1,4); default: one hop, no hops column")
    p.add_argument("--parts", default="", metavar="CHILD[,CHILD]",
                   help="also measure these child modules of a model alone (e.g. enhancer,encoder); a model "
                   "without the first one is measured whole, one with it but not the others is an error")
    p.add_argument("--emb_dim", type=int, default=None,
                   help="enrolment-embedding size of a personalized model without example_inputs / emb_dim")
    p.add_argument("--out_dir", required=True, help="where deploy.tsv/json/md (and onnx/) are written")
    return p


def models_to_measure(args):
    """``[(row name, model loader)]`` in the order of the command line: --models, then --arch."""
    todo = [(str(path), lambda path=path: load_model(path)) for path in args.models]
    arch_conf = parse_overrides(args.arch_conf)
    suffix = " (" + ", ".join(args.arch_conf) + ")" if args.arch_conf else " (default size)"
    todo += [(name + suffix, lambda name=name: build_model(name, arch_conf, where="--arch_conf").eval())
             for name in args.arch]
    return todo


def measurements(name, model, spec):
    """``[(row name, module, part)]`` of one model: its parts (``--parts``) then the whole, or the whole."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    have = {n for n, _ in model.named_modules()}
    if not names or names[0] not in have:   # the first part marks a multi-part model (DCCRN has an
        return [(name, model, None)]        # 'encoder' of its own but is not one)
    missing = [n for n in names if n not in have]
    if missing:
        model_parts(model, ",".join(missing))  # the KdError naming them
    found = model_parts(model, spec)
    whole = "+".join(n for n, _ in found)
    return [(f"{name} [{part}]", module, part) for part, module in found] + [(f"{name} [{whole}]", model, whole)]


def onnx_file_name(name):
    """A file name for a row name (``exp/fold1/init_16k`` -> ``exp_fold1_init_16k.onnx``)."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", name).strip("_.") + ".onnx"


def measure_one(args, name, model, part):
    """One row, printed as it is measured."""
    onnx_path = Path(args.out_dir) / "onnx" / onnx_file_name(name) if args.onnx else None
    row = measure_model(name, model, args.seconds, args.sr, args.repeats, onnx_path, args.num_threads,
                        args.onnx_rtol, emb_dim=args.emb_dim, part=part)
    text = (f"{name}: {row['parameters'] / 1e6:.3f} M parameters, {row['macs_per_second'] / 1e6:,.1f} MMAC/s, "
            f"RTF {row['rtf']:.4f} (torch, {args.num_threads} thread)")
    if args.onnx:
        text += f"; ONNX {row['onnx_status']}"
        if row.get("onnx_rtf") is not None:
            text += (f", max abs diff {row['onnx_max_abs_diff']:.2g} (tolerance {row['onnx_tolerance']:.2g}), "
                     f"RTF {row['onnx_rtf']:.4f} (onnxruntime)")
    print(text, flush=True)
    return row


def stream_hops(text):
    """``--stream_hops`` ("1,4") as positive integers; None stays None; a KdError naming a bad entry."""
    if text is None:
        return None
    values = [v.strip() for v in str(text).split(",") if v.strip()]
    if not values or not all(v.isdigit() and int(v) > 0 for v in values):
        raise KdError(f"--stream_hops must be positive integers separated by commas (e.g. 1,4), not {text!r}")
    return list(dict.fromkeys(int(v) for v in values))


def stream_one(args, name, model, hops=None):
    """One streaming row (``hops`` per step), printed as it is measured."""
    suffix = f".stream.k{hops}.onnx" if hops and hops > 1 else ".stream.onnx"
    onnx_path = Path(args.out_dir) / "onnx" / (onnx_file_name(name)[:-len(".onnx")] + suffix)
    row = measure_stream(name, model, args.stream_seconds, args.sr, onnx_path, args.num_threads, args.onnx_rtol,
                         emb_dim=args.emb_dim, repeats=args.repeats, hops=hops)
    if "hop_ms" not in row:
        print(f"{name}: {row['stream_error']}", flush=True)
        return row
    steps = f", {hops} hop{'s' if hops != 1 else ''} a step" if hops else ""
    text = (f"{name} streaming{steps}: hop {row['hop_ms']:g} ms, algorithmic latency {row['latency_ms']:.2f} ms, "
            f"per hop {row['torch_hop_mean_ms']:.2f} / {row['torch_hop_p99_ms']:.2f} ms mean / p99 (torch, {args.num_threads} "
            f"thread), RTF {row['torch_rtf']:.3f}")
    if row.get("onnx_rtf") is not None:
        text += (f"; onnxruntime {row['onnx_hop_mean_ms']:.2f} / {row['onnx_hop_p99_ms']:.2f} ms, RTF "
                 f"{row['onnx_rtf']:.3f}, max abs diff {row['onnx_max_abs_diff']:.2g} (tolerance "
                 f"{row['onnx_tolerance']:.2g})")
    print(f"{text}; {row['stream_status']}", flush=True)
    return row


def main(argv=None):
    args = get_parser().parse_args(argv)
    todo = models_to_measure(args)
    if not todo:
        raise KdError("nothing to measure: give --models and/or --arch")
    if args.seconds <= 0 or args.sr <= 0 or args.num_threads < 1 or args.repeats < 1 or args.stream_seconds <= 0:
        raise KdError("--seconds, --sr, --num_threads, --repeats and --stream_seconds must be positive")
    hops = stream_hops(args.stream_hops)
    torch.set_num_threads(args.num_threads)
    out_dir = Path(args.out_dir)
    rows, stream_rows = [], [] if args.streaming else None
    for index, (name, load) in enumerate(todo, 1):
        log.info("model %d/%d: %s", index, len(todo), name)
        model = load()
        for row_name, module, part in measurements(name, model, args.parts):
            rows.append(measure_one(args, row_name, module, part))
        if args.streaming:
            stream_rows += [stream_one(args, name, model, k) for k in (hops or [None])]
    cond = conditions(args.seconds, args.sr, args.num_threads, args.repeats, args.onnx, args.onnx_rtol,
                      args.stream_seconds if args.streaming else None)
    paths = write_report(out_dir, rows, cond, stream_rows)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    failed = [(r["model"], r["onnx_status"]) for r in rows if str(r.get("onnx_status", "ok")).startswith("FAIL")]
    failed += [(f"{r['model']} streaming", r["stream_status"]) for r in stream_rows or []
               if r["stream_status"].startswith("FAIL")]
    if failed:
        raise KdError("ONNX check failed for " + "; ".join(f"{name} ({status})" for name, status in failed),
                      path=paths["md"])
    return 0


if __name__ == "__main__":
    run_main(main)
