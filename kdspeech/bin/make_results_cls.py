"""RESULTS.md of a low-rate classification recipe (egs/TEMPLATE/cls), laid out like Liang et al.'s tables.

    python -m kdspeech.bin.make_results_cls --exp exp --folds "1 2 3 4 5" --rates "1000 2000" \\
        --metric macro_accuracy --out RESULTS.md --plot_dir results [--paper conf/paper.yaml] \\
        [--archs "cnn14 mobilenetv2" --seeds "1 2 3"] [--grid exp/grid/best.yaml] [--ablations] \\
        [--privacy exp/privacy/wer.json] [--deploy exp/deploy/deploy.json] [--title T] [--note N] [--command C]
    python -m kdspeech.bin.make_results_cls --paper_only "why nothing ran" --paper conf/paper.yaml \
        --rates "1000 2000" --out RESULTS.md [--title T]

Exp layout: one run (``<exp>/fold<k>/<model>/score_<rate>/``, cls.sh's default) or, with ``--archs`` /
``--seeds``, one run per architecture and seed (``<exp>/<arch>/seed<s>/fold<k>/...``, the grid of an
architecture in ``<exp>/<arch>/grid/best.yaml``).  Each score dir holds ``summary.json`` and
``scores.tsv`` (kdspeech.bin.score_cls).

Writes, per architecture: Table 1 (mean ± std over folds x seeds, in %, the paper's column for that
architecture with ``--paper``), the paired difference of BASD and CSSD against fine-tuning (and CSSD
against BASD) over (fold, seed) pairs (``kdspeech.metrics.paired``: bootstrap 95 % CI, Wilcoxon p) with
a sentence per rate on whether the paper's ordering CSSD >= BASD > fine-tuned holds, per-clip paired
comparisons, the per-fold table and ``<plot_dir>/fold_ft_vs_cssd[_<arch>].png`` (Figure 2).  Then
Table 2 (per class before/after CSSD, pooled over folds and seeds, beside the paper's classes that
exist here; ``<plot_dir>/per_class_<rate>.tsv``), section 5.3 (the ablations' means, and the paired
differences of the second generation and of the lower-rate teacher), Table 3 (WER by rate of each ASR
backend of ``kdspeech.bin.privacy_wer`` beside the paper's human WER; battery life: the paper's only)
and the deployment table.  The paper YAML layout is described in ``egs/esc50/cls/conf/paper.yaml``.
``--test_sets "a b"``: a table per test set of your own (cls.sh ``--test_sets``), every fold's models
scored on the whole set (``kdspeech.report.cls_test_sets``).  ``--paper_only REASON`` writes the paper's tables alone, for a recipe whose corpus is not at hand
(kdspeech.report.cls_paper_only); a run's results replace the file.
"""

import argparse
import json
from pathlib import Path

import yaml

from kdspeech.cli import run_main
from kdspeech.errors import KdError
from kdspeech.report.cls_arch_sections import arch_sections
from kdspeech.report.cls_paired import section53_paired
from kdspeech.report.cls_paper import artifacts_section, class_sections, privacy_section, section53
from kdspeech.report.cls_paper_only import paper_sections
from kdspeech.report.cls_runs import ABLATIONS, SYSTEMS, model_conf, runs_of
from kdspeech.report.cls_test_sets import test_set_sections
from kdspeech.results import markdown_table, write_results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp")
    p.add_argument("--folds", help="space-separated fold names")
    p.add_argument("--rates", required=True, help="space-separated low rates (Hz)")
    p.add_argument("--archs", default="", help="architectures of <exp>/<arch>/seed<s> runs")
    p.add_argument("--seeds", default="", help="seeds of <exp>/<arch>/seed<s> runs")
    p.add_argument("--metric", default="macro_accuracy", choices=["macro_accuracy", "accuracy", "macro_f1"])
    p.add_argument("--out", required=True)
    p.add_argument("--plot_dir")
    p.add_argument("--paper", help="YAML of the paper's numbers (layout: egs/esc50/cls/conf/paper.yaml)")
    p.add_argument("--grid", help="best.yaml of the grid search (one run; per architecture: <exp>/<arch>/grid)")
    p.add_argument("--ablations", action="store_true")
    p.add_argument("--title", default="low-rate audio classification")
    p.add_argument("--note", default="", help="text put under the title (e.g. the run's scale and time)")
    p.add_argument("--privacy", help="wer.json of kdspeech.bin.privacy_wer")
    p.add_argument("--deploy", help="deploy.json of kdspeech.bin.deploy")
    p.add_argument("--command", help="the command the user ran (run.sh ...), recorded in RESULTS.md")
    p.add_argument("--test_sets", default="", help="names of test sets of your own (cls.sh --test_sets): each "
                   "fold's models scored on it in <fold dir>/<model>/score_<rate>_<name>")
    p.add_argument("--paper_only", metavar="REASON", help="no run: the paper's tables alone, REASON above them")
    args = p.parse_args(argv)
    if args.paper_only is not None:
        if not args.paper:
            raise KdError("--paper_only needs --paper (the YAML of the paper's numbers)")
        paper = yaml.safe_load(Path(args.paper).read_text())
        rates = [int(r) for r in args.rates.split()]
        write_results(args.out, args.title, paper_sections(paper, rates, args.paper_only), command=args.command)
        print(f"wrote {args.out} (the paper's numbers only)")
        return 0
    missing = [f"--{name}" for name in ("exp", "folds", "plot_dir") if getattr(args, name) is None]
    if missing:
        raise KdError(f"{', '.join(missing)} required (or --paper_only)")
    folds, rates = args.folds.split(), [int(r) for r in args.rates.split()]
    archs, seeds = args.archs.split(), args.seeds.split()
    if bool(archs) != bool(seeds):
        raise KdError("--archs and --seeds go together (the <exp>/<arch>/seed<s> layout)")
    paper = yaml.safe_load(Path(args.paper).read_text()) if args.paper else None
    runs = runs_of(args.exp, archs, seeds)
    if None in runs:  # one run: its architecture from the 16 kHz model's config
        runs = {model_conf(args.exp, folds[0])["model"]["name"]: runs[None]}
    systems = SYSTEMS + (ABLATIONS if args.ablations else [])
    plot_dir = Path(args.plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    sections, per_arch = [], {}
    for arch, arch_runs in runs.items():
        name = "fold_ft_vs_cssd.png" if not archs else f"fold_ft_vs_cssd_{arch}.png"
        note = args.note if not sections else ""   # the run's note once, above the first Table 1
        secs, per_arch[arch] = arch_sections(arch, arch_runs, args, folds, rates, systems, paper, name, note)
        sections += secs
    sections += test_set_sections(runs, folds, rates, systems, args.metric, args.test_sets.split())
    t2_arch = ((paper or {}).get("table2") or {}).get("arch")
    class_arch = t2_arch if t2_arch in runs else next(iter(runs))
    sections += class_sections(class_arch, runs[class_arch], folds, rates, paper, plot_dir, args.out)
    if args.ablations:
        sections += [section53(per_arch, rates, paper), section53_paired(per_arch, rates, paper)]
    if args.privacy:
        sections.append(privacy_section(args.privacy, paper))
    deploy_md = Path(args.deploy).with_name("deploy.md") if args.deploy else None
    if deploy_md is not None and deploy_md.exists():  # kdspeech.bin.deploy's own table (ONNX included)
        dep = json.loads(Path(args.deploy).read_text())
        sections.append((f"Deployment: one {dep['duration_s']:g} s clip, batch 1", deploy_md.read_text()))
    elif args.deploy:
        dep = json.loads(Path(args.deploy).read_text())
        rows = [[m["model"], f"{m['parameters'] / 1e6:.3f}", f"{m['macs'] / 1e9:.3f}", f"{m['latency_ms']:.1f}"]
                for m in dep["models"]]
        sections.append((f"Deployment: one {dep['duration_s']:g} s clip, batch 1, {dep['num_threads']} CPU thread "
                         "(MACs of conv/linear layers; the log-mel front end not counted)",
                         markdown_table(["model", "parameters (M)", "GMACs", "latency (ms)"], rows)))
    if paper and paper.get("artifacts"):
        sections.append(artifacts_section(paper))
    write_results(args.out, args.title, sections, command=args.command)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_main(main)
