"""The result tables of an enhancement RESULTS.md: the systems and their score dirs, overall means,
each metric by input SNR (with a PNG) and by noise type, and one system's metrics by noise type x SNR
from its per-utterance scores (the paper's Table 1).

Rows that sit side by side are figures of the same utterances: a system scored on part of its test set
(a teacher on the mixtures of its SNR range) leaves the overall table for a table of its own, beside
the whole-set systems restricted to its utterances, and its cells in a group (a noise type) of which
it scored fewer utterances than the others stay empty.  WER and CER are corpus rates (total errors /
total reference words or characters) wherever they are pooled.
"""

import os

from kdspeech.data.datadir import read_kv
from kdspeech.errors import KdError
from kdspeech.plot import plot_metric_by_snr
from kdspeech.report.enh_paper import paper_note, with_paper
from kdspeech.report.score_dirs import (GROUP_TITLES, figure, label, metric_names, ratio_counts,
                                       read_utterance_scores)
from kdspeech.results import link_from, markdown_table


def overall_section(systems, metrics):
    rows = [[name, *(s["overall"].get(m) for m in metrics), s["overall"].get("n")]
            for name, s in systems.items()
            if not name.endswith(" (paper)") or any(s["overall"].get(m) is not None for m in metrics)]
    return markdown_table(["system", *(label(m) for m in metrics), "utts"], rows)


def test_set(name):
    """The test set of a system row ``<model>/<set>`` (``""`` for a name without one)."""
    return name.rpartition("/")[2] if "/" in name else ""


def whole_set_counts(systems, group=None):
    """``{(test set, group value): the most utterances any system of that test set scored}`` (``group``
    None: over all, keyed by ``(test set, None)``); paper rows left out."""
    most = {}
    for name, summary in systems.items():
        if name.endswith(" (paper)"):
            continue
        parts = {None: summary["overall"]} if group is None else summary.get(group, {})
        for key, stats in parts.items():
            cell = (test_set(name), key)
            most[cell] = max(most.get(cell, 0), stats.get("n") or 0)
    return most


def partial_systems(systems):
    """The systems that scored only part of their test set (a teacher on its SNR range), in order."""
    most = whole_set_counts(systems)
    return [name for name, summary in systems.items() if not name.endswith(" (paper)")
            and (summary["overall"].get("n") or 0) < most[(test_set(name), None)]]


def subset_section(systems, score_dirs, metrics):
    """Markdown: each system of ``partial_systems`` beside every whole-set system of its test set
    restricted to the same utterances (figures from the per-utterance scores: ``score_dirs.figure``);
    ``None`` when every system scored its whole test set."""
    partial = [name for name in partial_systems(systems) if name in score_dirs]
    if not partial:
        return None
    most = whole_set_counts(systems)
    scores = {}

    def scores_of(name):
        if name not in scores:
            scores[name] = read_utterance_scores(score_dirs[name])
        return scores[name]

    rows = []
    for name in partial:
        own = scores_of(name)
        utts = sorted(set().union(*(own[m] for m in metrics if m in own)))
        whole = [other for other, s in systems.items() if other in score_dirs and test_set(other) == test_set(name)
                 and (s["overall"].get("n") or 0) == most[(test_set(name), None)]]
        for other in [name, *whole]:   # the subset named on every row: a row is found by its first two cells
            found = scores_of(other)
            missing = [u for u in utts if not any(u in found.get(m, {}) for m in metrics)]
            if missing:
                raise KdError(f"{other} has no score for utterance {missing[0]}, which {name} scored",
                              score_dirs[other][0])
            rows.append([f"{name} ({len(utts)})", other,
                         *(figure(found, m, utts) for m in metrics)])
    text = ("Systems scored on part of a test set (a teacher on the mixtures of its SNR range) are not in the "
            "table above, which holds the systems scored on the whole of it: each is here beside every one of "
            "them, restricted to the same utterances (WER and CER: total errors / total reference words or "
            "characters of those utterances; other metrics: their mean).\n\n")
    return text + markdown_table(["utterances of (n)", "system", *(label(m) for m in metrics)], rows)


def group_table(systems, metric, group):
    """Rows: group values (SNRs in numeric order); columns: systems (paper ones only with numbers).  A
    system's cell is left empty where it scored fewer of that group's utterances than the whole test set
    (a teacher scored on its SNR range, in the table by noise type), so that a row compares like with
    like."""
    keys = []
    for summary in systems.values():
        keys += [k for k in summary.get(group, {}) if k not in keys]
    if group == "snr":
        keys.sort(key=float)
    most = whole_set_counts(systems, group)

    def cell(name, key):
        stats = systems[name].get(group, {}).get(key, {})
        if not name.endswith(" (paper)") and (stats.get("n") or 0) < most.get((test_set(name), key), 0):
            return None
        return stats.get(metric)

    columns = {name: [cell(name, key) for key in keys] for name in systems}
    columns = {name: values for name, values in columns.items() if any(v is not None for v in values)}
    rows = [[key, *(values[i] for values in columns.values())] for i, key in enumerate(keys)]
    return markdown_table([GROUP_TITLES[group], *columns], rows) if rows else None


def build_sections(ours, paper, paper_source, out, plot_dir, score_dirs, pooled_from=None):
    systems = with_paper(ours, paper)
    metrics = metric_names(ours or paper)  # no systems of ours: the paper's numbers alone
    rows = [[n, ", ".join(f"`{d}`" for d in dirs)] for n, dirs in score_dirs.items()]
    rows += [[n, "mean of " + " and ".join(parts) + " weighted by their utterances (WER and CER: their summed "
              "errors over their summed reference lengths)"]
             for n, parts in (pooled_from or {}).items()]
    sections = [("Systems", markdown_table(["system", "scores"], rows))] if rows else []
    partial = partial_systems(ours)
    table = overall_section({n: s for n, s in systems.items() if n not in partial}, metrics)
    subsets = subset_section(ours, score_dirs, metrics)
    sections.append(("Overall", table + paper_note(table, paper_source) + (f"\n{subsets}" if subsets else "")))
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
        for utt in scores[metric]:
            if utt not in snr or utt not in noise:
                raise KdError(f"utterance {utt} is scored but has no SNR or noise type", path=data_dir)
            cells.setdefault((float(snr[utt]), noise[utt].strip()), []).append(utt)
        snrs = sorted({k[0] for k in cells})
        noises = sorted({k[1] for k in cells})

        def mean(key):
            return figure(scores, metric, cells.get(key, []))

        def overall(noise_type):
            """The last row: WER / CER over all the noise type's utterances; other metrics, the mean
            over SNRs of the cell means."""
            if ratio_counts(metric):
                return figure(scores, metric, [u for (_, n), us in cells.items() if n == noise_type for u in us])
            return mean_of([mean((s, noise_type)) for s in snrs])

        published = paper.get(metric, {})
        columns = [c for n in noises for c in ([(n, False), (n, True)] if n in published else [(n, False)])]

        def cell(s, noise, is_paper):
            return published[noise].get(format(s, "g")) if is_paper else mean((s, noise))

        table_rows = [[format(s, "g"), *(cell(s, n, p) for n, p in columns)] for s in snrs]
        table_rows.append(["all" if ratio_counts(metric) else "mean", *(None if p else overall(n) for n, p in columns)])
        header = [GROUP_TITLES["snr"], *(f"{n} (paper)" if p else n for n, p in columns)]
        parts.append(f"{label(metric)}\n\n" + markdown_table(header, table_rows))
        missing = [n for n in published if n not in noises]
        if missing:
            unmatched.append(f"`{name}` {label(metric)} by noise type and SNR: no column of ours for the "
                             f"paper's {', '.join(missing)}")
    return (f"{name}: by noise type and input SNR", "\n".join(parts)), unmatched
