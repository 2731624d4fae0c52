"""Deployment figures of the PSE systems from ``kdspeech.bin.deploy``'s deploy.json: the row of each
system (Table I's parameters and MACs) and the deployment table, followed by the streaming latency table
when the deployment stage streamed the models (``--streaming``: deploy.json's ``streaming`` rows, laid
out by ``kdspeech.deploy.report.stream_markdown``, the table of every recipe's deploy.md).
"""

import json
import os

from kdspeech.deploy.report import stream_markdown
from kdspeech.errors import KdError
from kdspeech.results import markdown_table


def deploy_rows(path, mapping, systems=()):
    """``({system: deploy row}, all rows, conditions)`` from deploy.json.  A system not in ``mapping``
    takes the row of its exp dir (``.../<system>``), its whole ``[enhancer+encoder]`` row when it has parts."""
    if not path:
        return {}, [], {}
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, ValueError) as err:
        raise KdError(f"cannot read the deployment report ({err})", path) from None
    rows = {row["model"]: row for row in report["models"]}
    out = {}
    for system, model in mapping.items():
        if model not in rows:
            raise KdError(f"--deploy_row {system}={model}: no such row (rows: {', '.join(rows)})", path)
        out[system] = rows[model]
    for system in systems:
        if system in out:
            continue
        mine = [m for m in rows if os.path.basename(m.split(" [")[0]) == system]
        whole = [m for m in mine if m.endswith("[enhancer+encoder]")] or [m for m in mine if " [" not in m]
        if len(whole) == 1:
            out[system] = rows[whole[0]]
    return out, report["models"], report


def deployment_section(rows, report):
    table = [[r["model"], r.get("part", "-"), r["parameters"] / 1e6, r["macs_per_second"] / 1e9, r["rtf"],
              r.get("onnx_status", "-"), r.get("onnx_max_abs_diff"), r.get("onnx_rtf")] for r in rows]
    threads = report.get("num_threads")
    text = markdown_table(["model", "part", "params (M)", "MACs (G/s)", f"RTF torch ({threads} thread)",
                           "ONNX check", "ONNX max abs diff", f"RTF onnxruntime ({threads} thread)"], table,
                          floatfmt=".4g")
    text += (f"\nBatch 1, {report.get('seconds')} s at {report.get('sr')} Hz on {report.get('cpu')}, median "
             f"of {report.get('repeats')} runs (kdspeech.bin.deploy).\n")
    if report.get("streaming"):
        text += "\n" + stream_markdown(report["streaming"], report)
    return text
