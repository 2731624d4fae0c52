"""RESULTS.md of a speaker-embedding recipe: EER/MinDCF per system and trial protocol, paired
comparisons of trial scores, the paper's numbers, t-SNE and deployment.

    python -m kdspeech.bin.make_results_spk --title "..." --out RESULTS.md \\
        --row "student/test/asym=exp/student/trials_test/asym" --row "teacher/test/tt=exp/teacher/trials_test/tt" \\
        --compare "student/test/asym:cos/test/asym" --paper conf/paper_results.yaml \\
        --tsne results/tsne_test.png --deploy exp/deploy/deploy.md --note conf/results_note.md \\
        --system_info "student=exp/student"

A ``--row`` label is ``<system>/<set>/<protocol>``; its dir holds ``scores`` (``kdspeech.bin.score_trials``)
and ``summary.json`` (``kdspeech.bin.score``).  ``--compare a:b``: a paired test over the trials of two
rows on the same trial list.  Raw cosine scores of two models are not on one scale, so each trial gets
a *margin* per system: ``(score - t_EER) / sd`` for a target trial and ``(t_EER - score) / sd`` for a
non-target one, with ``t_EER`` the system's own threshold at its EER and ``sd`` the standard deviation
of its scores: a trial is an error at that threshold when its margin is negative, and a higher mean
margin separates the speakers better.  The table gives the mean difference ``a - b`` with a bootstrap
95 % CI and the Wilcoxon signed-rank p (``kdspeech.metrics.paired``), and the share of trials each
system gets right at its EER threshold.  ``--system_info name=expdir``: parameters and the selected
epoch (``history.json``) of each trained system.
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
from kdspeech.metrics.trials import error_rates, read_trials
from kdspeech.results import markdown_table, write_results

log = logging.getLogger("kdspeech.make_results_spk")
PROTOCOLS = {"asym": "teacher enrols, student verifies (the paper's protocol)",
             "ss": "student enrols and verifies", "tt": "teacher enrols and verifies (reference)"}


def read_row(directory):
    path = os.path.join(directory, "summary.json")
    try:
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)["trials"]
    except (OSError, KeyError, ValueError) as err:
        raise KdError(f"no trial summary ({err}); run the scoring stage first", path=path) from None
    scores, labels, _ = read_trials(summary["trials"], os.path.join(directory, "scores"))
    return summary, scores, labels


def eer_threshold(scores, labels):
    thresholds, p_miss, p_fa = error_rates(scores, labels)
    i = int(np.argmax(p_miss >= p_fa))
    return float(thresholds[max(i - 1, 0)] if i > 0 else thresholds[0])


def margins(scores, labels):
    """Signed distance of each trial to the system's EER threshold, in units of its score sd."""
    t = eer_threshold(scores, labels)
    sd = float(np.std(scores)) or 1.0
    return np.where(labels == 1, scores - t, t - scores) / sd


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
    rows = {}
    for entry in args.row:
        label, sep, directory = entry.partition("=")
        if not sep or label.count("/") != 2:
            raise KdError(f"--row '{entry}': expected <system>/<set>/<protocol>=<score dir>")
        rows[label] = read_row(directory)
    sections = []
    if args.note:
        with open(args.note, encoding="utf-8") as handle:
            sections.append(("About this run", handle.read()))
    table = []
    for label, (summary, _, _) in rows.items():
        system, test_set, protocol = label.split("/")
        table.append([system, test_set, protocol, 100 * summary["eer"], summary["min_dcf"],
                      summary["n_target"], summary["n_nontarget"]])
    text = markdown_table(["system", "trials", "protocol", "EER %", "MinDCF (P_tgt 0.01)", "target", "non-target"],
                          table)
    text += "\nProtocols: " + "; ".join(f"`{k}`: {v}" for k, v in PROTOCOLS.items()) + ".\n"
    sections.append(("Verification (EER, MinDCF)", text))
    if args.compare:
        comp = []
        for pair in args.compare:
            a, sep, b = pair.partition(":")
            if not sep or a not in rows or b not in rows:
                raise KdError(f"--compare '{pair}': both sides must be --row labels ({', '.join(rows)})")
            (_, sa, la), (_, sb, lb) = rows[a], rows[b]
            if len(sa) != len(sb) or not np.array_equal(la, lb):
                raise KdError(f"--compare '{pair}': the two rows are not scored on the same trials")
            ma, mb = margins(sa, la), margins(sb, lb)
            result = paired.compare(ma, mb)
            comp.append([a, b, result.n, paired.format_diff(result), paired.format_p(result.p_value),
                         f"{100 * np.mean(ma > 0):.1f} / {100 * np.mean(mb > 0):.1f}"])
        sections.append(("Paired comparisons of trial scores", markdown_table(
            ["A", "B", "trials", "margin A - B [95 % CI]", "Wilcoxon p", "% right at own EER threshold A / B"], comp)
            + "\nMargin: each trial's signed distance to the system's own EER threshold, in units of the "
              "standard deviation of its scores (negative: an error at that threshold).\n"))
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
                summary = rows[label][0]
                return f"{label}: {100 * summary['eer']:.2f} % / {summary['min_dcf']:.3f}"
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
