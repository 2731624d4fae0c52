"""RESULTS.md of a speaker-embedding recipe: EER/MinDCF per system and trial protocol with 95 % CIs,
paired comparisons of EER and MinDCF, the paper's numbers, t-SNE and deployment.

    python -m kdspeech.bin.make_results_spk --title "..." --out RESULTS.md \\
        --row "student/test/asym=exp/student/trials_test/asym" --row "teacher/test/tt=exp/teacher/trials_test/tt" \\
        --compare "student/test/asym:cos/test/asym" --paper conf/paper_results.yaml \\
        --tsne results/tsne_test.png --deploy exp/deploy/deploy.md --note conf/results_note.md \\
        --system_info "student=exp/student"

A ``--row`` label is ``<system>/<set>/<protocol>``; its dir holds ``scores`` (``kdspeech.bin.score_trials``)
and ``summary.json`` (``kdspeech.bin.score``, which names the trial list).  Training seeds of one system
on the same trials are one row: the rows of ``<system>_seed<k>`` (utils/seeds.sh's names,
``kdspeech.report.specs.seed_group``) join the row of ``<system>``, and a row may also list several dirs
separated by commas; its figures are the means over seeds, each seed's listed beside them.  The speakers of the trials come from the ``utt2spk`` beside the
trial list.  Every EER and MinDCF has a 95 % CI from a bootstrap over speakers (seeds first, when
several), and ``--compare a:b`` gives ``a - b`` of EER and MinDCF on the same trials with the same
resamples, its CI, the bootstrap p and the verdict of ``kdspeech.metrics.paired.Paired``
(``kdspeech.metrics.trials_bootstrap`` says how trials are resampled).  ``--system_info name=expdir``:
parameters and the selected epoch (``history.json``) of each trained system.
"""

import argparse
import json
import logging
import os

import numpy as np
import yaml

from kdspeech.cli import run_main
from kdspeech.errors import KdError
from kdspeech.metrics import paired
from kdspeech.metrics.trials import read_scores, read_trial_list, read_trial_speakers
from kdspeech.metrics.trials_bootstrap import compare_trials, trial_intervals
from kdspeech.report.specs import is_extra_seed, seed_group
from kdspeech.results import markdown_table, spread_section, write_results

log = logging.getLogger("kdspeech.make_results_spk")
PROTOCOLS = {"asym": "teacher enrols, student verifies (the paper's protocol)",
             "ss": "student enrols and verifies", "tt": "teacher enrols and verifies (reference)"}


class Row:
    """One row: its trial list (labels, speakers) and the scores of each seed's dir."""

    def __init__(self, label, directories, trial_lists):
        self.label, self.dirs = label, directories
        self.summaries, self.scores = [], []
        for directory in directories:
            path = os.path.join(directory, "summary.json")
            try:
                with open(path, encoding="utf-8") as handle:
                    summary = json.load(handle)["trials"]
            except (OSError, KeyError, ValueError) as err:
                raise KdError(f"no trial summary ({err}); run the scoring stage first", path=path) from None
            self.summaries.append(summary)
        self.trials_path = self.summaries[0]["trials"]
        for directory, summary in zip(directories, self.summaries):
            if summary["trials"] != self.trials_path:
                raise KdError(f"--row {label}: the seeds are scored on different trial lists ({self.trials_path}, "
                              f"{summary['trials']})", path=os.path.join(directory, "summary.json"))
        if self.trials_path not in trial_lists:
            trials = read_trial_list(self.trials_path)
            trial_lists[self.trials_path] = (trials, read_trial_speakers(self.trials_path, trials))
        self.trials, self.speakers = trial_lists[self.trials_path]
        self.labels = np.array([t.label for t in self.trials])
        for directory in directories:
            self.scores.append(read_scores(os.path.join(directory, "scores"), self.trials, self.trials_path))
        self.intervals = trial_intervals(self.scores, self.labels, self.speakers)


def read_rows(entries):
    """``{label: Row}`` from ``--row LABEL=DIR[,DIR...]`` words, the rows of a system's other seeds
    (``<system>_seed<k>/<set>/<protocol>``) joined to its own."""
    dirs = {}
    for entry in entries:
        label, sep, directories = entry.partition("=")
        if not sep or label.count("/") != 2 or not directories:
            raise KdError(f"--row '{entry}': expected <system>/<set>/<protocol>=<score dir>[,<another seed's>...]")
        if label in dirs:
            raise KdError(f"--row {label} given twice")
        dirs[label] = [d for d in directories.split(",") if d]
    rows, trial_lists = {}, {}
    for label in dirs:
        if not is_extra_seed(label, dirs):
            rows[label] = Row(label, [d for seed in seed_group(label, dirs) for d in dirs[seed]], trial_lists)
    return rows


def seeds_cell(interval, scale=1.0):
    """Each seed's figure, ``2.667 / 3.111 / 2.889``; ``-`` for one seed."""
    return " / ".join(f"{scale * v:.3f}" for v in interval.per_seed) or "-"


def interval_cell(interval, scale=1.0):
    """``2.667 [1.200, 4.500]``: the figure and its 95 % CI (the figure alone where the CI is undefined)."""
    value = f"{scale * interval.value:.3f}"
    if np.isnan(interval.ci_low):
        return value
    return f"{value} [{scale * interval.ci_low:.3f}, {scale * interval.ci_high:.3f}]"


def verdict(result):
    """``A better`` / ``B better`` (lower EER or MinDCF) where ``result.confirmed``, else ``result.verdict``."""
    if not result.confirmed:
        return result.verdict
    return "A better" if result.direction < 0 else "B better"


def comparison_section(pairs, rows):
    """The paired comparisons table of ``--compare a:b`` entries."""
    table, multi = [], False
    for pair in pairs:
        a, sep, b = pair.partition(":")
        if not sep or a not in rows or b not in rows:
            raise KdError(f"--compare '{pair}': both sides must be --row labels ({', '.join(rows)})")
        ra, rb = rows[a], rows[b]
        if ra.trials_path != rb.trials_path and ra.trials != rb.trials:
            raise KdError(f"--compare '{pair}': the two rows are not scored on the same trials "
                          f"({ra.trials_path}, {rb.trials_path})")
        results = compare_trials(ra.scores, rb.scores, ra.labels, ra.speakers)
        eer, dcf = results["eer"], results["min_dcf"]
        multi = multi or bool(eer.per_seed)
        table.append([a, b, eer.n, len(ra.trials), eer.seeds,
                      paired.format_diff(eer, scale=100), paired.format_per_seed(eer, scale=100),
                      paired.format_p(eer.p_value), verdict(eer),
                      paired.format_diff(dcf), paired.format_per_seed(dcf),
                      paired.format_p(dcf.p_value), verdict(dcf)])
    header = ["A", "B", "speakers", "trials", "seeds", "EER A - B (% points) [95 % CI]", "EER per seed", "p",
              "verdict (EER)", "MinDCF A - B [95 % CI]", "MinDCF per seed", "p", "verdict (MinDCF)"]
    if not multi:   # the per-seed columns say nothing with one seed
        header = [h for i, h in enumerate(header) if i not in (6, 10)]
        table = [[c for i, c in enumerate(row) if i not in (6, 10)] for row in table]
    return markdown_table(header, table) + (
        "\nDifferences of EER and MinDCF (not of raw scores, which are not on one scale across models) on the "
        "same trials, with a 95 % CI from a bootstrap over speakers (a trial belongs to its enrolment and its "
        "test speaker; a resample draws speakers with replacement, training seeds first when a row has several, "
        f"{paired.RESAMPLES} resamples, seed {paired.SEED}; the same resamples for A and B) and its two-sided "
        "bootstrap p. The verdict names the better side (lower) where the CI excludes 0 with p < "
        f"{paired.LEVEL} and {paired.MIN_SEEDS} or more training seeds stand behind the comparison.\n")


def seed_spread(rows, header):
    """The ``Run-to-run spread`` section (``kdspeech.results.spread_section``): the largest range of one
    row's per-seed EER (% points) and MinDCF, keyed by the Verification table's column headers; None
    when no row has several seeds."""
    spreads = {}
    for row in rows.values():
        for metric, column, scale in (("eer", header[4], 100.0), ("min_dcf", header[-5], 1.0)):
            values = [scale * v for v in row.intervals[metric].per_seed]
            if len(values) >= 2:
                spreads[column] = max(spreads.get(column, 0.0), max(values) - min(values))
    if not spreads:
        return None
    return spread_section(spreads, "Measured over training seeds: the largest difference between two seeds' "
                                   "figures of one row (system, trials, protocol).  A re-run of this recipe "
                                   "reproduces a figure when it lands within this distance of it.")


def selected_epoch(exp_dir):
    path = os.path.join(exp_dir, "history.json")
    if not os.path.exists(path):
        return "-"
    with open(path, encoding="utf-8") as handle:
        history = json.load(handle)
    best = [h for h in history if h.get("best")]
    if not best:
        return "-"
    value = best[-1].get("selected", {}).get("value")
    figure = f", valid EER {100 * value:.2f} %" if isinstance(value, float) else ""
    return f"epoch {best[-1].get('epoch', '?')} of {len(history)}{figure}"


def parameters(exp_dir):
    from kdspeech.models import count_parameters
    from kdspeech.train.checkpoint import load_model

    try:
        return count_parameters(load_model(exp_dir))
    except KdError:
        return "-"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--row", action="append", default=[], metavar="LABEL=DIR")
    p.add_argument("--compare", action="append", default=[], metavar="A:B")
    p.add_argument("--system_info", action="append", default=[], metavar="NAME=EXPDIR")
    p.add_argument("--paper")
    p.add_argument("--tsne", action="append", default=[])
    p.add_argument("--deploy")
    p.add_argument("--note")
    p.add_argument("--title", default="speaker embedding")
    p.add_argument("--command", help="the command the user ran (run.sh ...), recorded in RESULTS.md")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    rows = read_rows(args.row)
    sections = []
    if args.note:
        with open(args.note, encoding="utf-8") as handle:
            sections.append(("About this run", handle.read()))
    table = []
    for label, row in rows.items():
        system, test_set, protocol = label.split("/")
        summary, eer, dcf = row.summaries[0], row.intervals["eer"], row.intervals["min_dcf"]
        table.append([system, test_set, protocol, len(row.dirs), interval_cell(eer, 100), seeds_cell(eer, 100),
                      interval_cell(dcf), seeds_cell(dcf), summary["n_target"], summary["n_nontarget"],
                      len(row.speakers.names)])
    header = ["system", "trials", "protocol", "seeds", "EER % [95 % CI]", "EER % per seed",
              "MinDCF (P_tgt 0.01) [95 % CI]", "MinDCF per seed", "target", "non-target", "speakers"]
    if all(len(row.dirs) == 1 for row in rows.values()):   # no per-seed columns for one seed
        header = [h for i, h in enumerate(header) if i not in (5, 7)]
        table = [[c for i, c in enumerate(r) if i not in (5, 7)] for r in table]
    text = markdown_table(header, table)
    text += ("\nProtocols: " + "; ".join(f"`{k}`: {v}" for k, v in PROTOCOLS.items()) + ". CIs: bootstrap over the "
             "speakers of the trials (see the paired comparisons); with several seeds, the mean over seeds.\n")
    sections.append(("Verification (EER, MinDCF)", text))
    if args.compare:
        sections.append(("Paired comparisons of EER and MinDCF", comparison_section(args.compare, rows)))
    spread = seed_spread(rows, header)
    if spread:
        sections.append(spread)
    if args.system_info:
        info = []
        for entry in args.system_info:
            name, _, exp_dir = entry.partition("=")
            info.append([name, parameters(exp_dir), selected_epoch(exp_dir)])
        sections.append(("Systems", markdown_table(["system", "parameters", "best.pth (trainer.best: valid.eer)"], info)))
    if args.paper:
        with open(args.paper, encoding="utf-8") as handle:
            paper = yaml.safe_load(handle) or {}
        def ours(label):  # a row label of this run, shown with its figures
            if label in rows:
                figures = rows[label].intervals
                return f"{label}: {100 * figures['eer'].value:.2f} % / {figures['min_dcf'].value:.3f}"
            return label

        prow = [[r.get("system"), r.get("trials"), r.get("protocol"), r.get("eer"), r.get("min_dcf"),
                 ours(r.get("ours", "-")), r.get("comparable", "no")] for r in paper.get("rows", [])]
        text = markdown_table(["paper system", "trials", "protocol", "EER %", "MinDCF", "ours (EER % / MinDCF)",
                               "comparable?"], prow, floatfmt=".3f")
        sections.append((f"The paper's numbers ({paper.get('source', 'paper')})",
                         text + ("\n" + paper["note"] if paper.get("note") else "")))
    if args.tsne:
        sections.append(("t-SNE of embeddings", "\n".join(
            f"![t-SNE]({os.path.relpath(path, os.path.dirname(os.path.abspath(args.out)) or '.')})"
            for path in args.tsne) + "\n"))
    if args.deploy:
        with open(args.deploy, encoding="utf-8") as handle:
            sections.append(("Deployment (batch 1, CPU)", handle.read()))
    write_results(args.out, args.title, sections, command=args.command)
    log.info("results -> %s", args.out)
    return 0


if __name__ == "__main__":
    run_main(main)
