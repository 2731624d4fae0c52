#!/usr/bin/env python3
"""The paper's table layouts (Charishma, draft) from this recipe's score dirs -> one markdown file.

    local/make_tables.py --exp exp --set test --models "noisy wiener conformer_teacher student_lr ... clean" \
        --backends "pocketsphinx moonshine" --out results/tables.md

Reads ``exp/<model>/score_<set>/scores.tsv`` (quality) and ``exp/<model>/score_asr_<set>`` (first
backend, written by enh.sh) or ``score_asr_<backend>_<set>`` (others).  WER/CER are corpus figures
(sum of errors / sum of reference words or characters) per evaluation subset (the speaker prefix of
the mixture's utt2spk: an4, speechbrain, mini_ljspeech) and over all; quality figures are means.
Paired tests (Wilcoxon signed-rank, bootstrap 95 % CI of the mean difference; kdspeech.metrics.paired)
compare each distilled student with the student trained with L_r only, per utterance.
"""

import argparse
import math
from pathlib import Path

from kdspeech.data.datadir import read_kv
from kdspeech.metrics.paired import compare, format_p
from kdspeech.metrics.scores import read_scores

SUBSETS = ("an4", "speechbrain", "mini_ljspeech")
LABELS = {
    "noisy": "no enhancement (noisy input)",
    "wiener": "Wiener filter (classical)",
    "conformer_teacher": "Conformer teacher",
    "student_lr": "DCCRN student, L_r only (no KD)",
    "student_le": "DCCRN + L_e",
    "student_ld": "DCCRN + L_d",
    "student_le_ld": "DCCRN + L_e + L_d (proposed)",
    "student_df": "DCCRN distilled from DeepFilterNet3",
    "clean": "clean reference speech",
}
ABLATION = [("student_lr", "x", "", ""), ("student_le", "x", "x", ""), ("student_ld", "x", "", "x"),
            ("student_le_ld", "x", "x", "x")]
QUALITY = [("pesq_wb", "PESQ", 2), ("stoi", "STOI", 3), ("csig", "CSIG", 2), ("cbak", "CBAK", 2),
           ("covl", "COVL", 2), ("sdr", "SDR", 2), ("si_sdr", "SI-SDR", 2), ("seg_snr", "segSNR", 2)]
PAIRED = ["student_le", "student_ld", "student_le_ld", "student_df"]


def rows_of(path):
    if not (path / "scores.tsv").is_file():
        return None
    columns, rows = read_scores(path / "scores.tsv")
    return {u: dict(zip(columns, v)) for u, v in rows.items()}


def asr_dir(exp, model, backend, first, name):
    return exp / model / (f"score_asr_{name}" if backend == first else f"score_asr_{backend}_{name}")


def rate(rows, utts, kind):
    err = sum(rows[u][f"{kind}_errors"] for u in utts if u in rows)
    n = sum(rows[u][f"{kind}_words" if kind == "wer" else f"{kind}_chars"] for u in utts if u in rows)
    return 100.0 * err / n if n else float("nan")


def fmt(x, digits=2):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def asr_table(exp, models, backend, first, name, groups):
    head = ["system"] + [f"CER {g}" for g in SUBSETS] + ["CER all"] + [f"WER {g}" for g in SUBSETS] + ["WER all"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in models:
        rows = rows_of(asr_dir(exp, m, backend, first, name))
        if rows is None:
            continue
        cells = [LABELS.get(m, m)]
        for kind in ("cer", "wer"):
            cells += [fmt(rate(rows, groups[g], kind)) for g in SUBSETS] + [fmt(rate(rows, list(rows), kind))]
        out.append("| " + " | ".join(cells) + " |")
    return out


def by_snr_table(exp, models, backends, first, name, snr):
    levels = sorted({float(v) for v in snr.values()})
    head = ["system"] + [f"WER {b} {lv:g} dB" for b in backends for lv in levels]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in models:
        cells = [LABELS.get(m, m)]
        for b in backends:
            rows = rows_of(asr_dir(exp, m, b, first, name))
            for lv in levels:
                utts = [u for u, v in snr.items() if float(v) == lv]
                cells.append(fmt(rate(rows, utts, "wer")) if rows else "-")
        out.append("| " + " | ".join(cells) + " |")
    return out


def quality_table(exp, models, name, ablation=False):
    head = (["system", "L_r", "L_e", "L_d"] if ablation else ["system"]) + [q[1] for q in QUALITY]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    entries = ABLATION if ablation else [(m, None, None, None) for m in models]
    for m, *flags in entries:
        rows = rows_of(exp / m / f"score_{name}")
        if rows is None:
            continue
        cells = [LABELS.get(m, m)] + (list(flags) if ablation else [])
        for key, _, digits in QUALITY:
            vals = [r[key] for r in rows.values() if key in r and not math.isnan(r[key])]
            cells.append(fmt(sum(vals) / len(vals), digits) if vals else "-")
        out.append("| " + " | ".join(cells) + " |")
    return out


def ablation_asr(exp, backend, first, name, groups):
    head = ["L_r", "L_e", "L_d"] + [f"CER {g}" for g in SUBSETS] + ["CER all"] + [f"WER {g}" for g in SUBSETS] + ["WER all"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m, *flags in ABLATION:
        rows = rows_of(asr_dir(exp, m, backend, first, name))
        if rows is None:
            continue
        cells = list(flags)
        for kind in ("cer", "wer"):
            cells += [fmt(rate(rows, groups[g], kind)) for g in SUBSETS] + [fmt(rate(rows, list(rows), kind))]
        out.append("| " + " | ".join(cells) + " |")
    return out


def paired_table(exp, backends, first, name, base="student_lr"):
    head = ["system - " + LABELS[base], "figure", "n", "mean diff", "95 % CI", "Wilcoxon p"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    figures = [(b, "wer_errors", f"word errors per utt ({b})") for b in backends] + \
              [(None, k, label) for k, label in (("pesq_wb", "PESQ"), ("stoi", "STOI"), ("si_sdr", "SI-SDR"))]
    for m in PAIRED:
        for backend, key, label in figures:
            if backend:
                a, b = rows_of(asr_dir(exp, m, backend, first, name)), rows_of(asr_dir(exp, base, backend, first, name))
            else:
                a, b = rows_of(exp / m / f"score_{name}"), rows_of(exp / base / f"score_{name}")
            utts = sorted(set(a or {}) & set(b or {}))
            if not utts or key not in a[utts[0]] or key not in b[utts[0]]:
                continue   # not scored (a metric left out of --metrics, a backend not run on this system)
            r = compare([a[u][key] for u in utts], [b[u][key] for u in utts])
            out.append(f"| {LABELS[m]} | {label} | {r.n} | {r.mean_diff:+.3f} | [{r.ci_low:+.3f}, {r.ci_high:+.3f}] "
                       f"| {format_p(r.p_value)} |")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--exp", default="exp")
    p.add_argument("--mix", default="dump/mix")
    p.add_argument("--set", default="test")
    p.add_argument("--models", required=True)
    p.add_argument("--backends", default="pocketsphinx moonshine")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    exp, name = Path(args.exp), args.set
    models, backends = args.models.split(), args.backends.split()
    first = backends[0]
    spk = read_kv(Path(args.mix) / name / "utt2spk")
    snr = read_kv(Path(args.mix) / name / "utt2snr")
    groups = {g: [u for u, s in spk.items() if s.startswith(g + "-")] for g in SUBSETS}
    lines = [f"<!-- written by local/make_tables.py from {exp}/*/score*_{name} -->", ""]
    for b in backends:
        lines += [f"### WER / CER (%) by evaluation subset, ASR backend {b} (Table 1/3 layout)", ""]
        lines += asr_table(exp, models, b, first, name, groups) + [""]
    lines += ["### WER (%) by SNR of the test mixtures", ""]
    lines += by_snr_table(exp, models, backends, first, name, snr) + [""]
    lines += ["### Speech quality and noise reduction (Table 5/6 layout; means over the test mixtures)", ""]
    lines += quality_table(exp, [m for m in models if m != "clean"], name) + [""]
    for b in backends:
        lines += [f"### Loss ablation, ASR ({b}; Table 7/8 layout)", ""]
        lines += ablation_asr(exp, b, first, name, groups) + [""]
    lines += ["### Loss ablation, quality (Table 9/10 layout)", ""]
    lines += quality_table(exp, models, name, ablation=True) + [""]
    lines += ["### Paired tests: distilled students against the student without KD (per utterance)", ""]
    lines += paired_table(exp, backends, first, name) + [""]
    deploy = exp / "deploy" / "deploy.md"
    if deploy.is_file():
        lines += ["### Teacher vs student: size and latency (kdspeech.bin.deploy)", "", deploy.read_text().strip(), ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"{out} written")


if __name__ == "__main__":
    main()
