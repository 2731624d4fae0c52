"""The deployment report: ``deploy.tsv`` (one row per model), ``deploy.json`` (rows and conditions) and
``deploy.md`` (a Markdown table with the conditions under it, for a RESULTS.md to include); each
written atomically.  With streaming rows (``kdspeech.deploy.stream_measure``): ``deploy_streaming.tsv``,
a ``streaming`` list in deploy.json and a second table, the streaming latency, in deploy.md."""

import json
import platform
from pathlib import Path

from kdspeech.atomic import atomic_write_text
from kdspeech.deploy.onnx_export import WHOLE_FORWARD
from kdspeech.env import package_version
from kdspeech.models.complexity import NOT_COUNTED
from kdspeech.results import markdown_table

TSV_COLUMNS = ["model", "parameters", "macs_per_second", "macs", "rtf", "latency_ms",
               "onnx_status", "onnx_max_abs_diff", "onnx_tolerance", "onnx_rtf", "onnx_exported", "part"]


STREAM_TSV_COLUMNS = ["model", "hop_ms", "latency_ms", "torch_hop_mean_ms", "torch_hop_p99_ms", "torch_rtf",
                      "onnx_hop_mean_ms", "onnx_hop_p99_ms", "onnx_rtf", "state_numel", "state_bytes", "parameters",
                      "macs_per_second", "onnx_max_abs_diff", "onnx_tolerance", "stream_status"]


def cpu_name():
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def conditions(seconds, sr, num_threads, repeats, onnx, rtol, stream_seconds=None):
    """What every row was measured under (the top level of deploy.json); ``stream_seconds``: the
    streaming rows' audio length, when there are any."""
    versions = {name: package_version(name) for name in ("torch", "onnx", "onnxruntime")}
    cond = {"seconds": seconds, "duration_s": seconds, "sr": sr, "batch": 1, "num_threads": num_threads,
            "repeats": repeats, "cpu": cpu_name(), "onnx": onnx, "onnx_rtol": rtol if onnx else None,
            "macs_not_counted": NOT_COUNTED, "versions": versions}
    if stream_seconds is not None:
        from kdspeech.deploy.stream_measure import WARMUP_HOPS
        cond.update(stream_seconds=stream_seconds, stream_warmup_hops=WARMUP_HOPS, stream_onnx_rtol=rtol)
    return cond


def _tsv_cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("\t", " ").replace("\n", " ")


def to_tsv(rows, columns=TSV_COLUMNS):
    lines = ["\t".join(columns)]
    lines += ["\t".join(_tsv_cell(row.get(c)) for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def _sci(value):
    return "-" if value is None else f"{value:.2g}"


def to_markdown(rows, cond):
    threads = f"{cond['num_threads']} thread{'s' if cond['num_threads'] != 1 else ''}"
    header = ["model", "parameters (M)", "MMAC / s", f"RTF torch ({threads})"]
    if cond["onnx"]:
        header += ["ONNX max abs diff", "tolerance", f"RTF onnxruntime ({threads})", "ONNX check"]
    table = []
    for row in rows:
        cells = [row["model"], f"{row['parameters'] / 1e6:.3f}", f"{row['macs_per_second'] / 1e6:,.1f}",
                 f"{row['rtf']:.4f}"]
        if cond["onnx"]:
            rtf = row.get("onnx_rtf")
            cells += [_sci(row.get("onnx_max_abs_diff")), _sci(row.get("onnx_tolerance")),
                      "-" if rtf is None else f"{rtf:.4f}", row.get("onnx_status", "-")]
        table.append(cells)
    note = (f"Batch 1, {cond['seconds']:g} s of audio at {cond['sr']} Hz, {threads} of {cond['cpu']}, median of "
            f"{cond['repeats']} runs; RTF = compute seconds / audio seconds.  MACs per second of audio count "
            f"convolutions, linear layers, matrix products, attention and recurrent layers "
            f"(kdspeech.models.complexity); {NOT_COUNTED}.")
    if cond["onnx"]:
        v = cond["versions"]
        note += (f"  ONNX: torch.onnx TorchScript exporter (opset 17, torch {v['torch']}), onnxruntime "
                 f"{v['onnxruntime']} on the CPU; an export passes when max |onnxruntime - torch| <= "
                 f"{cond['onnx_rtol']:g} x max |torch output| for every output.")
        hooked = sorted({r["onnx_exported"] for r in rows if r.get("onnx_exported") not in (None, WHOLE_FORWARD)})
        if hooked:
            note += ("  A check marked ok (<what>) exported, compared and timed only the module that the "
                     f"model's export_module hook returns (here: {'; '.join(hooked)}), the STFT and iSTFT "
                     "staying on the host in torch: its onnxruntime RTF is that module's alone.")
    return markdown_table(header, table) + "\n" + note + "\n"


def _ms(value):
    return "-" if value is None else f"{value:.2f}"


def stream_tsv_columns(rows):
    """``STREAM_TSV_COLUMNS``, with ``hops_per_step`` after ``hop_ms`` when the rows have it (``kdspeech.bin.deploy
    --stream_hops``)."""
    if not any("hops_per_step" in r for r in rows):
        return STREAM_TSV_COLUMNS
    at = STREAM_TSV_COLUMNS.index("hop_ms") + 1
    return STREAM_TSV_COLUMNS[:at] + ["hops_per_step"] + STREAM_TSV_COLUMNS[at:]


def stream_markdown(rows, cond):
    """The streaming latency table (one row per model, per hops-per-step with ``--stream_hops``: a
    ``hops / step`` column; a model that cannot stream says why under it)."""
    threads = f"{cond['num_threads']} thread{'s' if cond['num_threads'] != 1 else ''}"
    hops = any("hops_per_step" in r for r in rows)
    header = ["model", "hop (ms)"] + (["hops / step"] if hops else []) + [
              "algorithmic latency (ms)", "torch per hop mean / p99 (ms)", "RTF torch",
              "onnxruntime per hop mean / p99 (ms)", "RTF onnxruntime", "state (KiB)", "parameters (M)",
              "MMAC / s", "ONNX stream max abs diff (tolerance)", "check"]
    table, cannot = [], []
    for row in rows:
        if row["stream_status"] == "cannot stream":
            cannot.append(row.get("stream_error") or row["model"])
            continue
        onnx = row.get("onnx_hop_mean_ms") is not None
        table.append([row["model"], f"{row['hop_ms']:g}"] + ([str(row.get("hops_per_step", 1))] if hops else []) + [
                      f"{row['latency_ms']:.2f}",
                      f"{_ms(row['torch_hop_mean_ms'])} / {_ms(row['torch_hop_p99_ms'])}", f"{row['torch_rtf']:.3f}",
                      f"{_ms(row.get('onnx_hop_mean_ms'))} / {_ms(row.get('onnx_hop_p99_ms'))}" if onnx else "-",
                      f"{row['onnx_rtf']:.3f}" if onnx else "-", f"{row['state_bytes'] / 1024:.1f}",
                      f"{row['parameters'] / 1e6:.3f}", f"{row['macs_per_second'] / 1e6:,.1f}",
                      f"{_sci(row.get('onnx_max_abs_diff'))} ({_sci(row.get('onnx_tolerance'))})",
                      row["stream_status"]])
    seconds = sorted({f"{r['seconds']:g}" for r in rows if r.get("seconds")})
    note = (f"Streaming, batch 1: one hop per step over {' / '.join(seconds) or '-'} s of audio at {cond['sr']} Hz, "
            f"{threads} of {cond['cpu']}; per-hop compute after {cond['stream_warmup_hops']} untimed hops, mean "
            "and 99th percentile; RTF = mean compute per hop / hop.  Algorithmic latency = the adapter's delay "
            "(window + look-ahead; a live stream adds one hop of buffering and the compute).  State: the "
            "adapter's state tensors.  MACs of one steady-state step per second of audio (FFTs not counted; "
            "periodic work, a window embedding every period of steps, averaged over a period: those steps "
            "set the p99).  ONNX: the step with its state as inputs and outputs (kdspeech.deploy.stream_onnx), run "
            "hop by hop in onnxruntime and compared with the torch stream from the delay on (chunk embeddings: "
            f"every one); it passes when max |onnxruntime - torch| <= {cond['stream_onnx_rtol']:g} x max |torch "
            "output|.")
    if hops:
        note = note.replace("one hop per step over", "k hops per step (hops / step) over").replace(
            "RTF = mean compute per hop / hop.  Algorithmic latency = the adapter's delay ",
            "per hop = per step / k; RTF = mean compute per step / (k hops).  Algorithmic latency = the "
            "adapter's delay plus the (k - 1) hops a step waits for ").replace(
            "a live stream adds one hop of buffering", "a live stream adds one step of buffering").replace(
            "run hop by hop in onnxruntime", "run step by step in onnxruntime")
    if cannot:
        note += "  Cannot stream: " + "; ".join(cannot) + "."
    return (markdown_table(header, table) if table else "") + "\n" + note + "\n"


def write_report(out_dir, rows, cond, stream_rows=None):
    """Write deploy.tsv, deploy.json and deploy.md under ``out_dir`` (and deploy_streaming.tsv with
    ``stream_rows``); returns their paths."""
    out_dir = Path(out_dir)
    paths = {"tsv": out_dir / "deploy.tsv", "json": out_dir / "deploy.json", "md": out_dir / "deploy.md"}
    report = {**cond, "models": rows}
    markdown = to_markdown(rows, cond)
    if stream_rows is not None:
        paths["streaming_tsv"] = out_dir / "deploy_streaming.tsv"
        atomic_write_text(paths["streaming_tsv"], to_tsv(stream_rows, stream_tsv_columns(stream_rows)))
        report["streaming"] = stream_rows
        markdown += "\n" + stream_markdown(stream_rows, cond)
    atomic_write_text(paths["tsv"], to_tsv(rows))
    atomic_write_text(paths["json"], json.dumps(report, indent=1) + "\n")
    atomic_write_text(paths["md"], markdown)
    return paths
