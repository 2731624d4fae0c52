"""The paper's numbers in a classification RESULTS.md (``--paper``: layout in
``egs/esc50/cls/conf/paper.yaml``) and the sections that set ours beside them: Table 2 (per-class
accuracy before/after CSSD), section 5.3 (ablations) and Table 3 (privacy WER, battery life).
"""

import json
import re
from pathlib import Path

from kdspeech.atomic import atomic_write_text
from kdspeech.report.cls_runs import ABLATIONS, pct_cell, pct_stats, pooled_per_class
from kdspeech.results import link_from, markdown_table


def paper_value(paper, section, arch, key):
    """A paper number in % (None: not reported; "TODO": not filled in)."""
    table = (paper or {}).get(section, paper if section == "table1" else {}) or {}
    value = (table.get(arch) or {}).get(key)
    if value is None or value == "TODO":
        return value
    return float(value) * (100.0 if (paper or {}).get("scale") == "fraction" else 1.0)


def reported_in(system):
    """The paper section that holds a system's numbers: section 5.3 for the ablations, else Table 1."""
    return "section53" if system in {name for name, _, _ in ABLATIONS} else "table1"


def paper_cell(paper, arch, key, section="table1"):
    value = paper_value(paper, section, arch, key)
    return "n/r" if value is None else value if value == "TODO" else f"{value:.1f}"


def _norm(name):
    return re.sub(r"[\s_-]+", " ", str(name).strip().lower())


def class_sections(arch, runs, folds, rates, paper, plot_dir, results_path):
    """Table 2: per-class accuracy before/after CSSD (pooled), beside the paper's classes found here
    (the per-class TSV named by its path from ``results_path``)."""
    dirs = [d for _, d in runs]
    out, ours = [], {}
    for r in rates:
        before, after = pooled_per_class(dirs, folds, f"ft_{r}", r), pooled_per_class(dirs, folds, f"cssd_{r}", r)
        ours[r] = (before, after)
        diff = sorted(before, key=lambda c: after[c] - before[c], reverse=True)
        lines = ["class\tfine_tuned\tcssd\tchange"] + [f"{c}\t{before[c]:.4f}\t{after[c]:.4f}\t{after[c] - before[c]:+.4f}"
                                                       for c in diff]
        atomic_write_text(Path(plot_dir) / f"per_class_{r}.tsv", "\n".join(lines) + "\n")
        show = diff[:5] + [c for c in diff[-5:] if c not in diff[:5]]
        rows = [[c, f"{100 * before[c]:.1f}", f"{100 * after[c]:.1f}", f"{100 * (after[c] - before[c]):+.1f}"] for c in show]
        out.append((f"Per-class accuracy before and after CSSD at {r // 1000} kHz (Table 2; {arch or 'the model'}, "
                    f"pooled over folds{' and seeds' if len(dirs) > 1 else ''}, 5 largest gains and losses; all classes "
                    f"in {link_from(results_path, Path(plot_dir) / f'per_class_{r}.tsv')})",
                    markdown_table(["class", "fine-tuned (%)", "CSSD (%)", "change"], rows)))
    t2 = (paper or {}).get("table2") or {}
    if t2.get("classes"):
        names = {_norm(c): c for c in ours[rates[0]][0]}
        rows = []
        for pc, cells in t2["classes"].items():
            c = names.get(_norm(pc))
            for r in rates:
                pf, pcs = cells.get(f"ft_{r}"), cells.get(f"cssd_{r}")
                if c is None or pf is None:
                    continue
                b, a = ours[r][0][c], ours[r][1][c]
                rows.append([c, f"{r // 1000} kHz", f"{100 * b:.1f}", f"{100 * a:.1f}", f"{100 * (a - b):+.1f}",
                             f"{100 * pf:.0f}", f"{100 * pcs:.0f}", f"{100 * (pcs - pf):+.0f}"])
        text = (f"Ours: {arch or 'the model'} pooled over the test clips of every fold; paper: {t2.get('arch')} "
                "averaged over its 5 folds (two decimals as printed).\n\n")
        text += (markdown_table(["class", "rate", "fine-tuned (ours)", "CSSD (ours)", "change (ours)",
                                 "fine-tuned (paper)", "CSSD (paper)", "change (paper)"], rows) if rows else
                 "None of the paper's Table 2 classes (" + ", ".join(t2["classes"]) + ") is a class of this corpus.")
        out.append(("Table 2 classes of the paper, ours beside theirs", text))
    return out


def section53(per_arch, rates, paper):
    """Section 5.3 of the paper (extra BASD generation, lower-rate teacher) beside our ablations."""
    lo = min(rates)
    hi = [r for r in rates if r > lo]
    keys = [("basd", lo, "BASD, first generation"), ("basd2", lo, "BASD, second generation")]
    for r in hi:
        keys += [("ft", r, "fine-tuned"), ("cssd", r, "CSSD (16 kHz teacher)"),
                 ("cssdlow", r, f"{lo // 1000} kHz fine-tuned model as teacher")]
    sec = (paper or {}).get("section53") or {}
    parch = next(iter(sec), None)
    header = ["system", "rate"] + [f"ours ({a})" for a in per_arch] + ([f"paper ({parch})"] if parch else [])
    rows = []
    for name, r, label in keys:
        row = [label, f"{r // 1000} kHz"] + [pct_cell(*pct_stats(v[(name, r)].values())) if (name, r) in v else "-"
                                             for v in per_arch.values()]
        if parch:
            row.append(paper_cell(paper, parch, f"{name}_{r}", reported_in(name)))
        rows.append(row)
    return ("Section 5.3: extra BASD generation and a lower-rate teacher (ours: mean ± std over folds x seeds)",
            markdown_table(header, rows))


def privacy_section(path, paper):
    """Table 3: WER (%) by microphone rate of every ASR backend, the paper's human WER and battery hours."""
    wer = json.loads(Path(path).read_text())
    backends = wer["backends"] if "backends" in wer else {"pocketsphinx": wer}  # single-backend wer.json
    t3 = (paper or {}).get("table3") or {}
    human = {int(k): v for k, v in (t3.get("wer_human_percent") or {}).items()}
    rates = sorted({int(r) for b in backends.values() for src in b.values() for r in src} | set(human), reverse=True)
    rows = []
    if human:
        rows.append(["human listeners (paper: LibriSpeech, 3 clips per rate)"]
                    + [f"{human[r]:.1f}" if r in human else "-" for r in rates] + ["9"])
    for backend, sources in backends.items():
        for src, by_rate in sources.items():
            rows.append([f"{backend}: {src}"] + [f"{100 * by_rate[str(r)]['wer']:.1f}" if str(r) in by_rate else "-"
                                                 for r in rates] + [next(iter(by_rate.values()))["num_utts"]])
    text = markdown_table(["speech (recogniser: corpus)"] + [f"{r / 1000:g} kHz" for r in rates] + ["utterances"], rows)
    paired_rows = privacy_paired_rows(backends, wer.get("speakers") or {})
    if paired_rows:
        text += ("\nEach lower rate against the highest, on the same utterances: the difference of corpus WERs "
                 "(percentage points) with a bootstrap 95 % CI (over speakers where a corpus has several "
                 "utterances per speaker, else over utterances) and the two-sided Wilcoxon p on per-utterance "
                 "word errors (kdspeech.metrics.paired_rate).\n\n"
                 + markdown_table(["speech (recogniser: corpus)", "rate", "utterances", "WER at the highest rate",
                                   "WER at this rate", "difference [95 % CI]", "p (Wilcoxon)", "verdict"],
                                  paired_rows))
    battery = {int(k): v for k, v in (t3.get("battery_hours") or {}).items()}
    if battery:
        text += "\n" + markdown_table(["battery life, 300 mAh (hours)"] + [f"{r / 1000:g} kHz" for r in rates],
                                      [["paper (Apollo3 + SPH064 microphone)"] + [f"{battery[r]:.1f}" if r in battery
                                                                                   else "-" for r in rates],
                                       ["ours"] + ["not measured"] * len(rates)])
    return ("Table 3: privacy (WER of speech heard through each microphone rate, %) and power", text)


def privacy_paired_rows(backends, speakers):
    """Rows of WER at each lower rate minus WER at the highest rate of a backend and corpus, from
    ``privacy_wer``'s per-utterance counts (none for a wer.json written without them)."""
    from kdspeech.metrics.paired import format_diff, format_p
    from kdspeech.metrics.paired_rate import compare_rate_maps
    from kdspeech.report.paired_metric import repeated_speakers

    rows = []
    for backend, sources in backends.items():
        for src, by_rate in sources.items():
            measured = sorted((int(r) for r in by_rate if "utterances" in by_rate[r]), reverse=True)
            if len(measured) < 2:
                continue
            top = by_rate[str(measured[0])]["utterances"]
            for rate in measured[1:]:
                low = by_rate[str(rate)]["utterances"]
                result = compare_rate_maps({u: e for u, (e, _) in low.items()}, {u: e for u, (e, _) in top.items()},
                                           [{u: n for u, (_, n) in low.items()}, {u: n for u, (_, n) in top.items()}],
                                           groups=repeated_speakers(speakers.get(src)), seeds=0)
                rows.append([f"{backend}: {src}", f"{rate / 1000:g} vs {measured[0] / 1000:g} kHz", result.n,
                             f"{100 * result.mean_baseline:.1f}", f"{100 * result.mean_system:.1f}",
                             format_diff(result, scale=100.0, digits=1), format_p(result.p_value), result.verdict])
    return rows


def artifacts_section(paper):
    """What looks wrong or inconsistent in the paper's extracted numbers (its YAML's ``artifacts``)."""
    return ("The paper's numbers: extraction artifacts and inconsistencies",
            "\n".join(f"- {a}" for a in paper["artifacts"]))
