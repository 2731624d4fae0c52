"""Published numbers beside an enhancement recipe's own (``make_results_enh --paper``; the YAML layout
is in that verb's ``--help``): the file read and checked, our test sets pooled into the paper's one
(utterance-weighted means; WER and CER from the pooled error counts), each system followed by its
``(paper)`` counterpart, and the section listing the paper's numbers that sit beside nothing of
ours; with no system of ours, the paper's noise x SNR tables alone.
"""

import math
import os

import yaml

from kdspeech.errors import KdError
from kdspeech.report.score_dirs import GROUP_TITLES, label, ratio_counts
from kdspeech.results import markdown_table


def _group_key(group, key):
    if group != "snr":
        return str(key)
    try:
        return format(float(key), "g")
    except ValueError:
        raise KdError(f"SNR group {key!r} is not a number") from None


def load_paper(path):
    """``(source, {name: summary-like dict}, {pool: [parts]}, [notes])`` from a paper results YAML file
    (summaries keyed ``<name> (paper)``; a ``noise_snr`` entry as ``{metric: {noise: {snr: value}}}``)."""
    if not os.path.exists(path):
        raise KdError("paper results file not found", path)
    with open(path, encoding="utf-8") as handle:
        try:
            conf = yaml.safe_load(handle) or {}
        except yaml.YAMLError as err:
            raise KdError(f"not valid YAML: {err}", path) from None
    if not isinstance(conf, dict):
        raise KdError("expected a mapping with a 'systems:' key", path)
    if not isinstance(conf.get("systems"), dict):
        raise KdError("expected a 'systems:' mapping of name -> {overall, snr, noise}", path)
    paper = {}
    for name, entry in conf["systems"].items():
        if not isinstance(entry, dict) or set(entry) - {"overall", "snr", "noise", "noise_snr"}:
            raise KdError(f"system {name}: expected keys overall / snr / noise / noise_snr", path)
        summary = {"overall": entry.get("overall") or {}}
        for group in ("snr", "noise"):
            if entry.get(group):
                summary[group] = {_group_key(group, k): v for k, v in entry[group].items()}
        if entry.get("noise_snr"):
            summary["noise_snr"] = {metric: {str(noise): {_group_key("snr", k): v for k, v in by_snr.items()}
                                             for noise, by_snr in by_noise.items()}
                                    for metric, by_noise in entry["noise_snr"].items()}
        paper[f"{name} (paper)"] = summary
    pools = conf.get("pool") or {}
    if not isinstance(pools, dict) or not all(isinstance(v, list) and v for v in pools.values()):
        raise KdError("expected 'pool:' as {name: [test set, ...]}", path)
    notes = conf.get("notes") or []
    if not isinstance(notes, list):
        raise KdError("expected 'notes:' as a list of strings", path)
    return conf.get("source"), paper, pools, [str(n) for n in notes]


def _weighted(parts, key):
    """Each metric over ``parts`` (``{metric: mean, "n": count}`` dicts) pooled: the n-weighted mean; for
    WER / CER the pooled errors over the pooled reference lengths (their count columns summed,
    ``transcript.corpus_rate``), not a weighted mean of the parts' rates (``None`` without the counts)."""
    from kdspeech.metrics.transcript import corpus_rate

    merged, total = {}, sum(p.get("n") or 0 for p in parts)
    metrics = {m for p in parts for m in p if m != "n"}
    counts = {c for m in metrics for c in (ratio_counts(m) or ())}
    for metric in metrics:
        pairs = [(p[metric], p.get("n") or 0) for p in parts if p.get(metric) is not None]
        if metric in counts:
            merged[metric] = sum(v for v, _ in pairs)
        elif ratio_counts(metric):
            errors, lengths = ratio_counts(metric)
            have = all(p.get(errors) is not None and p.get(lengths) is not None for p in parts)
            rate = corpus_rate([p[errors] for p in parts], [p[lengths] for p in parts]) if have else None
            merged[metric] = None if rate is None or math.isnan(rate) else rate
        else:
            weight = sum(n for _, n in pairs)
            merged[metric] = sum(v * n for v, n in pairs) / weight if weight else None
    merged["n"] = total
    return merged


def pooled_systems(ours, pools, paper):
    """``({model/P: summary}, {model/P: [part names]})`` for the pools that paper numbers ask for."""
    pooled, parts_of = {}, {}
    for pool, sets in pools.items():
        models = {name.rsplit("/", 1)[0] for name in ours if "/" in name}
        for model in sorted(models):
            name, parts = f"{model}/{pool}", [f"{model}/{t}" for t in sets]
            if f"{name} (paper)" not in paper or not all(p in ours for p in parts):
                continue
            summary = {"metrics": [], "overall": _weighted([ours[p]["overall"] for p in parts], name)}
            for p in parts:
                summary["metrics"] += [m for m in ours[p].get("metrics", []) if m not in summary["metrics"]]
            for group in GROUP_TITLES:
                keys = []
                for p in parts:
                    keys += [k for k in ours[p].get(group, {}) if k not in keys]
                if keys:
                    if group == "snr":
                        keys.sort(key=float)
                    summary[group] = {k: _weighted([ours[p][group][k] for p in parts if k in ours[p].get(group, {})], k)
                                      for k in keys}
            pooled[name], parts_of[name] = summary, parts
    return pooled, parts_of


def with_paper(ours, paper):
    """Our systems in order, each followed by its paper counterpart; unmatched paper ones last."""
    merged = {}
    for name, summary in ours.items():
        merged[name] = summary
        if f"{name} (paper)" in paper:
            merged[f"{name} (paper)"] = paper[f"{name} (paper)"]
    merged.update({name: s for name, s in paper.items() if name not in merged})
    return merged


def paper_note(table, source):
    return f"\n`(paper)`: {source}\n" if source and "(paper)" in table else ""


def paper_section(paper, notes, systems, noise_snr_names, unmatched):
    """What of the paper's numbers sits beside nothing of ours, and the paper file's notes."""
    lines = list(unmatched)
    for name, entry in paper.items():
        base = name[:-len(" (paper)")]
        if base not in systems:
            lines.append(f"`{base}`: no system of ours by this name (its paper numbers stand alone in the tables)")
        elif entry.get("noise_snr") and base not in noise_snr_names:
            lines.append(f"`{base}`: the paper's noise x SNR numbers have no noise x SNR table of ours "
                         "(no --noise_snr for it)")
    if not lines and not notes:
        return None
    text = ""
    if lines:
        text += "Not compared:\n\n" + "\n".join(f"* {line}" for line in lines) + "\n"
    if notes:
        text += ("\n" if text else "") + "Notes on the paper's numbers:\n\n" + "\n".join(f"* {n}" for n in notes) + "\n"
    return ("Paper numbers", text.strip())


def paper_noise_snr_sections(paper, source):
    """The paper's noise type x SNR tables alone (its Table 1), one per system and metric."""
    sections = []
    for name, entry in paper.items():
        for metric, by_noise in (entry.get("noise_snr") or {}).items():
            snrs = sorted({snr for by_snr in by_noise.values() for snr in by_snr}, key=float)
            rows = [[snr] + [f"{by_noise[noise][snr]:.3f}" if snr in by_noise[noise] else "-"
                                    for noise in by_noise] for snr in snrs]
            table = markdown_table(["SNR (dB)"] + list(by_noise), rows)
            sections.append((f"{name}: {label(metric)} by noise type x SNR", table + paper_note("(paper)", source)))
    return sections
