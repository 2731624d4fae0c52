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
import shlex
import sys

from kdspeech.cli import run_main
from kdspeech.report.pse_alpha import alpha_section
from kdspeech.report.pse_deploy import deploy_rows, deployment_section
from kdspeech.report.pse_paired import paired_section
from kdspeech.report.pse_table1 import SET_TITLES, load_paper, table_one
from kdspeech.report.pse_table1 import columns as table_columns
from kdspeech.report.score_dirs import label, read_summaries
from kdspeech.report.seed_spread import seed_spread_section
from kdspeech.report.specs import parse_pairs, parse_systems
from kdspeech.results import write_results


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
    columns = {f"{s} {label(m)}": (s, m) for s, m in table_columns(summaries, sets)}   # Table I's headers
    overall = {name: {col: by_set.get(s, {}).get("overall", {}).get(m) for col, (s, m) in columns.items()}
               for name, by_set in summaries.items()}
    spread = seed_spread_section(overall, list(columns))
    if spread:
        sections.append(spread)
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
