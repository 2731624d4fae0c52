#!/usr/bin/env python3
"""The paper's table layouts (Charishma, draft) from this recipe's score dirs -> one markdown file.

    local/make_tables.py --exp exp --set test --models "noisy wiener conformer_teacher student_lr ... clean" \
        --backends "pocketsphinx moonshine" --out results/tables.md

Reads ``exp/<model>/score_<set>/scores.tsv`` (quality) and ``exp/<model>/score_asr_<set>`` (first
backend, written by enh.sh) or ``score_asr_<backend>_<set>`` (others).  WER/CER are corpus figures
(``kdspeech.report.score_dirs.figure``: total errors / total reference words or characters) per
evaluation subset (the speaker prefix of the mixture's utt2spk: an4, speechbrain, mini_ljspeech) and
over all; quality figures are means.  Every row of a table is computed on the utterances all its
systems scored (column ``utts``).  Paired tests compare each distilled student with the student
trained with L_r only (``kdspeech.report.paired_metric.compare_metric``): WER as the difference of
corpus WERs with a bootstrap 95 % CI over the test speakers (utt2spk; over utterances when each
speaker has one) and a Wilcoxon signed-rank test on per-utterance word errors, quality figures as
mean per-utterance differences.

With ``--seeds "1 2 3"`` (run.sh's ``--seeds``), a trained system's figure is the mean of its seeds'
figures (seed k > first lives in ``exp/<model>_seed<k>``, utils/seeds.sh) and a paired test resamples
the seeds, then the test speakers or utterances (``kdspeech.metrics.paired``: a verdict needs 3 seeds).
"""

import argparse
import math
from pathlib import Path

import numpy as np

from kdspeech.data.datadir import read_kv
from kdspeech.metrics.paired import format_diff, format_p, format_per_seed
from kdspeech.report.paired_metric import compare_metric, speaker_groups
from kdspeech.report.score_dirs import figure, read_utterance_scores

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
    "deepfilternet3": "DeepFilterNet3 (pretrained teacher, 48 kHz inside)",
    "clean": "clean reference speech",
}
ABLATION = [("student_lr", "x", "", ""), ("student_le", "x", "x", ""), ("student_ld", "x", "", "x"),
            ("student_le_ld", "x", "x", "x")]
QUALITY = [("pesq_wb", "PESQ", 2), ("stoi", "STOI", 3), ("csig", "CSIG", 2), ("cbak", "CBAK", 2),
           ("covl", "COVL", 2), ("sdr", "SDR", 2), ("si_sdr", "SI-SDR", 2), ("seg_snr", "segSNR", 2)]
PAIRED = ["student_le", "student_ld", "student_le_ld", "student_df"]
RATE_HEAD = [f"{k} {g}" for k in ("CER", "WER") for g in (*SUBSETS, "all")] + ["utts"]


def scores_of(path):
    """``{column: {utt: value}}`` of a score dir (``None`` when it was not scored)."""
    return read_utterance_scores([path]) if (path / "scores.tsv").is_file() else None


def seed_runs(exp, model, seeds):
    """The exp dirs of ``model``'s training seeds: ``model`` (the first seed) and each
    ``model_seed<k>`` of the later ``seeds`` that exists (a model that is not trained has none)."""
    return [model] + [f"{model}_seed{k}" for k in seeds[1:] if (exp / f"{model}_seed{k}").is_dir()]


def run_scores(exp, model, seeds, score_dir):
    """``[scores of each seed]`` from ``exp/<run>/<score_dir>``; ``None`` when a seed was not scored."""
    runs = [scores_of(exp / run / score_dir) for run in seed_runs(exp, model, seeds)]
    return None if any(r is None for r in runs) else runs


def seed_mean(runs, fn):
    """The mean over the seeds' ``runs`` of ``fn(scores)`` (``None`` when a seed has no figure)."""
    values = [fn(r) for r in runs]
    return None if any(v is None for v in values) else float(np.mean(values))


def asr_name(backend, first, name):
    """The score dir of ``backend``'s WER / CER (enh.sh's stage 7 writes the first backend's)."""
    return f"score_asr_{name}" if backend == first else f"score_asr_{backend}_{name}"


def common_utts(scored, column=None):
    """The utterances every scored system of a table has a score for (in ``column``, or in any column):
    every row of the table is computed on them, so that rows compare like with like."""
    runs = [r for s in scored if s is not None for r in s]
    sets = [set(r[column]) if column else set().union(*r.values()) for r in runs
            if column is None or column in r]
    return set.intersection(*sets) if sets else set()


def pct(scores, metric, utts):
    """WER / CER (%) of ``utts``: the corpus rate (``score_dirs.figure``: total errors / total reference
    words or characters)."""
    value = figure(scores, metric, sorted(utts))
    return None if value is None else 100.0 * value


def fmt(x, digits=2):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def rate_rows(entries, scored, groups):
    """``rows``: CER and WER (%) per evaluation subset and over all, of each ``(model, first cells)`` in
    ``entries`` whose ASR scores exist (``scored[model]``: its seeds' scores), on the utterances all of
    them scored; a trained system's figure is the mean of its seeds' corpus rates."""
    utts = common_utts([scored[m] for m, _ in entries], "wer")
    rows = []
    for m, cells in entries:
        if scored[m] is None:
            continue
        for kind in ("cer", "wer"):
            cells = cells + [fmt(seed_mean(scored[m], lambda r: pct(r, kind, utts & set(groups[g]))))
                             for g in SUBSETS]
            cells.append(fmt(seed_mean(scored[m], lambda r: pct(r, kind, utts))))
        rows.append(cells + [str(len(utts))])
    return rows


def table(head, rows):
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def asr_table(exp, models, seeds, score_dir, groups):
    scored = {m: run_scores(exp, m, seeds, score_dir) for m in models}
    return table(["system"] + RATE_HEAD, rate_rows([(m, [LABELS.get(m, m)]) for m in models], scored, groups))


def by_snr_table(exp, models, seeds, backends, first, name, snr):
    levels = sorted({float(v) for v in snr.values()})
    head = ["system"] + [f"WER {b} {lv:g} dB" for b in backends for lv in levels] + ["utts"]
    per_backend = {b: {m: run_scores(exp, m, seeds, asr_name(b, first, name)) for m in models} for b in backends}
    common = {b: common_utts(per_backend[b].values(), "wer") for b in backends}
    rows = []
    for m in models:
        cells = [LABELS.get(m, m)]
        for b in backends:
            runs = per_backend[b][m]
            for lv in levels:
                utts = {u for u in common[b] if float(snr[u]) == lv}
                cells.append(fmt(seed_mean(runs, lambda r: pct(r, "wer", utts))) if runs else "-")
        rows.append(cells + [" / ".join(str(len(common[b])) for b in backends)])
    return table(head, rows)


def quality_table(exp, models, seeds, name, ablation=False):
    head = (["system", "L_r", "L_e", "L_d"] if ablation else ["system"]) + [q[1] for q in QUALITY] + ["utts"]
    entries = ABLATION if ablation else [(m, None, None, None) for m in models]
    scored = {m: run_scores(exp, m, seeds, f"score_{name}") for m, *_ in entries}
    utts = sorted(common_utts(scored.values()))
    rows = []
    for m, *flags in entries:
        if scored[m] is None:
            continue
        cells = [LABELS.get(m, m)] + (list(flags) if ablation else [])
        cells += [fmt(seed_mean(scored[m], lambda r: figure(r, key, utts)), digits) for key, _, digits in QUALITY]
        rows.append(cells + [str(len(utts))])
    return table(head, rows)


def ablation_asr(exp, seeds, score_dir, groups):
    scored = {m: run_scores(exp, m, seeds, score_dir) for m, *_ in ABLATION}
    return table(["L_r", "L_e", "L_d"] + RATE_HEAD, rate_rows([(m, list(flags)) for m, *flags in ABLATION],
                                                               scored, groups))


def paired_table(exp, seeds, backends, first, name, speakers, base="student_lr"):
    """Each distilled student minus the student without KD: WER as the difference of corpus WERs (%)
    (``kdspeech.metrics.paired_rate.compare_rate``: bootstrap over the seeds, then over speakers when
    the test speakers have several utterances; Wilcoxon on per-utterance word errors), quality as mean
    differences; each seed's difference beside it."""
    head = ["system - " + LABELS[base], "figure", "seeds", "n", "B", "A", "A - B [95 % CI]", "per seed",
            "Wilcoxon p", "verdict"]
    figures = [(asr_name(b, first, name), "wer", f"WER (%, {b})", 100.0) for b in backends] + \
              [(f"score_{name}", k, label, 1.0) for k, label in (("pesq_wb", "PESQ"), ("stoi", "STOI"),
                                                                 ("si_sdr", "SI-SDR"))]
    rows = []
    for m in PAIRED:
        for score_dir, key, label, scale in figures:
            a, b = run_scores(exp, m, seeds, score_dir), run_scores(exp, base, seeds, score_dir)
            if a and b and len(a) != len(b):
                raise SystemExit(f"make_tables.py: {m} has {len(a)} trained seeds in {exp}, {base} {len(b)}: "
                                 "a paired test matches them seed by seed")
            r = compare_metric(a, b, key, groups=speakers) if a and b else None
            if r is None or not r.n:
                continue   # not scored (a metric left out of --metrics, a backend not run on this system)
            rows.append([LABELS[m], label, str(len(a)), str(r.n), fmt(scale * r.mean_baseline, 3),
                         fmt(scale * r.mean_system, 3), format_diff(r, scale), format_per_seed(r, scale),
                         format_p(r.p_value), r.verdict])
    return table(head, rows)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--exp", default="exp")
    p.add_argument("--mix", default="dump/mix")
    p.add_argument("--set", default="test")
    p.add_argument("--models", required=True)
    p.add_argument("--seeds", default="", help="training seeds of the systems, e.g. '1 2 3' (run.sh's --seeds)")
    p.add_argument("--backends", default="pocketsphinx moonshine")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    exp, name = Path(args.exp), args.set
    models, backends, seeds = args.models.split(), args.backends.split(), args.seeds.split()
    first = backends[0]
    spk = read_kv(Path(args.mix) / name / "utt2spk")
    snr = read_kv(Path(args.mix) / name / "utt2snr")
    groups = {g: [u for u, s in spk.items() if s.startswith(g + "-")] for g in SUBSETS}
    lines = [f"<!-- written by local/make_tables.py from {exp}/*/score*_{name} -->", ""]
    if len(seeds) > 1:
        lines += [f"Trained systems: the mean of their figures at training seeds {', '.join(seeds)}; paired "
                  "tests resample the seeds, then the test speakers or utterances.", ""]
    for b in backends:
        lines += [f"### WER / CER (%) by evaluation subset, ASR backend {b} (Table 1/3 layout)", ""]
        lines += asr_table(exp, models, seeds, asr_name(b, first, name), groups) + [""]
    lines += ["### WER (%) by SNR of the test mixtures", ""]
    lines += by_snr_table(exp, models, seeds, backends, first, name, snr) + [""]
    lines += ["### Speech quality and noise reduction (Table 5/6 layout; means over the test mixtures)", ""]
    lines += quality_table(exp, [m for m in models if m != "clean"], seeds, name) + [""]
    for b in backends:
        lines += [f"### Loss ablation, ASR ({b}; Table 7/8 layout)", ""]
        lines += ablation_asr(exp, seeds, asr_name(b, first, name), groups) + [""]
    lines += ["### Loss ablation, quality (Table 9/10 layout)", ""]
    lines += quality_table(exp, models, seeds, name, ablation=True) + [""]
    lines += ["### Paired tests: distilled students against the student without KD", ""]
    lines += paired_table(exp, seeds, backends, first, name, speaker_groups(Path(args.mix) / name)) + [""]
    deploy = exp / "deploy" / "deploy.md"
    if deploy.is_file():
        lines += ["### Teacher vs student: size and latency (kdspeech.bin.deploy)", "", deploy.read_text().strip(), ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"{out} written")


if __name__ == "__main__":
    main()
