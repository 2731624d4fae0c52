"""Write an enhancement RESULTS.md (and metric-by-SNR PNGs) from score_enh summaries.

    python -m kdspeech.bin.make_results_enh --system noisy=exp/noisy/score_test \\
        --system teacher_1=exp/teacher_1/score_test --system student_s1=exp/student_s1/score_test \\
        --out RESULTS.md --plot_dir images --title "mini_espeak enhancement" \\
        [--paper conf/paper_results.yaml]

Tables: overall means per system; each metric by input SNR (rows SNR, one column per system) and
by noise type, when the summaries have those groups.  The whole file is regenerated each time.

``--paper`` is a YAML file of published numbers, shown beside ours as ``<name> (paper)``:

    source: "Author et al. (2024), Table 2"      # optional, quoted under the tables
    systems:
      teacher_1:                                  # same name as a --system to sit beside it
        overall: {pesq_wb: 3.05, stoi: 0.93, si_sdr: 14.2}
        snr: {-5: {pesq_wb: 2.1}, 0: {pesq_wb: 2.6}}    # optional
        noise: {babble: {pesq_wb: 2.4}}                  # optional
"""

import argparse
import os
import shlex
import sys

import yaml

from kdspeech.cli import run_main
from kdspeech.errors import KdError
from kdspeech.metrics.scores import read_summary
from kdspeech.plot import plot_metric_by_snr
from kdspeech.results import markdown_table, write_results

LABELS = {"pesq_wb": "PESQ-WB", "pesq_nb": "PESQ-NB", "stoi": "STOI", "estoi": "ESTOI",
          "si_sdr": "SI-SDR (dB)"}
GROUP_TITLES = {"snr": "input SNR (dB)", "noise": "noise type"}


def parse_systems(specs):
    """``{name: score_dir}`` from repeated ``name=dir`` arguments."""
    systems = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise KdError(f"--system {spec!r}: expected name=score_dir")
        if name in systems:
            raise KdError(f"--system {name} given twice")
        systems[name] = path
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
    """``(source, {name: summary-like dict})`` from a paper results YAML file."""
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
        if not isinstance(entry, dict) or set(entry) - {"overall", "snr", "noise"}:
            raise KdError(f"system {name}: expected keys overall / snr / noise", path)
        summary = {"overall": entry.get("overall") or {}}
        for group in ("snr", "noise"):
            if entry.get(group):
                summary[group] = {_group_key(group, k): v for k, v in entry[group].items()}
        paper[f"{name} (paper)"] = summary
    return conf.get("source"), paper


def with_paper(ours, paper):
    """Our systems in order, each followed by its paper counterpart; unmatched paper ones last."""
    merged = {}
    for name, summary in ours.items():
        merged[name] = summary
        if f"{name} (paper)" in paper:
            merged[f"{name} (paper)"] = paper[f"{name} (paper)"]
    merged.update({name: s for name, s in paper.items() if name not in merged})
    return merged


def metric_names(summaries):
    names = []
    for summary in summaries.values():
        names += [m for m in summary.get("metrics", summary["overall"]) if m in LABELS and m not in names]
    return names


def overall_section(systems, metrics):
    rows = [[name, *(s["overall"].get(m) for m in metrics), s["overall"].get("n")]
            for name, s in systems.items()]
    return markdown_table(["system", *(LABELS[m] for m in metrics), "utts"], rows)


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


def build_sections(ours, paper, paper_source, out, plot_dir, score_dirs):
    systems = with_paper(ours, paper)
    metrics = metric_names(ours)
    sources = markdown_table(["system", "scores"], [[n, f"`{d}`"] for n, d in score_dirs.items()])
    sections = [("Systems", sources)]
    table = overall_section(systems, metrics)
    sections.append(("Overall", table + paper_note(table, paper_source)))
    for metric in metrics:
        label = LABELS[metric]
        table = group_table(systems, metric, "snr")
        if table:
            png = os.path.join(plot_dir, f"{metric}_by_snr.png")
            by_snr = {name: {k: v.get(metric) for k, v in s.get("snr", {}).items()}
                      for name, s in ours.items()}
            plot_metric_by_snr(by_snr, label, png, title=f"{label} by input SNR")
            link = os.path.relpath(png, os.path.dirname(os.path.abspath(out)))
            text = f"{table}{paper_note(table, paper_source)}\n![{label} by SNR]({link})\n"
            sections.append((f"{label} by input SNR", text))
        table = group_table(systems, metric, "noise")
        if table:
            sections.append((f"{label} by noise type", table + paper_note(table, paper_source)))
    return sections


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", action="append", default=[], metavar="NAME=SCORE_DIR",
                        help="a system and its score_enh --merge output dir; repeat, in table order")
    parser.add_argument("--out", required=True, help="RESULTS.md to (re)write")
    parser.add_argument("--plot_dir", required=True, help="where the PNG plots go")
    parser.add_argument("--title", default="Enhancement results", help="heading of the file")
    parser.add_argument("--paper", help="YAML of published numbers to show beside ours")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    score_dirs = parse_systems(args.system)
    ours = {name: read_summary(path) for name, path in score_dirs.items()}
    source, paper = load_paper(args.paper) if args.paper else (None, {})
    sections = build_sections(ours, paper, source, args.out, args.plot_dir, score_dirs)
    command = shlex.join(["python", "-m", "kdspeech.bin.make_results_enh",
                          *(sys.argv[1:] if argv is None else argv)])
    write_results(args.out, args.title, sections, command=command)
    return 0


if __name__ == "__main__":
    run_main(main)
