"""Score enhanced speech against clean references (PESQ, STOI, ESTOI, SI-SDR), job by job.

Job mode scores job ``k`` of ``N`` (a contiguous slice of the sorted estimate ids) and appends one
flushed line per utterance to ``<out_dir>/split/scores.<k>.tsv``; rerunning a killed job skips the
utterances already in its file.  ``--merge`` joins the job files into ``<out_dir>/scores.tsv``,
checks every utterance was scored and writes ``summary.json`` / ``summary.txt`` (means overall,
and per SNR and noise type when ``--data`` names a data dir with utt2snr / utt2noise).

    python -m kdspeech.bin.score_enh --ref_scp dump/mix_test/spk1.scp \\
        --est_scp exp/m/enhanced_test/wav.scp --out_dir exp/m/score_test \\
        --metrics pesq_wb,stoi,si_sdr --job 1 --nj 4
    python -m kdspeech.bin.score_enh --merge --nj 4 --est_scp exp/m/enhanced_test/wav.scp \\
        --out_dir exp/m/score_test --data dump/mix_test
"""

import argparse
import glob
import logging
import math
import os
import re

from tqdm import tqdm

from kdspeech.cli import run_main
from kdspeech.data.audio import load_audio
from kdspeech.data.datadir import read_kv, split_ids
from kdspeech.errors import KdError
from kdspeech.metrics.enhancement import METRICS, check_names, compute
from kdspeech.metrics.scores import (
    open_for_resume, read_scores, score_line, summarize, summary_text, write_scores, write_summary,
)

log = logging.getLogger("score_enh")
DEFAULT_METRICS = "pesq_wb,stoi,si_sdr"


def job_file(out_dir, job):
    return os.path.join(out_dir, "split", f"scores.{job}.tsv")


def score_one(utt, ref_entry, est_entry, metrics, sr, sources):
    """The metric values (in ``metrics`` order) of one utterance."""
    ref, ref_sr = load_audio(ref_entry, sr=sr, utt=utt)
    est, _ = load_audio(est_entry, sr=ref_sr, utt=utt)
    if len(ref) != len(est):
        raise KdError(
            f"utterance {utt}: reference has {len(ref)} samples ({ref_entry}) but estimate has "
            f"{len(est)} ({est_entry}); an enhanced signal must keep its input's length"
        )
    try:
        values = compute(metrics, ref, est, ref_sr)
    except KdError as err:
        raise KdError(f"utterance {utt} ({sources}): {err}") from None
    undefined = [name for name in metrics if math.isnan(values[name])]
    if undefined:
        log.warning("utterance %s: %s undefined (NaN), left out of the means", utt, ",".join(undefined))
    return [values[name] for name in metrics]


def run_job(args, metrics):
    if not 1 <= args.job <= args.nj:
        raise KdError(f"--job {args.job} is outside 1..--nj {args.nj}")
    refs, ests = read_kv(args.ref_scp), read_kv(args.est_scp)
    for utt in ests:
        if utt not in refs:
            raise KdError(f"utterance {utt} of {args.est_scp} has no reference in {args.ref_scp}")
    mine = split_ids(sorted(ests), args.nj, args.job)
    path = job_file(args.out_dir, args.job)
    handle, done = open_for_resume(path, metrics)
    with handle:
        stray = sorted(set(done) - set(mine))
        if stray:
            raise KdError(
                f"holds {len(stray)} utterance(s) outside job {args.job} of {args.nj} (e.g. "
                f"{stray[0]}): left from a run with another --nj or data; delete it to rescore", path,
            )
        todo = [utt for utt in mine if utt not in done]
        if done:
            log.info("job %d/%d: resuming, %d of %d already scored",
                     args.job, args.nj, len(done), len(mine))
        progress = tqdm(todo, total=len(mine), initial=len(done), disable=None,
                        desc=f"score {args.job}/{args.nj}", unit="utt")
        sources = f"{args.ref_scp} / {args.est_scp}"
        for utt in progress:
            values = score_one(utt, refs[utt], ests[utt], metrics, args.sr, sources)
            handle.write(score_line(utt, values))
            handle.flush()
    log.info("job %d/%d: %d utterance(s) scored in %s", args.job, args.nj, len(mine), path)


def job_of(ids, nj):
    """``{utt: job}`` for the sorted ``ids`` split into ``nj`` jobs."""
    return {utt: job for job in range(1, nj + 1) for utt in split_ids(ids, nj, job)}


def run_merge(args, metrics):
    ests = read_kv(args.est_scp)
    owner = job_of(sorted(ests), args.nj)
    for stale in glob.glob(os.path.join(args.out_dir, "split", "scores.*.tsv")):
        match = re.fullmatch(r"scores\.(\d+)\.tsv", os.path.basename(stale))
        if match and not 1 <= int(match.group(1)) <= args.nj:
            raise KdError(f"job file beyond --nj {args.nj}: left from another run; delete it", stale)
    rows = {}
    for job in range(1, args.nj + 1):
        path = job_file(args.out_dir, job)
        if not os.path.exists(path):
            raise KdError(f"missing: job {job} of {args.nj} has not run", path)
        metrics, job_rows = read_scores(path, metrics)  # the first job file sets them if not given
        for utt in job_rows:
            if owner.get(utt) != job:
                raise KdError(f"utterance {utt} does not belong to job {job} of {args.nj} "
                              f"for {args.est_scp}: left from another run; delete it", path)
        rows.update(job_rows)
    missing = [utt for utt in sorted(ests) if utt not in rows]
    if missing:
        jobs = sorted({owner[utt] for utt in missing})
        raise KdError(f"{len(missing)} utterance(s) of {args.est_scp} not scored (e.g. {missing[0]}); "
                      f"rerun job(s) {','.join(map(str, jobs))} of {args.nj}")
    write_scores(os.path.join(args.out_dir, "scores.tsv"), metrics, rows)
    groupings = {}
    if args.data:
        for name in ("snr", "noise"):
            source = os.path.join(args.data, f"utt2{name}")
            mapping = read_kv(source, allow_missing=True)
            if mapping:
                groupings[name] = (source, mapping)
    summary = summarize(metrics, rows, groupings)
    write_summary(args.out_dir, summary)
    log.info("%d utterances scored:\n%s", len(rows), summary_text(summary).rstrip())


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref_scp", help="clean references, e.g. dump/mix_test/spk1.scp (job mode)")
    parser.add_argument("--est_scp", required=True, help="enhanced signals (wav.scp format)")
    parser.add_argument("--out_dir", required=True, help="score directory")
    parser.add_argument("--metrics", default=None,
                        help=f"comma-separated, from {','.join(METRICS)} (default: {DEFAULT_METRICS}; "
                             "with --merge: those of the job files)")
    parser.add_argument("--job", type=int, default=1, help="1-based job index (default: 1)")
    parser.add_argument("--nj", type=int, default=1, help="number of jobs (default: 1)")
    parser.add_argument("--sr", type=int, default=None,
                        help="required sample rate of both signals (default: the reference's)")
    parser.add_argument("--merge", action="store_true", help="merge the --nj job files and summarize")
    parser.add_argument("--data", help="data dir whose utt2snr / utt2noise group the summary (merge)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    metrics = None
    if args.metrics is not None or not args.merge:
        names = (args.metrics or DEFAULT_METRICS).split(",")
        metrics = check_names([name for name in names if name])
    if args.nj < 1:
        raise KdError(f"--nj must be at least 1, got {args.nj}")
    if args.merge:
        run_merge(args, metrics)
    else:
        if not args.ref_scp:
            raise KdError("--ref_scp is required to score (only --merge goes without it)")
        run_job(args, metrics)
    return 0


if __name__ == "__main__":
    run_main(main)
