"""Run the jobs of a :class:`~kdspeech.jobs.spec.JobSpec` as processes on this machine.

Like Kaldi's run.pl: each job runs through bash with stdout and stderr in its own log, which starts
with the command and ends with its exit code and elapsed time; at most ``--max_jobs_run`` jobs run
at once (default: all).  Jobs run with ``PYTHONUNBUFFERED=1``, so that a log shows each line when it
is written (a progress line, a training's last epoch), not in blocks at the end.  Resource options (--mem, --gpu, --time, ...) mean nothing here and are
ignored, so that cmd.sh can switch between this runner and Slurm freely.
"""

import datetime
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from kdspeech.jobs.spec import cli, failure_report
from kdspeech.jobs.threads import jobs_at_once, thread_env, threads_per_job


def _now():
    return datetime.datetime.now().astimezone().strftime("%a %b %d %H:%M:%S %Z %Y")


def run_one(spec, job, threads=1, running=None):
    """Run one job with its output in its log, on ``threads`` threads (``running``: jobs at once, for
    the record); return its exit code (None: could not start)."""
    log_path = spec.log_path(job)
    command = spec.shell_command(job)
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w", encoding="utf-8") as log:
            log.write(f"# {command}\n# Started at {_now()}\n#\n")
            log.flush()
            start = time.monotonic()
            proc = subprocess.run(
                ["bash", "-c", command],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=dict(os.environ, PYTHONUNBUFFERED="1", **thread_env(threads, running)),
            )
            elapsed = round(time.monotonic() - start)
            # A job killed by signal S reports 128+S, as the shell would.
            code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
            log.write(f"# Accounting: time={elapsed} threads={threads}\n")
            log.write(f"# Ended (code {code}) at {_now()}, elapsed time {elapsed} seconds\n")
    except OSError as err:
        print(f"job {job}: {err}", file=sys.stderr)
        return None
    return code


def run_jobs(spec, prog="run.py"):
    """Run every job; 0 if all succeed, else report the failures on stderr and return 1."""
    jobs = list(spec.jobs)
    workers = min(spec.options.max_jobs_run or len(jobs), len(jobs))
    threads = spec.options.num_threads or threads_per_job(workers)
    running = jobs_at_once(workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        codes = list(pool.map(lambda job: run_one(spec, job, threads, running), jobs))
    failed = [(job, code) for job, code in zip(jobs, codes) if code != 0]
    if failed:
        print(failure_report(prog, spec, failed), file=sys.stderr)
        return 1
    return 0


def main(argv=None, prog="run.py"):
    return cli(sys.argv[1:] if argv is None else argv, prog, run_jobs)
