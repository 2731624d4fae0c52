"""The result tables of an enhancement RESULTS.md: the systems and their score dirs, overall means,
each metric by input SNR (with a PNG) and by noise type, and one system's metrics by noise type x SNR
from its per-utterance scores (the paper's Table 1).
"""

import math
import os

from kdspeech.data.datadir import read_kv
from kdspeech.errors import KdError
from kdspeech.plot import plot_metric_by_snr
from kdspeech.report.enh_paper import paper_note, with_paper
from kdspeech.report.score_dirs import GROUP_TITLES, label, metric_names, read_utterance_scores
from kdspeech.results import link_from, markdown_table


def overall_section(systems, metrics):
    rows = [[name, *(s["overall"].get(m) for m in metrics), s["overall"].get("n")]
            for name, s in systems.items()
            if not name.endswith(" (paper)") or any(s["overall"].get(m) is not None for m in metrics)]
    return markdown_table(["system", *(label(m) for m in metrics), "utts"], rows)


def group_table(systems, metric, group):
    """Rows: group values (SNRs in numeric order); columns: systems (paper ones only with numbers)."""
    keys = []
    for summary in systems.values():
        keys += [k for k in summary.get(group, {}) if k not in keys]
    if group == "snr":
        keys.sort(key=float)
    columns = {name: [s.get(group, {}).get(key, {}).get(metric) for key in keys]
               for name, s in systems.items()}
    columns = {name: values for name, values in columns.items()
               if not name.endswith(" (paper)") or any(v is not None for v in values)}
    rows = [[key, *(values[i] for values in columns.values())] for i, key in enumerate(keys)]
    return markdown_table([GROUP_TITLES[group], *columns], rows) if rows else None


def build_sections(ours, paper, paper_source, out, plot_dir, score_dirs, pooled_from=None):
    systems = with_paper(ours, paper)
    metrics = metric_names(ours or paper)  # no systems of ours: the paper's numbers alone
    rows = [[n, ", ".join(f"`{d}`" for d in dirs)] for n, dirs in score_dirs.items()]
    rows += [[n, "mean of " + " and ".join(parts) + " weighted by their utterances"]
             for n, parts in (pooled_from or {}).items()]
    sections = [("Systems", markdown_table(["system", "scores"], rows))] if rows else []
    table = overall_section(systems, metrics)
    sections.append(("Overall", table + paper_note(table, paper_source)))
    for metric in metrics:
        name = label(metric)
        table = group_table(systems, metric, "snr")
        if table and not ours:
            sections.append((f"{name} by input SNR", table + paper_note(table, paper_source)))
        elif table:
            png = os.path.join(plot_dir, f"{metric}_by_snr.png")
            by_snr = {system: {k: v.get(metric) for k, v in s.get("snr", {}).items()}
                      for system, s in ours.items()}
            reference = "noisy" if any(n.startswith("noisy/") for n in by_snr) else None
            plot_metric_by_snr(by_snr, name, png, reference=reference,
                               title=f"{name} by input SNR" + (", minus the noisy input's" if reference else ""))
            link = link_from(out, png)
            text = f"{table}{paper_note(table, paper_source)}\n![{name} by SNR]({link})\n"
            sections.append((f"{name} by input SNR", text))
        table = group_table(systems, metric, "noise")
        if table:
            sections.append((f"{name} by noise type", table + paper_note(table, paper_source)))
    return sections


def mean_of(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def noise_snr_section(name, score_dirs, data_dir, metrics, paper=None):
    """Tables metric by SNR (rows) x noise type (columns) of one system, from its per-utterance scores,
    each noise type followed by its paper column where ``paper`` (``{metric: {noise: {snr: value}}}``)
    has one.  Returns ``(section, [paper noise types with no column of ours, as text])``."""
    paper = paper or {}
    unmatched = []
    scores = read_utterance_scores(score_dirs)
    snr = read_kv(os.path.join(data_dir, "utt2snr"))
    noise = read_kv(os.path.join(data_dir, "utt2noise"))
    parts = []
    for metric in metrics:
        if metric not in scores:
            continue
        cells = {}
        for utt, value in scores[metric].items():
            if utt not in snr or utt not in noise:
                raise KdError(f"utterance {utt} is scored but has no SNR or noise type", path=data_dir)
            cells.setdefault((float(snr[utt]), noise[utt].strip()), []).append(value)
        snrs = sorted({k[0] for k in cells})
        noises = sorted({k[1] for k in cells})

        def mean(key):
            vals = [v for v in cells.get(key, []) if not math.isnan(v)]
            return sum(vals) / len(vals) if vals else None

        published = paper.get(metric, {})
        columns = [c for n in noises for c in ([(n, False), (n, True)] if n in published else [(n, False)])]

        def cell(s, noise, is_paper):
            return published[noise].get(format(s, "g")) if is_paper else mean((s, noise))

        table_rows = [[format(s, "g"), *(cell(s, n, p) for n, p in columns)] for s in snrs]
        table_rows.append(["mean", *(None if p else mean_of([mean((s, n)) for s in snrs]) for n, p in columns)])
        header = [GROUP_TITLES["snr"], *(f"{n} (paper)" if p else n for n, p in columns)]
        parts.append(f"{label(metric)}\n\n" + markdown_table(header, table_rows))
        missing = [n for n in published if n not in noises]
        if missing:
            unmatched.append(f"`{name}` {label(metric)} by noise type and SNR: no column of ours for the "
                             f"paper's {', '.join(missing)}")
    return (f"{name}: by noise type and input SNR", "\n".join(parts)), unmatched
