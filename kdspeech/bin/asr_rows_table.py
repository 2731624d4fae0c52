"""The WER/CER table of the rows of egs/TEMPLATE/enh_asr/enh_asr.sh (stage 6): one line per row (an ASR
training approach: a front end or none, and a recogniser), one column per test set and metric, each
cell the pooled rate over the set's utterances (errors over reference words or characters, as
``summary.json`` of ``kdspeech.bin.score`` has it), in percent.

    python -m kdspeech.bin.asr_rows_table --exp exp --rows "mct_noisy joint_straight" --sets "test" \\
        --out exp/results/asr_rows.md

Reads ``<exp>/rows/<row>/score_asr_<set>/summary.json``; a missing one is a KdError naming the file
and the stage that makes it.
"""

import argparse
import json
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.errors import KdError


def rates(exp, row, test_set):
    path = Path(exp) / "rows" / row / f"score_asr_{test_set}" / "summary.json"
    if not path.exists():
        raise KdError("no scores of this row (enh_asr.sh stage 5 writes them)", path=path)
    summary = json.loads(path.read_text())
    return {m: summary["overall"].get(m) for m in summary["metrics"]}, summary["n"]


def table(exp, rows, sets):
    cells = {(r, s): rates(exp, r, s) for r in rows for s in sets}
    metrics = [m for m in ("wer", "cer") if all(m in cells[k][0] for k in cells)]
    head = ["row"] + [f"{s} {m.upper()} (%)" for s in sets for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        values = []
        for s in sets:
            found = cells[(r, s)][0]
            values += ["-" if found[m] is None else f"{100 * found[m]:.2f}" for m in metrics]
        lines.append("| " + " | ".join([r] + values) + " |")
    counts = ", ".join(f"{s}: {cells[(rows[0], s)][1]}" for s in sets)
    return "\n".join(["# ASR training approaches: WER/CER", "", f"Utterances per test set: {counts}.", ""]
                     + lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True, help="the recipe's exp dir")
    p.add_argument("--rows", required=True, help="row names, blank-separated")
    p.add_argument("--sets", required=True, help="test set names, blank-separated")
    p.add_argument("--out", required=True, help="markdown file to write")
    args = p.parse_args(argv)
    text = table(args.exp, args.rows.split(), args.sets.split())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    print(text, end="")


if __name__ == "__main__":
    run_main(main)
