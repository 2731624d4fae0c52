"""Write an enhancement RESULTS.md (and metric-by-SNR PNGs) from score summaries.

    python -m kdspeech.bin.make_results_enh --system noisy/test=exp/noisy/score_test \\
        --system s1/test=exp/s1/score_test --system s2/test=exp/s2/score_test,exp/s2/score_asr_test \\
        --compare s2/test:s1/test --compare s2/test:noisy/test \\
        --out RESULTS.md --plot_dir images --title "mini_espeak enhancement" \\
        [--paper conf/paper_results.yaml]

One ``--system`` per system and test set (egs/TEMPLATE/enh/enh.sh passes one per entry of its systems
list), with the score dirs of every scoring stage (score, score_asr, score_dnsmos), comma-separated:
their metrics are joined.  Tables: overall means per system; each metric by input SNR (rows SNR, one
column per system) and by noise type, when the summaries have those groups.  The whole file is
regenerated each time.

``--compare A:B`` compares two systems on the utterances both scored (the per-utterance differences
A - B of each metric, utterances with an undefined score left out): mean difference, a bootstrap 95 %
confidence interval of it and the p-value of a Wilcoxon signed-rank test
(``kdspeech.metrics.paired.compare``), so that a reader sees whether a gap is more than noise.

``--noise_snr NAME=DATA_DIR`` adds, for system NAME, each metric by noise type (columns) and SNR
(rows) from its per-utterance scores and the mixture dir's utt2snr / utt2noise (the paper's Table 1).
``--curves NAME=EXP_DIR`` plots the validation metrics a training recorded every
``trainer.eval_every`` epochs (history.json ``eval`` entries) against the epoch, one PNG per metric
(the paper's Fig. 4); an exp dir without such entries is left out.

``--paper`` is a YAML file of published numbers, shown beside ours as ``<name> (paper)``:

    source: "Author et al. (2024), Table 2"      # optional, quoted under the tables
    pool: {test_all: [test_seen, test_unseen]}   # optional: the paper's one test set is our two
    notes: ["PESQ variant not stated ..."]       # optional: caveats, listed under "Paper numbers"
    systems:
      teacher_1/test_seen:                        # same name as a --system to sit beside it
        overall: {pesq_wb: 3.05, stoi: 0.93, si_sdr: 14.2}
        snr: {-5: {pesq_wb: 2.1}, 0: {pesq_wb: 2.6}}    # optional
        noise: {babble: {pesq_wb: 2.4}}                  # optional
        noise_snr: {pesq_wb: {babble: {-5: 2.0}}}        # optional: beside a --noise_snr table

``pool: {P: [a, b]}`` makes, for every model with systems ``<model>/a`` and ``<model>/b`` whose
``<model>/P`` has paper numbers, a system ``<model>/P``: the means of its parts weighted by their
utterance counts, overall and by group (what one mean over the paper's whole test set is).  In the
noise x SNR tables a paper column ``<noise> (paper)`` follows our column of that noise type.  Paper
numbers with no cell of ours to sit beside (no such system, noise type or table) are listed in a
section "Paper numbers", with the file's notes.
"""

import argparse
import json
import math
import os
import shlex
import sys
from pathlib import Path

import yaml

from kdspeech.cli import run_main
from kdspeech.data.datadir import read_kv
from kdspeech.errors import KdError
from kdspeech.metrics import paired
from kdspeech.metrics.scores import read_scores, read_summary
from kdspeech.plot import plot_learning_curves, plot_metric_by_snr
from kdspeech.results import markdown_table, write_results

N_BOOT = 2000  # bootstrap resamples of a paired comparison
GROUP_TITLES = {"snr": "input SNR (dB)", "noise": "noise type"}


def parse_systems(specs):
    """``{name: [score_dir, ...]}`` from repeated ``name=dir[,dir...]`` arguments."""
    systems = {}
    for spec in specs:
        name, sep, paths = spec.partition("=")
        dirs = [p for p in paths.split(",") if p]
        if not sep or not name or not dirs:
            raise KdError(f"--system {spec!r}: expected name=score_dir[,score_dir...]")
        if name in systems:
            raise KdError(f"--system {name} given twice")
        systems[name] = dirs
    if not systems:
        raise KdError("give at least one --system name=score_dir")
    return systems


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
    """The n-weighted mean of each metric over ``parts`` (``{metric: mean, "n": count}`` dicts)."""
    merged, total = {}, sum(p.get("n") or 0 for p in parts)
    for metric in {m for p in parts for m in p if m != "n"}:
        pairs = [(p[metric], p.get("n") or 0) for p in parts if p.get(metric) is not None]
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


def label(metric):
    """A metric's column heading: the registry's label (WER and CER are fractions, as scored)."""
    from kdspeech.metrics.registry import METRICS
    try:
        return METRICS.get(metric).label
    except KdError:
        return metric


def _count_columns():
    """Per-utterance count columns of the registry's metrics (wer_errors, cer_chars...): they pool a
    corpus rate in the summary and are not figures of their own."""
    from kdspeech.metrics.registry import METRICS
    return {c for name in METRICS.names() for c in METRICS.get(name).counts}


def read_summaries(score_dirs, name):
    """One summary from several score dirs of the same system (their metrics joined)."""
    merged = {"metrics": [], "overall": {}}
    for path in score_dirs:
        summary = read_summary(path)
        metrics = summary.get("metrics") or [m for m in summary["overall"] if m != "n"]
        clash = [m for m in metrics if m in merged["metrics"]]
        if clash:
            raise KdError(f"--system {name}: metric {clash[0]} is in two of its score dirs", path)
        merged["metrics"] += metrics
        merged["n"] = max(merged.get("n", 0), summary.get("n", summary["overall"].get("n", 0)))
        merged["overall"].update({k: v for k, v in summary["overall"].items() if k != "n"})
        merged["overall"]["n"] = max(merged["overall"].get("n", 0), summary["overall"].get("n", 0))
        for group in GROUP_TITLES:
            for key, values in summary.get(group, {}).items():
                merged.setdefault(group, {}).setdefault(key, {}).update(values)
    return merged


def read_utterance_scores(score_dirs):
    """``{metric: {utt: value}}`` from the scores.tsv of each score dir."""
    by_metric = {}
    for path in score_dirs:
        metrics, rows = read_scores(os.path.join(path, "scores.tsv"))
        for i, metric in enumerate(metrics):
            by_metric[metric] = {utt: values[i] for utt, values in rows.items()}
    return by_metric


def metric_names(summaries):
    names = []
    for summary in summaries.values():
        names += [m for m in summary.get("metrics", summary["overall"]) if m != "n" and m not in names]
    counts = _count_columns()
    return [m for m in names if m not in counts]


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


def paper_note(table, source):
    return f"\n`(paper)`: {source}\n" if source and "(paper)" in table else ""


def build_sections(ours, paper, paper_source, out, plot_dir, score_dirs, pooled_from=None):
    systems = with_paper(ours, paper)
    metrics = metric_names(ours)
    rows = [[n, ", ".join(f"`{d}`" for d in dirs)] for n, dirs in score_dirs.items()]
    rows += [[n, "mean of " + " and ".join(parts) + " weighted by their utterances"]
             for n, parts in (pooled_from or {}).items()]
    sources = markdown_table(["system", "scores"], rows)
    sections = [("Systems", sources)]
    table = overall_section(systems, metrics)
    sections.append(("Overall", table + paper_note(table, paper_source)))
    for metric in metrics:
        name = label(metric)
        table = group_table(systems, metric, "snr")
        if table:
            png = os.path.join(plot_dir, f"{metric}_by_snr.png")
            by_snr = {system: {k: v.get(metric) for k, v in s.get("snr", {}).items()}
                      for system, s in ours.items()}
            plot_metric_by_snr(by_snr, name, png, title=f"{name} by input SNR")
            link = os.path.relpath(png, os.path.dirname(os.path.abspath(out)))
            text = f"{table}{paper_note(table, paper_source)}\n![{name} by SNR]({link})\n"
            sections.append((f"{name} by input SNR", text))
        table = group_table(systems, metric, "noise")
        if table:
            sections.append((f"{name} by noise type", table + paper_note(table, paper_source)))
    return sections


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


def parse_comparisons(specs, systems):
    """``[(a, b)]`` from repeated ``a:b`` arguments naming --system entries."""
    pairs = []
    for spec in specs:
        a, sep, b = spec.partition(":")
        if not sep or not a or not b or a == b:
            raise KdError(f"--compare {spec!r}: expected a:b, two different --system names")
        for name in (a, b):
            if name not in systems:
                raise KdError(f"--compare {spec}: {name} is not one of the --system names")
        if (a, b) not in pairs:
            pairs.append((a, b))
    return pairs


def comparison_rows(a_scores, b_scores, metrics):
    """``[(metric, Paired)]``: a - b of each metric both have, on the utterances both scored."""
    rows = []
    for metric in metrics:
        if metric not in a_scores or metric not in b_scores:
            continue
        a, b = a_scores[metric], b_scores[metric]
        utts = sorted(set(a) & set(b))
        result = paired.compare([a[u] for u in utts], [b[u] for u in utts], resamples=N_BOOT, seed=0)
        if result.n:
            rows.append((metric, result))
    return rows


def comparisons_section(pairs, score_dirs, metrics):
    """The paired tests of every ``a:b`` comparison, one row per metric."""
    cache = {}

    def scores(name):
        if name not in cache:
            cache[name] = read_utterance_scores(score_dirs[name])
        return cache[name]

    rows = []
    for a, b in pairs:
        for metric, result in comparison_rows(scores(a), scores(b), metrics):
            rows.append([f"{a} - {b}", label(metric), result.n, result.mean_baseline, result.mean_system,
                         paired.format_diff(result), paired.format_p(result.p_value)])
    if not rows:
        return None
    text = (f"Per-utterance differences on the utterances both systems scored (an undefined score "
            f"leaves its utterance out): the mean with a bootstrap 95 % confidence interval ({N_BOOT} "
            f"resamples) and the p-value of a two-sided Wilcoxon signed-rank test.  Lower is better for "
            f"WER and CER, higher for the other metrics.\n\n")
    return ("Paired comparisons", text + markdown_table(
        ["comparison (A - B)", "metric", "utts", "B", "A", "A - B [95 % CI]", "p (Wilcoxon)"], rows))


def mean_of(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def selection_section(curves):
    """How each training chose its best.pth: the figure of trainer.best, the epoch, the value."""
    from kdspeech.train.selection import selection_summary

    rows = []
    for name, exp_dir in curves.items():
        s = selection_summary(exp_dir)
        chosen = (f"average of epochs {', '.join(map(str, s['averaged']))}" if s["averaged"]
                  else f"epoch {s['epoch']}")
        rows.append([name, f"{s['key']} ({s['mode']})", chosen, s["value"], s["epochs"]])
    table = markdown_table(["model", "selected by", "best.pth", "value at the best epoch", "epochs run"], rows)
    return ("Model selection", table)


def curves_sections(curves, plot_dir, out):
    """PNG per validation metric (epoch on x, one line per exp dir) and a table of the values."""
    series = {}
    for name, exp_dir in curves.items():
        path = os.path.join(exp_dir, "history.json")
        if not os.path.exists(path):
            raise KdError("no history.json: train this model first", path)
        with open(path, encoding="utf-8") as handle:
            history = json.load(handle)
        for entry in history:
            for metric, value in (entry.get("eval") or {}).items():
                series.setdefault(metric, {}).setdefault(name, []).append((entry["epoch"], value))
    sections = []
    for metric, by_name in series.items():
        name = label(metric)
        png = os.path.join(plot_dir, f"valid_{metric}_by_epoch.png")
        plot_learning_curves(by_name, f"validation {name}", png, title=f"validation {name} by epoch")
        epochs = sorted({e for points in by_name.values() for e, _ in points})
        rows = [[e, *(dict(points).get(e) for points in by_name.values())] for e in epochs]
        link = os.path.relpath(png, os.path.dirname(os.path.abspath(out)))
        sections.append((f"Validation {name} during training",
                         markdown_table(["epoch", *by_name], rows) + f"\n![validation {name}]({link})\n"))
    return sections


def parse_pairs(specs, option):
    pairs = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise KdError(f"{option} {spec!r}: expected name=path")
        pairs[name] = path
    return pairs


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", action="append", default=[], metavar="NAME=SCORE_DIR[,SCORE_DIR]",
                        help="a system and its score dirs (score --merge output; several: their metrics "
                             "joined); repeat, in table order")
    parser.add_argument("--compare", action="append", default=[], metavar="A:B",
                        help="paired test of system A against B on the utterances both scored; repeat")
    parser.add_argument("--deploy", help="deployment report (markdown, kdspeech.bin.deploy) to include")
    parser.add_argument("--out", required=True, help="RESULTS.md to (re)write")
    parser.add_argument("--plot_dir", required=True, help="where the PNG plots go")
    parser.add_argument("--title", default="Enhancement results", help="heading of the file")
    parser.add_argument("--paper", help="YAML of published numbers to show beside ours")
    parser.add_argument("--note", default="", help="markdown file whose text opens the results "
                        "(what was run, at what scale, how to read the numbers)")
    parser.add_argument("--noise_snr", action="append", default=[], metavar="NAME=DATA_DIR",
                        help="also tabulate system NAME by noise type x SNR (mixture dir with utt2snr, utt2noise)")
    parser.add_argument("--curves", action="append", default=[], metavar="NAME=EXP_DIR",
                        help="this training's model selection (trainer.best) and its validation metrics by "
                             "epoch (history.json 'eval')")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    score_dirs = parse_systems(args.system)
    ours = {name: read_summaries(dirs, name) for name, dirs in score_dirs.items()}
    comparisons = parse_comparisons(args.compare, score_dirs)
    source, paper, pools, notes = load_paper(args.paper) if args.paper else (None, {}, {}, [])
    pooled, pooled_from = pooled_systems(ours, pools, paper)
    sections = build_sections({**ours, **pooled}, paper, source, args.out, args.plot_dir, score_dirs, pooled_from)
    metrics = metric_names(ours)
    unmatched = []
    noise_snr = parse_pairs(args.noise_snr, "--noise_snr")
    for name, data_dir in noise_snr.items():
        if name not in score_dirs:
            raise KdError(f"--noise_snr {name}: not one of the --system names")
        published = paper.get(f"{name} (paper)", {}).get("noise_snr")
        (title, text), missing = noise_snr_section(name, score_dirs[name], data_dir, metrics, published)
        sections.append((title, text + paper_note(text, source)))
        unmatched += missing
    section = paper_section(paper, notes, {**ours, **pooled}, noise_snr, unmatched)
    if section:
        sections.append(section)
    section = comparisons_section(comparisons, score_dirs, metrics)
    if section:
        sections.insert(2, section)  # after the overall means
    curves = parse_pairs(args.curves, "--curves")
    if curves:
        sections.append(selection_section(curves))
    sections += curves_sections(curves, args.plot_dir, args.out)
    if args.deploy:
        try:
            sections.append(("Deployment", Path(args.deploy).read_text(encoding="utf-8").strip()))
        except OSError as err:
            raise KdError(f"cannot read the deployment report: {err}", path=args.deploy) from None
    if args.note:
        try:
            sections.insert(0, ("About this run", Path(args.note).read_text(encoding="utf-8").strip()))
        except OSError as err:
            raise KdError(f"cannot read the note: {err}", path=args.note) from None
    command = shlex.join(["python", "-m", "kdspeech.bin.make_results_enh",
                          *(sys.argv[1:] if argv is None else argv)])
    write_results(args.out, args.title, sections, command=command)
    return 0


if __name__ == "__main__":
    run_main(main)
