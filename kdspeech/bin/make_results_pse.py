"""RESULTS.md of the personalized-enhancement (PSE) recipe: the paper's Table I beside ours, paired
tests against the plain personalized model, the alpha sweep (Fig. 3) and deployment.

    python -m kdspeech.bin.make_results_pse --out RESULTS.md --plot_dir images \\
        --system noisy:synth=exp/noisy/score_synth --system pdfnet2:synth=exp/pdfnet2/score_synth \\
        --system light:synth=exp/light/score_synth --system light:track1=exp/light/score_track1 \\
        --encoders pdfnet2=ECAPA/- --encoders light=ECAPA/TinyECAPA \\
        --baseline pdfnet2 --light light --paper conf/paper_results.yaml \\
        --deploy exp/deploy/deploy.json --deploy_row light="exp/light [enhancer+encoder]" \\
        --alpha 2=exp/light/score_test_a2 --alpha 6=exp/light/score_test_a6 \\
        --alpha_valid 2=exp/light/score_valid_a2 --alpha_valid 6=exp/light/score_valid_a6 --alpha_chosen 6

``--system NAME:SET=DIR[,DIR]``: the score dirs (``kdspeech.bin.score --merge``: ``summary.json``,
``scores.tsv``; several dirs: their metrics joined) of one system on one test set (``synth``: our
synthetic set with clean references; ``track1`` / ``track2``: the DNS5 blind Headset / Speakerphone
tracks, PDNSMOS only).  Table I: per set PDNSMOS SIG/BAK/OVRL, then PESQ/STOI/SI-SDR where the set
has them; parameters (M) and MACs (G per second of audio) of the ``--deploy_row`` of each system in
deploy.json (for a refined system the whole ``[enhancer+encoder]`` row: the similarity encoder
included); a system of the paper's YAML with the same name sits under ours as ``(paper)``.

Paired tests: every system against ``--baseline`` (the plain personalized model) per set and metric,
on the utterances both scored (``kdspeech.metrics.paired``: mean difference, bootstrap 95 % CI,
Wilcoxon p); ``--light`` names the light-similarity system whose gain over the baseline is stated
in words.  Fig. 3: PDNSMOS SIG against BAK of the light model at each ``--alpha`` (test-set score
dirs), ``--alpha_chosen`` marked; ``--alpha_valid`` (validation score dirs) shows how it was chosen.

Paper YAML (``conf/paper_results.yaml``):

    source: "Author et al. (2024), Table I"
    test_sets: {track1: "Track 1: Headset", track2: "Track 2: Speakerphone"}
    systems:
      pdfnet2:                      # same name as a --system to sit beside it
        label: pDeepFilterNet2
        reference: ECAPA            # speaker encoder of the enrolment embedding
        on_the_fly: "-"             # encoder of the similarity refinement
        params_m: 2.23
        macs_g: 0.33
        scores: {track1: {pdnsmos_sig: 3.77, pdnsmos_bak: 3.47, pdnsmos_ovrl: 3.08}}
"""

import argparse
import json
import os
import shlex
import sys

import yaml

from kdspeech.bin.make_results_enh import comparison_rows, label, read_summaries, read_utterance_scores
from kdspeech.cli import run_main
from kdspeech.errors import KdError
from kdspeech.metrics import paired
from kdspeech.plot import plot_tradeoff
from kdspeech.results import markdown_table, write_results

MOS = ("pdnsmos_sig", "pdnsmos_bak", "pdnsmos_ovrl")
INTRUSIVE = ("pesq_wb", "stoi", "si_sdr")
SET_TITLES = {"synth": "synthetic test set", "track1": "Track 1: Headset", "track2": "Track 2: Speakerphone"}


def parse_systems(specs):
    """``{name: {set: [dirs]}}`` in command-line order from ``NAME:SET=DIR[,DIR]``."""
    systems = {}
    for spec in specs:
        key, sep, dirs = spec.partition("=")
        name, colon, test_set = key.partition(":")
        dirs = [d for d in dirs.split(",") if d]
        if not (sep and colon and name and test_set and dirs):
            raise KdError(f"--system {spec!r}: expected NAME:SET=SCORE_DIR[,SCORE_DIR]")
        if test_set in systems.setdefault(name, {}):
            raise KdError(f"--system {name}:{test_set} given twice")
        systems[name][test_set] = dirs
    if not systems:
        raise KdError("give at least one --system NAME:SET=SCORE_DIR")
    return systems


def parse_pairs(specs, option):
    out = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key or not value:
            raise KdError(f"{option} {spec!r}: expected KEY=VALUE")
        out[key] = value
    return out


def load_paper(path):
    try:
        with open(path, encoding="utf-8") as handle:
            conf = yaml.safe_load(handle) or {}
    except OSError as err:
        raise KdError(f"cannot read the paper results ({err})", path) from None
    except yaml.YAMLError as err:
        raise KdError(f"not valid YAML: {err}", path) from None
    if not isinstance(conf, dict) or not isinstance(conf.get("systems"), dict):
        raise KdError("expected a 'systems:' mapping of name -> {label, reference, on_the_fly, "
                      "params_m, macs_g, scores}", path)
    known = {"label", "reference", "on_the_fly", "params_m", "macs_g", "scores"}
    for name, entry in conf["systems"].items():
        if not isinstance(entry, dict) or set(entry) - known:
            raise KdError(f"system {name}: expected keys {', '.join(sorted(known))}", path)
    return conf


def deploy_rows(path, mapping, systems=()):
    """``({system: deploy row}, all rows, conditions)`` from deploy.json.  A system not in ``mapping``
    takes the row of its exp dir (``.../<system>``), its whole ``[enhancer+encoder]`` row when it has parts."""
    if not path:
        return {}, [], {}
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, ValueError) as err:
        raise KdError(f"cannot read the deployment report ({err})", path) from None
    rows = {row["model"]: row for row in report["models"]}
    out = {}
    for system, model in mapping.items():
        if model not in rows:
            raise KdError(f"--deploy_row {system}={model}: no such row (rows: {', '.join(rows)})", path)
        out[system] = rows[model]
    for system in systems:
        if system in out:
            continue
        mine = [m for m in rows if os.path.basename(m.split(" [")[0]) == system]
        whole = [m for m in mine if m.endswith("[enhancer+encoder]")] or [m for m in mine if " [" not in m]
        if len(whole) == 1:
            out[system] = rows[whole[0]]
    return out, report["models"], report


def columns(summaries, sets):
    """``[(set, metric)]`` of Table I: PDNSMOS then the intrusive metrics a set has."""
    cols = []
    for test_set in sets:
        have = {m for s in summaries.values() for m in s.get(test_set, {}).get("overall", {})}
        cols += [(test_set, m) for m in MOS + INTRUSIVE if m in have or (m in MOS and test_set != "synth")]
    return cols


def table_one(systems, summaries, paper, encoders, deployed, sets):
    cols = columns(summaries, sets)
    header = ["system", "reference", "on-the-fly", *(f"{s} {label(m)}" for s, m in cols), "params (M)", "MACs (G/s)"]
    rows = []
    paper_systems = paper.get("systems", {})
    for name in systems:
        ref, _, fly = encoders.get(name, "-/-").partition("/")
        dep = deployed.get(name)
        rows.append([name, ref or "-", fly or "-", *(summaries[name].get(s, {}).get("overall", {}).get(m)
                                                      for s, m in cols),
                     dep["parameters"] / 1e6 if dep else None, dep["macs_per_second"] / 1e9 if dep else None])
        if name in paper_systems:
            rows.append(paper_row(f"{paper_systems[name].get('label', name)} (paper)", paper_systems[name], cols))
    for name, entry in paper_systems.items():
        if name not in systems:
            rows.append(paper_row(f"{entry.get('label', name)} (paper)", entry, cols))
    return markdown_table(header, rows, floatfmt=".2f")


def paper_row(title, entry, cols):
    scores = entry.get("scores") or {}
    return [title, entry.get("reference", "-"), entry.get("on_the_fly", "-"),
            *((scores.get(s) or {}).get(m) for s, m in cols), entry.get("params_m"), entry.get("macs_g")]


def paired_section(systems, baseline, light, sets):
    """Paired tests of every system against the baseline, and the sentence about the light system."""
    if baseline not in systems:
        raise KdError(f"--baseline {baseline} is not one of the --system names ({', '.join(systems)})")
    rows, words = [], []
    for test_set in sets:
        if test_set not in systems[baseline]:
            continue
        base = read_utterance_scores(systems[baseline][test_set])
        for name, by_set in systems.items():
            if name == baseline or test_set not in by_set:
                continue
            metrics = [m for m in MOS + INTRUSIVE if m in base]
            for metric, result in comparison_rows(read_utterance_scores(by_set[test_set]), base, metrics):
                rows.append([f"{name} - {baseline}", test_set, label(metric), result.n, result.mean_baseline,
                             result.mean_system, paired.format_diff(result), paired.format_p(result.p_value)])
                if name == light and metric == "pdnsmos_ovrl":
                    words.append(verdict(light, baseline, test_set, result))
    if not rows:
        return None
    text = ("Per-utterance differences against the plain model on the utterances both scored: mean with a "
            f"bootstrap 95 % CI ({paired.RESAMPLES} resamples) and the two-sided Wilcoxon signed-rank p.\n\n")
    text += markdown_table(["comparison (A - B)", "set", "metric", "utts", "B", "A", "A - B [95 % CI]",
                            "p (Wilcoxon)"], rows)
    if words:
        text += "\n" + " ".join(words) + "\n"
    return text


def verdict(light, baseline, test_set, result):
    """One sentence: did the light similarity help, by how much, is it significant."""
    direction = "improved" if result.mean_diff > 0 else "did not improve"
    significant = result.significant and result.p_value < 0.05
    return (f"On {SET_TITLES.get(test_set, test_set)}, {light} {direction} PDNSMOS OVRL over {baseline}: "
            f"{result.mean_baseline:.3f} -> {result.mean_system:.3f} ({paired.format_diff(result)}, Wilcoxon p "
            f"{paired.format_p(result.p_value)}, {result.n} utterances), "
            f"{'a significant' if significant else 'not a significant'} difference at the 5 % level.")


def alpha_means(specs, option):
    """``{alpha (float): overall means}`` from ``ALPHA=DIR[,DIR]``."""
    out = {}
    for key, dirs in parse_pairs(specs, option).items():
        try:
            alpha = float(key)
        except ValueError:
            raise KdError(f"{option} {key}=...: alpha must be a number") from None
        out[alpha] = read_summaries([d for d in dirs.split(",") if d], f"alpha {key}")["overall"]
    return dict(sorted(out.items()))


def alpha_section(args):
    test = alpha_means(args.alpha, "--alpha")
    valid = alpha_means(args.alpha_valid, "--alpha_valid")
    chosen = args.alpha_chosen
    if chosen is None and valid:
        if any(overall.get(args.alpha_metric) is None for overall in valid.values()):
            raise KdError(f"--alpha_valid: the score dirs have no {args.alpha_metric} (--alpha_metric)")
        chosen = max(valid, key=lambda a: valid[a][args.alpha_metric])
    for name, means in (("--alpha", test), ("--alpha_valid", valid)):
        for alpha, overall in means.items():
            if any(overall.get(m) is None for m in MOS):
                raise KdError(f"{name} {alpha:g}: the score dirs have no {', '.join(MOS)}")
    rows = [[f"{a:g}" + (" (chosen)" if a == chosen else ""), *(valid.get(a, {}).get(m) for m in MOS),
             *(test.get(a, {}).get(m) for m in MOS)] for a in sorted(set(test) | set(valid))]
    header = ["alpha", *(f"valid {label(m)}" for m in MOS), *(f"test {label(m)}" for m in MOS)]
    how = "given" if args.alpha_chosen is not None else f"the highest validation {label(args.alpha_metric)}"
    text = (f"The light model evaluated at each alpha; alpha is chosen on the validation set"
            f"{f' (chosen: {chosen:g}, {how})' if chosen is not None else ''}, the test-set points make the "
            f"figure.\n\n")
    text += markdown_table(header, rows)
    if test:
        png = os.path.join(args.plot_dir, "fig3_sig_vs_bak_alpha.png")
        points = {f"α={a:g}": (p["pdnsmos_sig"], p["pdnsmos_bak"]) for a, p in test.items()}
        plot_tradeoff(points, f"α={chosen:g}" if chosen is not None else None, "PDNSMOS SIG", "PDNSMOS BAK", png,
                      f"PDNSMOS SIG vs BAK by alpha ({args.alpha_set})", "light similarity")
        text += f"\n![SIG vs BAK by alpha]({os.path.relpath(png, os.path.dirname(os.path.abspath(args.out)))})\n"
    return text


def deployment_section(rows, report):
    table = [[r["model"], r.get("part", "-"), r["parameters"] / 1e6, r["macs_per_second"] / 1e9, r["rtf"],
              r.get("onnx_status", "-"), r.get("onnx_max_abs_diff"), r.get("onnx_rtf")] for r in rows]
    threads = report.get("num_threads")
    text = markdown_table(["model", "part", "params (M)", "MACs (G/s)", f"RTF torch ({threads} thread)",
                           "ONNX check", "ONNX max abs diff", f"RTF onnxruntime ({threads} thread)"], table,
                          floatfmt=".4g")
    return text + (f"\nBatch 1, {report.get('seconds')} s at {report.get('sr')} Hz on {report.get('cpu')}, median "
                   f"of {report.get('repeats')} runs (kdspeech.bin.deploy).\n")


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--system", action="append", default=[], metavar="NAME:SET=DIR[,DIR]")
    p.add_argument("--encoders", action="append", default=[], metavar="NAME=REFERENCE/ON_THE_FLY")
    p.add_argument("--baseline", default="pdfnet2", help="the plain personalized model every system is tested against")
    p.add_argument("--light", help="the light-similarity system whose gain over --baseline is stated")
    p.add_argument("--paper", help="the paper's Table I as YAML (see the module docstring)")
    p.add_argument("--deploy", help="deploy.json of kdspeech.bin.deploy")
    p.add_argument("--deploy_row", action="append", default=[], metavar="NAME=DEPLOY_ROW")
    p.add_argument("--alpha", action="append", default=[], metavar="ALPHA=DIR", help="test-set scores per alpha")
    p.add_argument("--alpha_valid", action="append", default=[], metavar="ALPHA=DIR")
    p.add_argument("--alpha_chosen", type=float, help="default: the best --alpha_valid by --alpha_metric")
    p.add_argument("--alpha_metric", default="pdnsmos_ovrl", help="what chooses alpha on the validation set")
    p.add_argument("--run_command", help="the recipe command that made these results (default: this one)")
    p.add_argument("--alpha_set", default="test set", help="what the --alpha scores are of (figure title)")
    p.add_argument("--note", help="markdown file whose text opens the results")
    p.add_argument("--title", default="Personalized speech enhancement")
    p.add_argument("--out", required=True)
    p.add_argument("--plot_dir", required=True)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    systems = parse_systems(args.system)
    summaries = {name: {s: read_summaries(dirs, f"{name}:{s}") for s, dirs in by_set.items()}
                 for name, by_set in systems.items()}
    paper = load_paper(args.paper) if args.paper else {}
    sets = list(dict.fromkeys([s for by_set in systems.values() for s in by_set]
                              + list((paper.get("test_sets") or {}))))
    deployed, all_rows, report = deploy_rows(args.deploy, parse_pairs(args.deploy_row, "--deploy_row"), systems)
    encoders = parse_pairs(args.encoders, "--encoders")
    sections = []
    if args.note:
        with open(args.note, encoding="utf-8") as handle:
            sections.append(("About this run", handle.read()))
    text = table_one(systems, summaries, paper, encoders, deployed, sets)
    titles = {**SET_TITLES, **(paper.get("test_sets") or {})}
    text += "\nSets: " + "; ".join(f"`{s}`: {titles.get(s, s)}" for s in sets) + ".  MACs per second of audio."
    if paper.get("source"):
        text += f"  `(paper)`: {paper['source']}."
    sections.append(("Table I: PDNSMOS, intrusive metrics and complexity", text + "\n"))
    section = paired_section(systems, args.baseline, args.light, sets)
    if section:
        sections.append((f"Paired comparisons against {args.baseline}", section))
    if args.alpha or args.alpha_valid:
        sections.append(("Fig. 3: the scaling factor alpha", alpha_section(args)))
    if all_rows:
        sections.append(("Deployment (batch 1, CPU)", deployment_section(all_rows, report)))
    command = args.run_command or shlex.join(["python", "-m", "kdspeech.bin.make_results_pse",
                                              *(sys.argv[1:] if argv is None else argv)])
    write_results(args.out, args.title, sections, command=command)
    return 0


if __name__ == "__main__":
    run_main(main)
