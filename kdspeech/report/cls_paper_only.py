"""A classification RESULTS.md before any run: the paper's numbers alone (``make_results_cls --paper_only``).

For a recipe whose corpus is not at hand (the paper's TAU-2019-Mobile or user data), so that a reader
sees what a run is to be set against: Table 1 per architecture, the paper's Table 2 classes, section
5.3 and Table 3 with the headings of a run's RESULTS.md, and the reason nothing was run above them.
"""

from kdspeech.report.cls_paper import artifacts_section, paper_cell
from kdspeech.report.cls_runs import FULL, SYSTEMS
from kdspeech.results import markdown_table

NOT_RUN = "not run"


def table1(paper, rates):
    """Rows ``[architecture, system, <rate> ...]`` of the paper's Table 1 (with the 16 kHz reference)."""
    rows = []
    for arch in paper.get("table1") or {}:
        for name, label in [("full", "16 kHz model at 16 kHz (upper reference)")] + [(n, l) for n, _, l in SYSTEMS]:
            cells = [paper_cell(paper, arch, "init_16k_16000" if name == "full" else f"{name}_{r}") for r in rates]
            if any(c != "n/r" for c in cells):
                rows.append([arch, label] + cells)
    return rows


def paper_sections(paper, rates, reason):
    """The sections of a RESULTS.md with the paper's numbers only; ``reason`` says why nothing ran."""
    metric = str(paper.get("metric", "metric")).replace("_", " ").replace("f1", "F1")
    header = [f"{r // 1000} kHz (paper)" for r in rates]
    out = [(f"Table 1 of the paper: {metric} (%) on {paper.get('dataset', 'this corpus')}",
            f"{reason}\n\n" + markdown_table(["architecture", "system"] + header, table1(paper, rates))
            + "\n(the paper's models at full width, pretrained on AudioSet; n/r: not reported; "
              f"{NOT_RUN} here: no cell of ours)\n")]
    t2 = paper.get("table2") or {}
    if t2.get("classes"):
        rows = []
        for c, cells in t2["classes"].items():
            for r in rates:
                if f"ft_{r}" in cells:
                    ft, cssd = cells[f"ft_{r}"], cells[f"cssd_{r}"]
                    rows.append([c, f"{r // 1000} kHz", f"{100 * ft:.0f}", f"{100 * cssd:.0f}", f"{100 * (cssd - ft):+.0f}"])
        out.append((f"Table 2 of the paper: per-class accuracy before and after CSSD ({t2.get('arch')}, 5 folds)",
                    markdown_table(["class", "rate", "fine-tuned (%)", "CSSD (%)", "change"], rows)))
    sec = paper.get("section53") or {}
    if sec:
        lo = min(rates)
        rows = [[arch, paper_cell(paper, arch, f"basd2_{lo}", "section53")]
                + [paper_cell(paper, arch, f"cssdlow_{r}", "section53") for r in rates if r > lo] for arch in sec]
        out.append(("Section 5.3 of the paper: extra BASD generation and a lower-rate teacher",
                    markdown_table(["architecture", f"BASD, second generation, {lo // 1000} kHz (%)"]
                                   + [f"{lo // 1000} kHz fine-tuned model as teacher, {r // 1000} kHz (%)"
                                      for r in rates if r > lo], rows)))
    t3 = paper.get("table3") or {}
    if t3:
        all_rates = [FULL] + sorted(rates, reverse=True)
        rows = [[what] + [f"{float(values[r]):.1f}" if r in values else "-" for r in all_rates]
                for what, values in (("human WER (%), LibriSpeech, 3 clips per rate",
                                      {int(k): v for k, v in (t3.get("wer_human_percent") or {}).items()}),
                                     ("battery life, 300 mAh (hours)",
                                      {int(k): v for k, v in (t3.get("battery_hours") or {}).items()}))]
        out.append(("Table 3 of the paper: privacy and power (the same in every corpus; "
                    "egs/esc50/cls measures WER with two ASR backends)",
                    markdown_table(["measure"] + [f"{r / 1000:g} kHz" for r in all_rates], rows)))
    if paper.get("artifacts"):
        out.append(artifacts_section(paper))
    return out
