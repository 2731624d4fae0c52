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

``--compare_snr A1+A2:B1+B2=DATA_DIR`` tests A against B at each input SNR of the mixture dir
(``utt2snr``), each side the mean per utterance over its systems (seeds of one model):
``kdspeech.report.enh_snr_paired``, with a verdict per SNR.

``--noise_snr NAME=DATA_DIR`` adds, for system NAME, each metric by noise type (columns) and SNR
(rows) from its per-utterance scores and the mixture dir's utt2snr / utt2noise (the paper's Table 1).
``--test_set NAME=DATA_DIR`` (one per test set) describes the sets in a section "Test sets" when one
of them lacks a clean reference (``spk1.scp``: scored by non-intrusive metrics only) or input SNRs
(``utt2snr``: left out of the by-SNR tables), saying what was left out for it and why.
``--curves NAME=EXP_DIR`` plots the validation metrics a training recorded every
``trainer.eval_every`` epochs (history.json ``eval`` entries) against the epoch, one PNG per metric
(the paper's Fig. 4); an exp dir without such entries is left out.

With ``--paper`` and no ``--system`` (a recipe whose corpus is not at hand) the file holds the paper's
numbers alone: overall, by SNR, and its noise type x SNR tables.

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
import shlex
import sys
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.errors import KdError
from kdspeech.report.enh_paired import comparisons_section
from kdspeech.report.seed_spread import seed_spread_section
from kdspeech.report.enh_snr_paired import (comparison_name, difference_plots, models_of,
                                            parse_snr_comparison, snr_comparison_section)
from kdspeech.report.enh_paper import (load_paper, paper_noise_snr_sections, paper_note, paper_section,
                                      pooled_systems)
from kdspeech.report.enh_tables import build_sections, noise_snr_section
from kdspeech.report.enh_training import curves_sections, selection_section
from kdspeech.report.score_dirs import label, metric_names, read_summaries
from kdspeech.report.specs import parse_pairs
from kdspeech.report.test_sets import test_sets_section
from kdspeech.results import write_results


def parse_systems(specs, allow_none=False):
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
    if not systems and not allow_none:
        raise KdError("give at least one --system name=score_dir (or --paper with no systems: its numbers alone)")
    return systems


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


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", action="append", default=[], metavar="NAME=SCORE_DIR[,SCORE_DIR]",
                        help="a system and its score dirs (score --merge output; several: their metrics "
                             "joined); repeat, in table order")
    parser.add_argument("--compare", action="append", default=[], metavar="A:B",
                        help="paired test of system A against B on the utterances both scored; repeat")
    parser.add_argument("--compare_snr", action="append", default=[], metavar="A[+A2]:B[+B2]=DATA_DIR",
                        help="paired test of A against B by input SNR (utt2snr of DATA_DIR), each side "
                             "averaged per utterance over its systems (seeds); repeat")
    parser.add_argument("--deploy", help="deployment report (markdown, kdspeech.bin.deploy) to include")
    parser.add_argument("--out", required=True, help="RESULTS.md to (re)write")
    parser.add_argument("--plot_dir", required=True, help="where the PNG plots go")
    parser.add_argument("--title", default="Enhancement results", help="heading of the file")
    parser.add_argument("--paper", help="YAML of published numbers to show beside ours")
    parser.add_argument("--note", default="", help="markdown file whose text opens the results "
                        "(what was run, at what scale, how to read the numbers)")
    parser.add_argument("--noise_snr", action="append", default=[], metavar="NAME=DATA_DIR",
                        help="also tabulate system NAME by noise type x SNR (mixture dir with utt2snr, utt2noise)")
    parser.add_argument("--test_set", action="append", default=[], metavar="NAME=DATA_DIR",
                        help="a test set and its data dir, for the section 'Test sets' (written when a set "
                             "lacks a clean reference or input SNRs); repeat")
    parser.add_argument("--curves", action="append", default=[], metavar="NAME=EXP_DIR",
                        help="this training's model selection (trainer.best) and its validation metrics by "
                             "epoch (history.json 'eval')")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    score_dirs = parse_systems(args.system, allow_none=bool(args.paper))
    ours = {name: read_summaries(dirs, name) for name, dirs in score_dirs.items()}
    comparisons = parse_comparisons(args.compare, score_dirs)
    snr_comparisons = [parse_snr_comparison(spec, score_dirs) for spec in args.compare_snr]
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
    if not ours:
        sections += paper_noise_snr_sections(paper, source)
    section = paper_section(paper if ours else {}, notes, {**ours, **pooled}, noise_snr, unmatched)
    if section:
        sections.append(section)
    section = comparisons_section(comparisons, score_dirs, metrics)
    snr_sections, snr_curves = [], {}
    for a, b, data_dir in snr_comparisons:
        snr_section, curves = snr_comparison_section(a, b, data_dir, score_dirs, metrics)
        if snr_section:
            snr_sections.append(snr_section)
            snr_curves[comparison_name(a, b)] = curves
    if snr_sections:
        title, text = snr_sections[-1]
        a, b, _ = snr_comparisons[0]
        plots = difference_plots(snr_curves, args.plot_dir, args.out, f"({models_of(a)}) - ({models_of(b)})")
        snr_sections[-1] = (title, text + "\n\n" + "\n".join(plots))
    if section:
        snr_sections.insert(0, section)
    sections[2:2] = snr_sections  # after the overall means
    described = test_sets_section(parse_pairs(args.test_set, "--test_set"))
    if described:
        sections.insert(1 if sections and sections[0][0] == "Systems" else 0, described)
    spread = seed_spread_section({name: summary["overall"] for name, summary in ours.items()}, metrics, label)
    if spread:
        sections.append(spread)
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
        heading = "About this run" if score_dirs else "About this file"   # paper-only: nothing was run
        try:
            sections.insert(0, (heading, Path(args.note).read_text(encoding="utf-8").strip()))
        except OSError as err:
            raise KdError(f"cannot read the note: {err}", path=args.note) from None
    command = shlex.join(["python", "-m", "kdspeech.bin.make_results_enh",
                          *(sys.argv[1:] if argv is None else argv)])
    write_results(args.out, args.title, sections, command=command)
    return 0


if __name__ == "__main__":
    run_main(main)
