"""Score signals with any metrics of the registry, job by job, resumably; merge and summarize.

Metric kinds (``kdspeech.metrics.registry``): intrusive ones need ``--ref_scp`` (clean references),
non-intrusive ones (DNSMOS) nothing more, transcript ones (WER/CER) ``--text`` (reference
transcripts) and decode the signal with ``--asr_backend``; trial metrics (EER/MinDCF) read
``--trials`` / ``--trial_scores`` at ``--merge`` (or alone, without ``--est_scp``).

Job mode scores job ``k`` of ``N`` (a contiguous slice of the sorted ids of ``--est_scp``) and
appends one flushed line per utterance to ``<out_dir>/split/scores.<k>.tsv`` (and the ASR
hypothesis to ``split/hyp.<k>.txt``); rerunning a killed job skips the utterances already in its
file.  ``--merge`` joins the job files into ``<out_dir>/scores.tsv`` (and ``hyp.txt``), checks that
every utterance was scored and writes ``summary.json`` / ``summary.txt``: means overall and per SNR
and noise type when ``--data`` names a data dir with utt2snr / utt2noise; WER/CER pooled as
sum(errors) / sum(reference words or characters), with the counts in the score file.  A job file
holding an utterance outside its job, or (with ``--text``) a hypothesis of an utterance without a
transcript, is an error naming its line; the merge writes nothing until every job file is checked.
Each utterance is decoded on its own (``kdspeech.asr``), so hypotheses do not depend on ``--nj``,
on the order or on where a job resumed.  A job's files belong to what made them (``kdspeech.resume``):
``split/.scores.<k>.key`` records the key of the estimates, references, transcripts (their contents),
metrics, rate, ASR backend and LM text, ``--nj`` and, under a recipe stage, its inputs; a job whose
record names another key sets its files aside and scores afresh, so the scores of another model's
audio are never resumed.

    python -m kdspeech.bin.score --ref_scp dump/mix_test/spk1.scp \\
        --est_scp exp/m/enhanced_test/wav.scp --out_dir exp/m/score_test \\
        --metrics pesq_wb,stoi,si_sdr,dnsmos_ovrl --job 1 --nj 4
    python -m kdspeech.bin.score --est_scp exp/m/enhanced_test/wav.scp --out_dir exp/m/asr_test \\
        --metrics wer,cer --text dump/mix_test/text --asr_lm_text data/train/text --job 1 --nj 4
    python -m kdspeech.bin.score --merge --nj 4 --est_scp exp/m/enhanced_test/wav.scp \\
        --out_dir exp/m/score_test --data dump/mix_test
    python -m kdspeech.bin.score --metrics eer,min_dcf --trials data/test/trials \\
        --trial_scores exp/spk/scores --out_dir exp/spk/score_test
"""

import argparse
import glob
import logging
import math
import os
import re

from kdspeech.cli import run_main
from kdspeech.data.datadir import read_kv, split_ids
from kdspeech.errors import KdError
from kdspeech.metrics import registry
from kdspeech.metrics.scores import (
    open_for_resume, read_scores, score_line, summarize, summary_text, write_scores, write_summary,
)
from kdspeech.resume import claim_job_files, file_digest, output_key

log = logging.getLogger("score")
DEFAULT_METRICS = "pesq_wb,stoi,si_sdr"
LM_NAME = os.path.join("asr_lm", "lm.arpa")


def job_file(out_dir, job):
    return os.path.join(out_dir, "split", f"scores.{job}.tsv")


def hyp_file(out_dir, job):
    return os.path.join(out_dir, "split", f"hyp.{job}.txt")


def key_file(out_dir, job):
    """The record of the key of a job's files (``kdspeech.resume.claim_job_files``)."""
    return os.path.join(out_dir, "split", f".scores.{job}.key")   # bookkeeping, hidden like a stamp


def job_key(args, names):
    """What a job's scores are made from: the inputs' contents, the metrics and their settings."""
    from kdspeech.asr import backend_identity

    kinds = kinds_of(names)
    asr = None
    if "transcript" in kinds:   # a trained: recogniser by its model file's digest
        asr = (backend_identity(args.asr_backend), file_digest(args.asr_lm_text))
    return output_key(estimates=file_digest(args.est_scp), metrics=list(names), sr=args.sr, nj=args.nj,
                      references=file_digest(args.ref_scp) if "intrusive" in kinds else None,
                      transcripts=file_digest(args.text) if "transcript" in kinds else None, asr=asr)


def split_kinds(names):
    """``(per-utterance names, trial names)``."""
    trials = [n for n in names if registry.get(n).kind == "trials"]
    return [n for n in names if n not in trials], trials


def kinds_of(names):
    return {registry.get(n).kind for n in names}


# --- job mode ---------------------------------------------------------------------------------

class Inputs:
    """The scp/text files a job reads, checked to cover every utterance of ``--est_scp``."""

    def __init__(self, args, names):
        kinds = kinds_of(names)
        self.est_scp = args.est_scp
        self.ests = read_kv(args.est_scp)
        self.refs, self.texts = {}, {}
        if "intrusive" in kinds:
            if not args.ref_scp:
                raise KdError(f"--ref_scp is required by the intrusive metric(s) "
                              f"{','.join(n for n in names if registry.get(n).kind == 'intrusive')}")
            self.refs = self._covering(args.ref_scp, "reference")
        if "transcript" in kinds:
            if not args.text:
                raise KdError("--text (reference transcripts) is required by wer / cer")
            self.texts = self._covering(args.text, "transcript")
        self.sources = " / ".join(p for p in (args.ref_scp if self.refs else None, args.est_scp) if p)

    def _covering(self, path, what):
        table = read_kv(path)
        for line, utt in enumerate(self.ests, start=1):  # read_kv allows no blank line: line = position
            if utt not in table:
                raise KdError(f"utterance {utt} has no {what} in {path}", self.est_scp, line)
        return table


def score_one(utt, inputs, names, sr, asr):
    """``(values in column order, hypothesis or None)`` of one utterance."""
    from kdspeech.data.audio import load_audio
    from kdspeech.metrics import Utterance, score_utterance

    ref = None
    if inputs.refs:
        ref, sr = load_audio(inputs.refs[utt], sr=sr, utt=utt)
    est, est_sr = load_audio(inputs.ests[utt], sr=sr, utt=utt)
    if ref is not None and len(ref) != len(est):
        raise KdError(
            f"utterance {utt}: reference has {len(ref)} samples ({inputs.refs[utt]}) but estimate has "
            f"{len(est)} ({inputs.ests[utt]}); an enhanced signal must keep its input's length"
        )
    item = Utterance(est=est, sr=est_sr, ref=ref, text=inputs.texts.get(utt), asr=asr)
    try:
        values = score_utterance(names, item)
    except KdError as err:
        raise KdError(f"utterance {utt} ({inputs.sources}): {err}") from None
    undefined = [name for name in names if math.isnan(values[name])]
    if undefined:
        log.warning("utterance %s: %s undefined (NaN), left out of the means", utt, ",".join(undefined))
    return [values[column] for column in registry.columns(names)], item.hyp


def build_asr(args):
    from kdspeech.asr import build_backend

    conf = {}
    if args.asr_lm_text:
        from kdspeech.asr.lm import build_arpa_lm

        conf["lm"] = str(build_arpa_lm(args.asr_lm_text, os.path.join(args.out_dir, LM_NAME)))
    return build_backend(args.asr_backend, conf)


def read_hyps(path, allowed, job, nj, text=None):
    """``{utt: hypothesis}`` of a job's hypothesis file (a partial last line, a kill, is not read; a
    later line of an utterance, decoded again after a kill, wins).  KdError naming the file and line for
    an utterance outside ``allowed`` (job ``job`` of ``nj``'s utterances of --est_scp) or, with
    ``text`` (its path), without a transcript there."""
    hyps = {}
    if not os.path.exists(path):
        return hyps
    transcripts = read_kv(text) if text else None
    with open(path, encoding="utf-8") as handle:
        try:
            lines = handle.read().split("\n")[:-1]
        except UnicodeDecodeError as err:
            raise KdError(f"not UTF-8 text ({err}); delete the job files to rescore", path) from None
    for number, line in enumerate(lines, start=1):
        utt, _, hyp = line.partition(" ")
        if transcripts is not None and utt not in transcripts:
            raise KdError(f"utterance {utt!r} has no transcript in {text}: left from another run or data; "
                          "delete this job's files to rescore", path, number)
        if utt not in allowed:
            raise KdError(f"utterance {utt!r} is not one of job {job} of {nj}'s utterances of the estimates: "
                          "left from another run, --nj or data; delete this job's files to rescore", path, number)
        hyps[utt] = hyp
    return hyps


def open_hyps(path):
    """Append handle of a job's hypothesis file, a partial last line (a kill) cut off first."""
    if os.path.exists(path):
        with open(path, "rb") as handle:
            data = handle.read()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            with open(path, "r+b") as handle:
                handle.truncate(complete)
    return open(path, "a", encoding="utf-8")


def run_job(args, names):
    from tqdm import tqdm

    if not 1 <= args.job <= args.nj:
        raise KdError(f"--job {args.job} is outside 1..--nj {args.nj}")
    inputs = Inputs(args, names)
    mine = split_ids(sorted(inputs.ests), args.nj, args.job)
    path = job_file(args.out_dir, args.job)
    claim_job_files(key_file(args.out_dir, args.job), job_key(args, names),
                    [path, hyp_file(args.out_dir, args.job)])
    handle, done = open_for_resume(path, registry.columns(names))
    with handle:
        stray = sorted(set(done) - set(mine))
        if stray:
            raise KdError(
                f"holds {len(stray)} utterance(s) outside job {args.job} of {args.nj} (e.g. "
                f"{stray[0]}): left from a run with another --nj or data; delete it to rescore", path,
            )
        transcribing = "transcript" in kinds_of(names)
        if transcribing:   # a stray hypothesis fails the job before it decodes anything
            read_hyps(hyp_file(args.out_dir, args.job), set(mine), args.job, args.nj, args.text)
        todo = [utt for utt in mine if utt not in done]
        if done:
            log.info("job %d/%d: resuming, %d of %d already scored",
                     args.job, args.nj, len(done), len(mine))
        asr = build_asr(args) if transcribing and todo else None
        hyps = open_hyps(hyp_file(args.out_dir, args.job)) if transcribing else None
        try:
            progress = tqdm(todo, total=len(mine), initial=len(done), disable=None,
                            desc=f"score {args.job}/{args.nj}", unit="utt")
            for utt in progress:
                values, hyp = score_one(utt, inputs, names, args.sr, asr)
                if hyps is not None:  # before the score line: a scored utterance has its hypothesis
                    hyps.write(f"{utt} {hyp}\n" if hyp else f"{utt}\n")
                    hyps.flush()
                handle.write(score_line(utt, values))
                handle.flush()
        finally:
            if hyps is not None:
                hyps.close()
    log.info("job %d/%d: %d utterance(s) scored in %s", args.job, args.nj, len(mine), path)


# --- merge ------------------------------------------------------------------------------------

def check_job_files(out_dir, nj):
    for stale in glob.glob(os.path.join(out_dir, "split", "scores.*.tsv")):
        match = re.fullmatch(r"scores\.(\d+)\.tsv", os.path.basename(stale))
        if match and not 1 <= int(match.group(1)) <= nj:
            raise KdError(f"job file beyond --nj {nj}: left from another run; delete it", stale)
    keys = {}
    for job in range(1, nj + 1):
        record = key_file(out_dir, job)
        if os.path.exists(record):
            with open(record, encoding="utf-8") as handle:
                keys.setdefault(handle.read().strip(), record)
    if len(keys) > 1:
        first, second = list(keys.values())[:2]
        raise KdError(f"job files of different runs (other estimates, metrics or inputs; see {first}): "
                      "run every job again", second)


def merged_hyps(args, ids, job_rows):
    """``{utt: hypothesis}`` of the scored utterances from the jobs' hypothesis files (``None`` when no
    job wrote one), each file checked (``read_hyps``) before anything is written.  ``job_rows`` maps a
    job to ``(its score file, the utterances it scored)``; a scored utterance without a hypothesis in a
    job that wrote them is an error naming both files."""
    hyps, found = {}, False
    for job, (score_path, scored) in job_rows.items():
        path = hyp_file(args.out_dir, job)
        if not os.path.exists(path):
            continue
        found = True
        job_hyps = read_hyps(path, set(split_ids(ids, args.nj, job)), job, args.nj, args.text)
        missing = [u for u in scored if u not in job_hyps]
        if missing:
            raise KdError(f"no hypothesis for utterance {missing[0]}, which {score_path} scores: a job file "
                          "was edited or mixed with another run's; delete this job's files to rescore", path)
        hyps.update((u, job_hyps[u]) for u in scored)
    return hyps if found else None


def run_merge(args, names, trial_names):
    if not args.est_scp:
        raise KdError("--est_scp is required to merge per-utterance scores")
    ids = sorted(read_kv(args.est_scp))
    check_job_files(args.out_dir, args.nj)
    columns = registry.columns(names) if names else None  # None: those of the job files
    rows, missing, scored = {}, {}, {}
    for job in range(1, args.nj + 1):
        path = job_file(args.out_dir, job)
        if not os.path.exists(path):
            raise KdError(f"missing: job {job} of {args.nj} has not run", path)
        columns, job_rows = read_scores(path, columns)  # the first job file sets them if not given
        expected = set(split_ids(ids, args.nj, job))
        for utt in job_rows:
            if utt not in expected:
                raise KdError(f"utterance {utt} does not belong to job {job} of {args.nj} "
                              f"for {args.est_scp}: left from another run; delete it", path)
        missing.update((utt, job) for utt in expected - set(job_rows))
        rows.update(job_rows)
        scored[job] = (path, sorted(job_rows))
    if missing:
        first = min(missing)
        jobs = ",".join(str(j) for j in sorted(set(missing.values())))
        raise KdError(f"{len(missing)} utterance(s) of {args.est_scp} not scored (e.g. {first}); "
                      f"rerun job(s) {jobs} of {args.nj}")
    hyps = merged_hyps(args, ids, scored)
    groupings = {}
    if args.data:
        for name in ("snr", "noise"):
            source = os.path.join(args.data, f"utt2{name}")
            mapping = read_kv(source, allow_missing=True)
            if mapping:
                groupings[name] = (source, mapping)
    summary = summarize(columns, rows, groupings)
    if trial_names:
        summary["trials"] = trial_summary(args, trial_names)
    # every input checked and every figure computed: only now is anything written
    write_scores(os.path.join(args.out_dir, "scores.tsv"), columns, rows)
    if hyps is not None:
        from kdspeech.atomic import atomic_write_text

        atomic_write_text(os.path.join(args.out_dir, "hyp.txt"),
                          "".join(f"{u} {hyps[u]}\n".replace(" \n", "\n") for u in sorted(hyps)))
    write_summary(args.out_dir, summary)
    log.info("%d utterances scored:\n%s", len(rows), summary_text(summary).rstrip())


def trial_summary(args, names):
    from kdspeech.metrics import trials

    if not args.trials or not args.trial_scores:
        raise KdError(f"{','.join(names)} need --trials and --trial_scores")
    scores, labels, count = trials.read_trials(args.trials, args.trial_scores)
    values = trials.compute(names, scores, labels)
    return {"metrics": names, **values, "n_target": int(labels.sum()),
            "n_nontarget": int(count - labels.sum()), "trials": args.trials,
            "p_target": 0.01}


def run_trials_only(args, names):
    summary = {"metrics": [], "n": 0, "overall": {"n": 0}, "trials": trial_summary(args, names)}
    write_summary(args.out_dir, summary)
    log.info("trials scored:\n%s", summary_text(summary).rstrip())


# --- command line -----------------------------------------------------------------------------

def build_parser():
    from kdspeech.asr import DEFAULT_BACKEND

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref_scp", help="clean references, e.g. dump/mix_test/spk1.scp "
                        "(needed by intrusive metrics only)")
    parser.add_argument("--est_scp", help="signals to score (wav.scp format); not needed for trial "
                        "metrics alone")
    parser.add_argument("--out_dir", required=True, help="score directory")
    parser.add_argument("--metrics", default=None,
                        help=f"comma-separated, from {','.join(registry.names())} (default: "
                             f"{DEFAULT_METRICS}; with --merge: those of the job files)")
    parser.add_argument("--job", type=int, default=1, help="1-based job index (default: 1)")
    parser.add_argument("--nj", type=int, default=1, help="number of jobs (default: 1)")
    parser.add_argument("--sr", type=int, default=None,
                        help="required sample rate of the signals (default: the reference's, or "
                             "the estimate's without a reference)")
    parser.add_argument("--merge", action="store_true", help="merge the --nj job files and summarize")
    parser.add_argument("--data", help="data dir whose utt2snr / utt2noise group the summary (merge)")
    parser.add_argument("--text", help="reference transcripts '<utt> words...' (wer, cer)")
    parser.add_argument("--asr_backend", default=DEFAULT_BACKEND,
                        help=f"ASR backend of kdspeech.asr for wer / cer: pocketsphinx, moonshine or "
                             f"trained:<exp dir or model file> (default: {DEFAULT_BACKEND})")
    parser.add_argument("--asr_lm_text", help="Kaldi text file to build the ASR language model from "
                        f"(once, in <out_dir>/{LM_NAME}; default: the backend's own LM)")
    parser.add_argument("--trials", help="trial list '<enroll> <test> target|nontarget' (eer, min_dcf)")
    parser.add_argument("--trial_scores", help="trial scores '<enroll> <test> <score>' (eer, min_dcf)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.nj < 1:
        raise KdError(f"--nj must be at least 1, got {args.nj}")
    names = trial_names = []
    if args.metrics is not None or not args.merge:
        names, trial_names = split_kinds(registry.check_names((args.metrics or DEFAULT_METRICS).split(",")))
    elif args.trials:
        trial_names = registry.names("trials")
    if not names and trial_names and not args.est_scp:
        run_trials_only(args, trial_names)
    elif args.merge:
        run_merge(args, names, trial_names)
    else:
        if not args.est_scp:
            raise KdError("--est_scp is required to score utterances")
        if not names:
            raise KdError("only trial metrics asked for: give them without --est_scp")
        run_job(args, names)
    return 0


if __name__ == "__main__":
    run_main(main)
