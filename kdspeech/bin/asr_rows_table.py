"""The WER/CER table of the rows of egs/TEMPLATE/enh_asr/enh_asr.sh (stage 6): one line per row (an ASR
training approach: a front end or none, and a recogniser), one column per test set and metric, each
cell the corpus rate (errors over reference words or characters, ``kdspeech.metrics.transcript``) in
percent; then each row against a baseline row, paired on the same utterances.

    python -m kdspeech.bin.asr_rows_table --exp exp --rows "mct_noisy joint_straight" --sets "test" \\
        --out exp/results/asr_rows.md [--seeds "1 2 3"] [--baseline mct_noisy] [--set_dirs "dump/mix/test"] \\
        [--title "..."] [--command "./run.sh ..."] \\
        [--curves "joint_straight joint_aso joint_grad proposed" --curves_right proposed]

Reads ``<exp>/rows/<row>/score_asr_<set>/{summary.json,scores.tsv}``; a missing one is a KdError naming
the file and the stage that makes it.  With ``--seeds "1 2 3"`` the rows of seed k after the first are
``<row>_seed<k>`` (utils/seeds.sh naming): a cell is the mean of the seeds' corpus rates with their
range, and the paired test (``kdspeech.report.paired_metric.compare_metric``: the difference of corpus
rates, a bootstrap over seeds and then speakers or utterances, a Wilcoxon test on per-utterance error
counts) gives ``Paired.verdict``: "confirmed" needs 3 seeds or more, the CI excluding 0 and p < 0.05.
``--set_dirs`` (one per set, in order) gives each test set's utt2spk: speakers with several
utterances are resampled whole.  The file opens with the environment block (git commit, versions,
threads, the ``--command`` that made it) of every results file.  ``--curves`` names recognisers (exp
dirs) whose training loss per epoch (``history.json``, the first seed) is drawn in one figure beside the
table (``training_loss.png``; the paper's Fig. 3), those of ``--curves_right`` on a right-hand axis.
Rows scored for speech quality too (``rows/<row>/score_<set>``, enh_asr.sh --quality_metrics) get the
Tables 5/6 section: each metric's mean and its paired difference from the baseline row.
``--recognisers`` names the exp dirs whose size and training time are listed (``env.json``'s
``num_parameters``: the whole model, a frozen front end included; ``history.json``'s seconds per
epoch: their median over every epoch of every seed, times the mean epoch count, so that epochs slowed by
other work on a shared machine do not inflate the figure).  ``--paper`` (a TSV of the paper's numbers per row, ``read_paper``)
adds the paper's orderings: every row against the baseline and the paper's best row against every other,
each "holds", "reversed" or "not separable" by our paired verdict.
"""

import argparse
import json
import statistics
from pathlib import Path

from kdspeech.atomic import atomic_write_text
from kdspeech.cli import run_main
from kdspeech.env import environment
from kdspeech.errors import KdError
from kdspeech.metrics.paired import format_diff, format_p, format_per_seed
from kdspeech.plot import plot_learning_curves
from kdspeech.report.paired_metric import compare_metric, speaker_groups
from kdspeech.report.score_dirs import ratio_counts, read_utterance_scores
from kdspeech.results import environment_block

METRICS = ("wer", "cer")


def score_dir(exp, row, test_set):
    path = Path(exp) / "rows" / row / f"score_asr_{test_set}"
    if not (path / "summary.json").exists() or not (path / "scores.tsv").exists():
        raise KdError("no scores of this row (enh_asr.sh stage 5 writes them)", path=path / "summary.json")
    return path


def seed_rows(row, seeds):
    """The row names of ``row``'s training seeds: ``row``, then ``row_seed<k>`` for each later seed."""
    return [row] + [f"{row}_seed{k}" for k in seeds[1:]]


def corpus_rate(scores, metric):
    errors, lengths = ratio_counts(metric)
    total = sum(scores[lengths].values())
    return sum(scores[errors].values()) / total if total else float("nan")


def quality_section(exp, rows, test_set, seeds, baseline):
    """Tables 5/6: each row's speech quality on ``test_set`` (``rows/<row>/score_<set>``, the seeds'
    mean of per-utterance means), then each metric against ``baseline`` paired; "" when a row has no
    quality scores there."""
    dirs = {r: [Path(exp) / "rows" / name / f"score_{test_set}" for name in seed_rows(r, seeds)] for r in rows}
    if not all((d / "scores.tsv").exists() for ds in dirs.values() for d in ds):
        return ""
    runs = {r: [read_utterance_scores([d]) for d in ds] for r, ds in dirs.items()}
    metrics = [m for m in runs[rows[0]][0] if not m.endswith(("_errors", "_words", "_chars"))
               and all(m in run for rs in runs.values() for run in rs)]

    def mean(run, m):
        values = [v for v in run[m].values() if v == v]
        return sum(values) / len(values) if values else float("nan")

    out = ["", f"## Speech quality of what each row decodes, {test_set} (the paper's Tables 5 and 6)", "",
           "| row | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for r in rows:
        out.append(f"| {r} | " + " | ".join(f"{sum(mean(run, m) for run in runs[r]) / len(runs[r]):.3f}"
                                             for m in metrics) + " |")
    for m in metrics:
        out += ["", f"{m}, row - {baseline} on {test_set}:", "",
                f"| row | row - {baseline} [95 % CI] | per seed | p | verdict |", "|---|---|---|---|---|"]
        for r in rows:
            if r != baseline:
                res = compare_metric(runs[r], runs[baseline], m)
                out.append(f"| {r} | {format_diff(res)} | {format_per_seed(res)} | {format_p(res.p_value)} | "
                           f"{res.verdict} |")
    return "\n".join(out) + "\n"


def cell(rates):
    """``12.34`` for one seed, ``12.34 (11.90-12.80)`` (mean, range) for several."""
    mean = 100 * sum(rates) / len(rates)
    return f"{mean:.2f}" if len(rates) == 1 else f"{mean:.2f} ({100 * min(rates):.2f}-{100 * max(rates):.2f})"


def table(exp, rows, sets, seeds=(), baseline=None, set_dirs=None, paper=None):
    seeds = list(seeds) or ["1"]
    runs = {(r, s): [read_utterance_scores([score_dir(exp, name, s)]) for name in seed_rows(r, seeds)]
            for r in rows for s in sets}
    metrics = [m for m in METRICS if all(all(c in run for c in ratio_counts(m)) for v in runs.values() for run in v)]
    head = ["row"] + [f"{s} {m.upper()} (%)" for s in sets for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([r] + [cell([corpus_rate(run, m) for run in runs[(r, s)]])
                                               for s in sets for m in metrics]) + " |")
    counts = ", ".join(f"{s}: {len(next(iter(runs[(rows[0], s)][0].values())))}" for s in sets)
    spread = (f" Each trained row at {len(seeds)} seeds ({' '.join(seeds)}): mean of the seeds' rates "
              "(their range)." if len(seeds) > 1 else "")
    out = [f"Utterances per test set: {counts}.{spread}", ""] + lines
    baseline = baseline or rows[0]
    if baseline not in rows:
        raise KdError(f"--baseline {baseline} is not one of the rows ({' '.join(rows)})")
    groups = {s: speaker_groups(d) for s, d in zip(sets, set_dirs or [])}

    def paired(a, b, s, m):
        return compare_metric(runs[(a, s)], runs[(b, s)], m, groups=groups.get(s))

    for s in sets:
        for m in metrics:
            out += ["", f"## {m.upper()} against {baseline}, {s} (row - {baseline}, points)", "",
                    f"| row | {baseline} | row | row - {baseline} [95 % CI] | per seed | p | verdict |",
                    "|---|---|---|---|---|---|---|"]
            for r in rows:
                if r == baseline:
                    continue
                res = paired(r, baseline, s, m)
                out.append(f"| {r} | {100 * res.mean_baseline:.2f} | {100 * res.mean_system:.2f} | "
                           f"{format_diff(res, 100, 2)} | {format_per_seed(res, 100, 2)} | {format_p(res.p_value)} | "
                           f"{res.verdict} |")
    shared = [m for m in metrics if paper and m in paper[1]]
    if shared:
        out += [orderings_section(paper, rows, s, shared, baseline, paired) for s in sets]
    return "\n".join(out) + "\n" + "".join(quality_section(exp, rows, s, seeds, baseline) for s in sets)


def read_paper(path):
    """``(source, {metric: {row: value in %}})`` of a paper-numbers TSV: ``#`` lines are comments (the
    first ``# source: ...`` one names the table), then a header ``row<TAB>wer<TAB>cer`` (any of
    METRICS) and one line per row, named as the recipe names its rows."""
    source, header, values = "", None, {}
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#"):
            if not source and line[1:].strip().lower().startswith("source:"):
                source = line[1:].strip()[len("source:"):].strip()
            continue
        if not line.strip():
            continue
        fields = line.split("\t")
        if header is None:
            header = [f.strip().lower() for f in fields]
            if header[0] != "row" or not set(header[1:]) <= set(METRICS) or len(header) < 2:
                raise KdError(f"line {i}: the header must be 'row' then any of {', '.join(METRICS)}, "
                              "tab-separated", path=path)
            continue
        if len(fields) != len(header):
            raise KdError(f"line {i}: {len(fields)} fields, the header has {len(header)}", path=path)
        for metric, text in zip(header[1:], fields[1:]):
            try:
                values.setdefault(metric, {})[fields[0].strip()] = float(text)
            except ValueError:
                raise KdError(f"line {i}: {metric} of {fields[0]} is not a number: {text!r}", path=path) from None
    if header is None:
        raise KdError("no header line (row<TAB>wer<TAB>cer)", path=path)
    return source, values


def ordering(res, paper_diff):
    """How the paper's sign of A - B stands on our paired result: holds / reversed (confirmed with the
    same / the other sign) or not separable."""
    if paper_diff == 0:
        return "the paper has no difference"
    if res.confirmed:
        return "holds" if (res.ci_low > 0) == (paper_diff > 0) else "reversed"
    if res.mean_diff != res.mean_diff:
        return "not separable"
    same = (res.mean_diff > 0) == (paper_diff > 0) and res.mean_diff != 0
    return f"not separable ({'the same' if same else 'the other'} direction on the mean)"


def orderings_section(paper, rows, test_set, metrics, baseline, paired):
    """Each of the paper's orderings on ``test_set``: every row against ``baseline``, then the paper's
    best row (lowest WER, else CER) against every other row, with the paper's difference beside ours."""
    source, values = paper
    key = metrics[0]
    known = [r for r in rows if all(r in values[m] for m in metrics)]
    pairs = [(r, baseline) for r in known if r != baseline and baseline in known]
    if known:
        best = min(known, key=lambda r: values[key][r])
        pairs += [(best, r) for r in known if r not in (best, baseline)]
    lines = ["", f"## The paper's orderings, {test_set}", "",
             f"The paper's numbers: {source or 'the --paper table'}. An ordering **holds** when our paired "
             "difference has the paper's sign and is confirmed (3 training seeds or more, 95 % CI excluding "
             "0, Wilcoxon p < 0.05), is **reversed** when it is confirmed with the other sign, and is "
             "**not separable** otherwise. Differences in points (A - B; lower is better).", "",
             "| A | B | metric | paper A - B | ours A - B [95 % CI] | p | verdict | ordering |",
             "|---|---|---|---|---|---|---|---|"]
    for a, b in pairs:
        for m in metrics:
            res = paired(a, b, test_set, m)
            diff = values[m][a] - values[m][b]
            lines.append(f"| {a} | {b} | {m.upper()} | {diff:+.2f} | {format_diff(res, 100, 2)} | "
                         f"{format_p(res.p_value)} | {res.verdict} | {ordering(res, diff)} |")
    missing = [r for r in rows if r not in known]
    if missing:
        lines += ["", f"Not in the paper's table: {', '.join(missing)}."]
    return "\n".join(lines)


def cost_table(exp, recognisers, seeds):
    """Parameters, epochs and training time of each recogniser over its seeds' exp dirs: the mean
    parameters and epochs, the median seconds of an epoch (robust to epochs slowed by other jobs), and
    epochs x that median."""
    lines = ["| recogniser | parameters (M) | epochs | training time (min) | s/epoch (median) |",
             "|---|---|---|---|---|"]
    for rec in recognisers:
        runs, epoch_seconds = [], []
        for name in seed_rows(rec, list(seeds) or ["1"]):
            env, history = Path(exp) / name / "env.json", Path(exp) / name / "history.json"
            if not env.exists() or not history.exists():
                raise KdError("no training record of this recogniser (enh_asr.sh stage 4 writes it)",
                              path=history if env.exists() else env)
            epochs = json.loads(history.read_text())
            runs.append((json.loads(env.read_text())["num_parameters"], len(epochs)))
            epoch_seconds += [e.get("seconds", 0.0) for e in epochs]
        params, epochs = (sum(r[i] for r in runs) / len(runs) for i in range(2))
        per_epoch = statistics.median(epoch_seconds) if epoch_seconds else 0.0
        lines.append(f"| {rec} | {params / 1e6:.2f} | {epochs:g} | {epochs * per_epoch / 60:.1f} | {per_epoch:.1f} |")
    return "\n".join(lines) + "\n"


def loss_curves(exp, recognisers, right, out):
    """Fig. 3: the training loss per epoch of ``recognisers`` -> ``out`` (a PNG); the markdown line."""
    curves = {}
    for rec in recognisers:
        path = Path(exp) / rec / "history.json"
        if not path.exists():
            raise KdError("no training history of this recogniser (enh_asr.sh stage 4 writes it)", path=path)
        curves[rec] = [(e["epoch"], e["train_loss"]) for e in json.loads(path.read_text())]
    plot_learning_curves(curves, "training loss", out, title="Training loss of the approaches (Fig. 3 layout)",
                         right=right, right_ylabel="training loss (" + ", ".join(right) + ")")
    return (f"Training loss per epoch (the paper's Fig. 3; joint losses include their enhancement term): "
            f"[{Path(out).name}]({Path(out).name})\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True, help="the recipe's exp dir")
    p.add_argument("--rows", required=True, help="row names, blank-separated (without their seed copies)")
    p.add_argument("--sets", required=True, help="test set names, blank-separated")
    p.add_argument("--out", required=True, help="markdown file to write")
    p.add_argument("--seeds", default="", help="training seeds of the rows, e.g. '1 2 3' (rows <row>_seed<k>)")
    p.add_argument("--baseline", default="", help="the row the others are compared with (default: the first)")
    p.add_argument("--set_dirs", default="", help="each test set's data dir (utt2spk: speaker bootstrap)")
    p.add_argument("--title", default="ASR training approaches: WER/CER", help="the file's heading")
    p.add_argument("--command", default=None, help="the recipe command to record (default: this one)")
    p.add_argument("--recognisers", default="", help="exp dirs whose size and training time are listed")
    p.add_argument("--curves", default="", help="recognisers whose training loss is plotted (Fig. 3)")
    p.add_argument("--curves_right", default="", help="those of --curves on the right-hand axis")
    p.add_argument("--paper", default="", help="a TSV of the paper's numbers (read_paper): its orderings checked")
    args = p.parse_args(argv)
    set_dirs = args.set_dirs.split()
    if set_dirs and len(set_dirs) != len(args.sets.split()):
        raise KdError(f"--set_dirs names {len(set_dirs)} dirs for {len(args.sets.split())} --sets")
    text = table(args.exp, args.rows.split(), args.sets.split(), args.seeds.split(), args.baseline or None,
                 set_dirs, read_paper(args.paper) if args.paper else None)
    if args.recognisers:
        text += "\n## Size and training time\n\n" + cost_table(args.exp, args.recognisers.split(), args.seeds.split())
    if args.curves:
        text += "\n" + loss_curves(args.exp, args.curves.split(), args.curves_right.split(),
                                   Path(args.out).with_name("training_loss.png"))
    atomic_write_text(args.out, f"# {args.title}\n\n{environment_block(environment(), args.command)}\n{text}")
    print(text, end="")


if __name__ == "__main__":
    run_main(main)
