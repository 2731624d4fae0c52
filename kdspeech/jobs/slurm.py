"""Run the jobs of a :class:`~kdspeech.jobs.spec.JobSpec` as one Slurm job array.

A job script ``<logdir>/q/<name>.sh`` is written and submitted with
``sbatch --parsable --wait --array=1-N[%max] --output=<log with %a> ...``.  Array task i runs job i
and writes its exit code to ``<logdir>/q/<name>.done.<i>``; after sbatch returns, every task's code
is checked (a missing one, e.g. a task killed for time or memory, counts as a failure) and failures
are reported as by the local runner.  With ``--num_nodes K`` > 1 each task gets K nodes and runs
the command once per node through ``srun`` (for multi-node training with utils/launch.py).
Anything else sbatch should know (account, QoS, ...) can come from sbatch's own ``SBATCH_*``
environment variables.
"""

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from kdspeech.jobs.spec import cli, failure_report


def queue_dir(spec):
    """``<logdir>/q``: the job script and the per-task exit codes."""
    return Path(os.path.abspath(spec.log_path(spec.first).parent)) / "q"


def done_file(spec, job):
    return queue_dir(spec) / f"{spec.name()}.done.{job}"


def sbatch_command(spec, script):
    """The sbatch command line that submits ``script`` as an array over ``spec.jobs``."""
    opts = spec.options
    array = f"{spec.first}-{spec.last}"
    if opts.max_jobs_run:
        array += f"%{opts.max_jobs_run}"
    pattern = os.path.abspath(spec.log_pattern)
    if spec.token:
        pattern = pattern.replace(spec.token, "%a")
    args = ["sbatch", "--parsable", "--wait", f"--array={array}", f"--output={pattern}",
            "--job-name", spec.name()]
    if opts.mem:
        args += ["--mem", opts.mem]
    if (opts.num_threads or 1) > 1:
        args += ["--cpus-per-task", str(opts.num_threads)]
    if opts.gpu > 0:
        args += [f"--gres=gpu:{opts.gpu}"]
    if opts.time:
        args += ["--time", opts.time]
    if opts.partition:
        args += ["--partition", opts.partition]
    if opts.num_nodes > 1:
        args += ["--nodes", str(opts.num_nodes), "--ntasks-per-node", "1"]
    return args + [str(script)]


def job_script(spec, submit_line):
    """The bash script run by every array task: job ``$SLURM_ARRAY_TASK_ID`` of ``spec``."""
    launcher = "srun " if spec.options.num_nodes > 1 else ""
    commands = "\n".join(f"  [{job}]={shlex.quote(spec.shell_command(job))}" for job in spec.jobs)
    done = shlex.quote(str(done_file(spec, "")))  # ends in "done.": the task id is appended
    return f"""#!/usr/bin/env bash
# Written by utils/slurm.py for {spec.log_pattern}; submitted with:
#   {submit_line}
# Array task i runs commands[i] (its output goes to its log through sbatch --output) and writes its
# exit code to ${{done}}i, which utils/slurm.py checks once sbatch --wait returns.
done={done}
cd {shlex.quote(os.getcwd())} || exit 1
[ -f ./path.sh ] && . ./path.sh
task=${{SLURM_ARRAY_TASK_ID:?not run as a Slurm array task}}
# Threads of OpenMP/MKL/OpenBLAS: the CPUs Slurm gave the task (see kdspeech/jobs/threads.py).
export OMP_NUM_THREADS=${{SLURM_CPUS_PER_TASK:-{spec.options.num_threads or 1}}}
export MKL_NUM_THREADS=$OMP_NUM_THREADS OPENBLAS_NUM_THREADS=$OMP_NUM_THREADS KDSPEECH_PARALLEL_JOBS=1
export PYTHONUNBUFFERED=1   # the log shows each line when it is written
declare -A commands=(
{commands}
)
echo "# ${{commands[$task]}}"
echo "# Started at $(date) on $(hostname)"
echo "#"
start=$(date +%s)
{launcher}bash -c "${{commands[$task]}}" < /dev/null
code=$?
elapsed=$(( $(date +%s) - start ))
echo "# Accounting: time=$elapsed threads=$OMP_NUM_THREADS"
echo "# Ended (code $code) at $(date), elapsed time $elapsed seconds"
echo "$code" > "$done$task.tmp" && mv -f "$done$task.tmp" "$done$task"
exit $code
"""


def read_code(path):
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def cancel(prog, proc, job_id):
    """Stop waiting: kill sbatch and scancel the array (its id read now if sbatch had not said it)."""
    if proc is None:
        return
    proc.kill()
    if not job_id:
        try:
            job_id = (proc.communicate(timeout=5)[0] or "").strip().split(";")[0]
        except (subprocess.TimeoutExpired, ValueError):
            job_id = ""
    if job_id:
        print(f"{prog}: stopped; cancelling Slurm job {job_id}", file=sys.stderr)
        subprocess.run(["scancel", job_id], check=False)


def run_jobs(spec, prog="slurm.py"):
    """Submit, wait, and check every task; 0 if all succeed, else report on stderr and return 1."""
    qdir = queue_dir(spec)
    qdir.mkdir(parents=True, exist_ok=True)
    for job in spec.jobs:
        spec.log_path(job).parent.mkdir(parents=True, exist_ok=True)  # Slurm does not make it
        done_file(spec, job).unlink(missing_ok=True)
    script = qdir / f"{spec.name()}.sh"
    command = sbatch_command(spec, script)
    script.write_text(job_script(spec, shlex.join(command)))
    script.chmod(0o755)

    # Stopped (Ctrl-C, or SIGTERM when utils/parallel.sh stops the trainings beside a failed one):
    # cancel the array, which would otherwise run on without anyone waiting for it.  The handler is
    # in place before sbatch starts, so no signal can fall between submitting and waiting.
    terminated = []

    def on_term(signum, frame):
        terminated.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    proc, job_id = None, ""
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        job_id = proc.stdout.readline().strip().split(";")[0]  # --parsable: "id" or "id;cluster"
        proc.communicate()
    except OSError as err:
        print(f"{prog}: cannot run sbatch: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        cancel(prog, proc, job_id)
        if terminated:
            return 128 + signal.SIGTERM
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)

    jobs = list(spec.jobs)
    codes = [read_code(done_file(spec, job)) for job in jobs]
    if proc.returncode != 0 and all(code is None for code in codes):
        print(f"{prog}: sbatch failed (exit code {proc.returncode}); job script {script}",
              file=sys.stderr)
    failed = [(job, code) for job, code in zip(jobs, codes) if code != 0]
    if failed:
        print(failure_report(prog, spec, failed), file=sys.stderr)
        return 1
    return 0


def main(argv=None, prog="slurm.py"):
    return cli(sys.argv[1:] if argv is None else argv, prog, run_jobs)
