"""The deployment report: ``deploy.tsv`` (one row per model), ``deploy.json`` (rows and conditions) and
``deploy.md`` (a Markdown table with the conditions under it, for a RESULTS.md to include); each
written atomically."""

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


def cpu_name():
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def conditions(seconds, sr, num_threads, repeats, onnx, rtol):
    """What every row was measured under (the top level of deploy.json)."""
    versions = {name: package_version(name) for name in ("torch", "onnx", "onnxruntime")}
    return {"seconds": seconds, "duration_s": seconds, "sr": sr, "batch": 1, "num_threads": num_threads,
            "repeats": repeats, "cpu": cpu_name(), "onnx": onnx, "onnx_rtol": rtol if onnx else None,
            "macs_not_counted": NOT_COUNTED, "versions": versions}


def _tsv_cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("\t", " ").replace("\n", " ")


def to_tsv(rows):
    lines = ["\t".join(TSV_COLUMNS)]
    lines += ["\t".join(_tsv_cell(row.get(c)) for c in TSV_COLUMNS) for row in rows]
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


def write_report(out_dir, rows, cond):
    """Write deploy.tsv, deploy.json and deploy.md under ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    paths = {"tsv": out_dir / "deploy.tsv", "json": out_dir / "deploy.json", "md": out_dir / "deploy.md"}
    atomic_write_text(paths["tsv"], to_tsv(rows))
    atomic_write_text(paths["json"], json.dumps({**cond, "models": rows}, indent=1) + "\n")
    atomic_write_text(paths["md"], to_markdown(rows, cond))
    return paths
