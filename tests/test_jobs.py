"""Job runners: utils/run.py (local processes) and utils/slurm.py (Slurm array, stand-in sbatch)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kdspeech
from kdspeech.errors import KdError
from kdspeech.jobs.spec import join_words, parse_command_line
from kdspeech.jobs.threads import cpu_count, thread_env, threads_per_job

REPO = Path(kdspeech.__file__).resolve().parents[1]

# Stand-in for `sbatch --parsable --wait --array=A-B[%M] --output=PATTERN ... script`: records its
# arguments, runs each array task in turn with SLURM_ARRAY_TASK_ID set and its output in PATTERN
# (%a = task id), and exits like sbatch --wait with the highest task exit code.
# FAKE_SBATCH_SKIP=i leaves task i unrun (as if killed before it could record its exit code);
# FAKE_SBATCH_DELAY=s waits s seconds before submitting.
FAKE_SBATCH = """\
#!/usr/bin/env python3
import json, os, re, subprocess, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_SBATCH_RECORD"], "a") as f:
    f.write(json.dumps(args) + "\\n")
opts, i = {}, 0
while args[i].startswith("--"):
    if "=" in args[i]:
        key, value = args[i][2:].split("=", 1); i += 1
    elif args[i] in ("--parsable", "--wait"):
        key, value = args[i][2:], True; i += 1
    else:
        key, value = args[i][2:], args[i + 1]; i += 2
    opts[key] = value
script = args[i]
time.sleep(float(os.environ.get("FAKE_SBATCH_DELAY", "0")))   # a slow submission
first, last = map(int, re.fullmatch(r"(\\d+)-(\\d+)(%\\d+)?", opts["array"]).group(1, 2))
print("4242" if opts.get("parsable") else "Submitted batch job 4242", flush=True)
worst = 0
for task in range(first, last + 1):
    if os.environ.get("FAKE_SBATCH_SKIP") == str(task):
        worst = max(worst, 1)
        continue
    env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_JOB_ID="4242",
               SLURM_JOB_ID=str(4242 + task))
    with open(opts["output"].replace("%a", str(task)).replace("%A", "4242"), "w") as out:
        code = subprocess.run([script], stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    worst = max(worst, code)
sys.exit(worst if opts.get("wait") else 0)
"""

# Stand-in for srun inside a one-node test allocation: runs the command once.
FAKE_SRUN = '#!/bin/sh\necho "srun: $*" >> "$FAKE_SBATCH_RECORD.srun"\nexec "$@"\n'


@pytest.fixture
def recipe(tmp_path):
    """A recipe dir (cwd of the runners) with `utils` linked, and stand-ins sbatch/srun on PATH."""
    root = tmp_path / "recipe"
    root.mkdir()
    (root / "utils").symlink_to(REPO / "utils")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", FAKE_SRUN)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return root


def runner(recipe, script, *args, **env):
    path = f"{recipe.parent / 'bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    env = dict(os.environ, PATH=path, FAKE_SBATCH_RECORD=str(recipe.parent / "sbatch.args"), **env)
    env.pop("KDSPEECH_STAGE", None)
    return subprocess.run([f"utils/{script}", *args], cwd=recipe, capture_output=True, text=True,
                          env=env)


def sbatch_calls(recipe):
    path = recipe.parent / "sbatch.args"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# ---- the shared command line -------------------------------------------------------------------

def test_parse_range_log_and_options():
    spec = parse_command_line(["--mem", "4G", "--gpu=1", "--max-jobs-run", "2", "JOB=1:3",
                               "exp/log/x.JOB.log", "cmd", "split/JOB/a", "JOBS"])
    assert (spec.token, list(spec.jobs)) == ("JOB", [1, 2, 3])
    assert (spec.options.mem, spec.options.gpu, spec.options.max_jobs_run) == ("4G", 1, 2)
    assert str(spec.log_path(2)) == "exp/log/x.2.log"
    assert spec.command_words(3) == ["cmd", "split/3/a", "3S"]   # plain substring, as in Kaldi
    assert spec.name() == "x"
    single = parse_command_line(["exp/log/one.log", "echo", "JOB"])
    assert single.token is None and list(single.jobs) == [1]
    assert single.command_words(1) == ["echo", "JOB"]


@pytest.mark.parametrize("argv, message", [
    (["--bogus", "1", "log", "cmd"], "unknown option --bogus"),
    (["--gpu", "x", "log", "cmd"], "needs an integer"),
    (["JOB=1:3", "x.log", "cmd"], "put JOB in its name"),
    (["JOB=3:1", "x.JOB.log", "cmd"], "bad job range"),
    (["JOB=1:2", "x.JOB.log"], "expected a log file and a command"),
    (["--max_jobs_run", "0", "JOB=1:2", "x.JOB.log", "cmd"], "out of range"),
])
def test_parse_errors(argv, message):
    with pytest.raises(KdError, match=message):
        parse_command_line(argv)


def test_join_words_keeps_operators_and_quotes_the_rest():
    assert join_words(["echo", "a b", "|", "tr", "a", "b", "2>&1", ">", "out"]) == \
        "echo 'a b' | tr a b 2>&1 > out"
    assert join_words(["echo", "x=[a,b]", "$HOME", "*"]) == "echo 'x=[a,b]' '$HOME' '*'"


# ---- local ---------------------------------------------------------------------------------------

def test_local_runs_every_job_with_its_own_log(recipe):
    out = runner(recipe, "run.py", "JOB=1:3", "exp/log/echo.JOB.log", "echo", "job", "JOB")
    assert out.returncode == 0, out.stderr
    for job in (1, 2, 3):
        lines = (recipe / f"exp/log/echo.{job}.log").read_text().splitlines()
        assert lines[0] == f"# echo job {job}"
        assert f"job {job}" in lines
        assert lines[-1].startswith("# Ended (code 0) at ")


def test_local_failing_job_fails_all_and_prints_its_tail(recipe):
    out = runner(recipe, "run.py", "JOB=1:3", "exp/log/f.JOB.log",
                 "bash", "-c", 'for i in $(seq 1 40); do echo "line $i"; done; [ JOB != 2 ]')
    assert out.returncode == 1
    assert "1 of 3 jobs failed: JOB=2 (exit code 1)" in out.stderr
    assert "last 20 lines of exp/log/f.2.log" in out.stderr
    assert "line 40" in out.stderr and "# Ended (code 1)" in out.stderr
    assert "line 10\n" not in out.stderr
    # The other jobs ran to the end.
    assert "# Ended (code 0)" in (recipe / "exp/log/f.3.log").read_text()


def test_local_max_jobs_run_one_runs_jobs_one_after_another(recipe):
    out = runner(recipe, "run.py", "--max_jobs_run", "1", "JOB=1:3", "exp/log/s.JOB.log",
                 "bash", "-c", "echo start JOB >> order; sleep 0.2; echo end JOB >> order")
    assert out.returncode == 0, out.stderr
    events = (recipe / "order").read_text().splitlines()
    assert sorted(events[0::2]) == ["start 1", "start 2", "start 3"]
    for start, end in zip(events[0::2], events[1::2]):
        assert end == start.replace("start", "end")   # no job started before the last one ended


def test_local_single_job_form_and_shell_words(recipe):
    out = runner(recipe, "run.py", "exp/log/one.log", "echo", "JOB", "a", "|", "tr", "a", "b")
    assert out.returncode == 0, out.stderr
    assert "JOB b" in (recipe / "exp/log/one.log").read_text().splitlines()


def test_local_words_reach_the_command_unchanged(recipe):
    (recipe / "x").write_text("")   # a file the glob [x] would match
    out = runner(recipe, "run.py", "JOB=1:1", "exp/log/w.JOB.log", "printf", "<%s>", "[x]", "$HOME",
                 "a  b", "", "it's")
    assert out.returncode == 0, out.stderr
    assert "<[x]><$HOME><a  b><><it's>" in (recipe / "exp/log/w.1.log").read_text()


def test_local_accepts_every_shared_option(recipe):
    out = runner(recipe, "run.py", "--mem", "4G", "--gpu", "1", "--num_threads", "2", "--time",
                 "1:00:00", "--partition", "p", "--num_nodes", "1", "--max_jobs_run", "2",
                 "JOB=1:2", "exp/log/o.JOB.log", "true")
    assert out.returncode == 0, out.stderr


def test_local_usage_errors_exit_1(recipe):
    out = runner(recipe, "run.py", "--foo", "1", "x.log", "true")
    assert out.returncode == 1
    assert "unknown option --foo" in out.stderr and "usage:" in out.stderr


# ---- slurm (stand-in sbatch) ---------------------------------------------------------------------

def test_slurm_runs_an_array_and_checks_every_task(recipe):
    out = runner(recipe, "slurm.py", "JOB=1:3", "exp/log/echo.JOB.log", "echo", "job", "JOB")
    assert out.returncode == 0, out.stderr
    for job in (1, 2, 3):
        lines = (recipe / f"exp/log/echo.{job}.log").read_text().splitlines()
        assert lines[0] == f"# echo job {job}"
        assert f"job {job}" in lines and lines[-1].startswith("# Ended (code 0) at ")
        assert (recipe / f"exp/log/q/echo.done.{job}").read_text() == "0\n"
    [args] = sbatch_calls(recipe)
    assert {"--parsable", "--wait", "--array=1-3"} <= set(args)
    assert f"--output={recipe}/exp/log/echo.%a.log" in args
    assert args[args.index("--job-name") + 1] == "echo"
    assert args[-1] == str(recipe / "exp/log/q/echo.sh")
    assert not any(a.startswith("--gres") for a in args)


def test_slurm_failing_task_fails_the_stage(recipe):
    out = runner(recipe, "slurm.py", "JOB=1:3", "exp/log/f.JOB.log",
                 "bash", "-c", 'for i in $(seq 1 40); do echo "line $i"; done; [ JOB != 2 ]')
    assert out.returncode == 1
    assert "1 of 3 jobs failed: JOB=2 (exit code 1)" in out.stderr
    assert "last 20 lines of exp/log/f.2.log" in out.stderr and "line 40" in out.stderr
    assert (recipe / "exp/log/q/f.done.2").read_text() == "1\n"


def test_slurm_task_without_exit_code_counts_as_failed(recipe):
    out = runner(recipe, "slurm.py", "JOB=1:3", "exp/log/k.JOB.log", "true", FAKE_SBATCH_SKIP="3")
    assert out.returncode == 1
    assert "JOB=3 (no exit code)" in out.stderr


def test_slurm_stale_exit_codes_are_not_reused(recipe):
    assert runner(recipe, "slurm.py", "JOB=1:2", "exp/log/r.JOB.log", "true").returncode == 0
    out = runner(recipe, "slurm.py", "JOB=1:2", "exp/log/r.JOB.log", "true", FAKE_SBATCH_SKIP="2")
    assert out.returncode == 1 and "JOB=2 (no exit code)" in out.stderr


def test_slurm_resource_options(recipe):
    out = runner(recipe, "slurm.py", "--gpu", "1", "--mem", "4G", "--num_threads", "2",
                 "--time", "1:00:00", "--partition", "gpu", "--max_jobs_run", "2",
                 "JOB=1:3", "exp/log/t.JOB.log", "true")
    assert out.returncode == 0, out.stderr
    [args] = sbatch_calls(recipe)
    assert "--gres=gpu:1" in args and "--array=1-3%2" in args
    for flag, value in (("--mem", "4G"), ("--cpus-per-task", "2"), ("--time", "1:00:00"),
                        ("--partition", "gpu")):
        assert args[args.index(flag) + 1] == value
    assert "--nodes" not in args


def test_slurm_multi_node_runs_the_command_through_srun(recipe):
    out = runner(recipe, "slurm.py", "--num_nodes", "2", "exp/log/train.log", "echo", "trained")
    assert out.returncode == 0, out.stderr
    [args] = sbatch_calls(recipe)
    assert args[args.index("--nodes") + 1] == "2"
    assert args[args.index("--ntasks-per-node") + 1] == "1"
    assert "--array=1-1" in args
    assert "trained" in (recipe / "exp/log/train.log").read_text().splitlines()
    assert (recipe.parent / "sbatch.args.srun").read_text().startswith("srun: bash -c echo trained")


def stop_slurm_with_sigterm(recipe, ready, **env):
    """Start utils/slurm.py on a long job, SIGTERM it once `ready` exists; (exit code, stderr)."""
    bin_dir = recipe.parent / "bin"
    (bin_dir / "scancel").write_text(f'#!/bin/sh\necho "$*" > {recipe.parent / "scancelled"}\n')
    (bin_dir / "scancel").chmod(0o755)
    path = f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    env = dict(os.environ, PATH=path, FAKE_SBATCH_RECORD=str(recipe.parent / "sbatch.args"), **env)
    proc = subprocess.Popen(["utils/slurm.py", "exp/log/long.log", "sleep", "30"], cwd=recipe,
                            env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        return proc.returncode, err
    finally:
        try:   # the stand-in sbatch's task (a real one would be cancelled)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_slurm_stopped_with_sigterm_cancels_its_array(recipe):
    """utils/parallel.sh stops a training beside a failed one with SIGTERM: its array must not run on."""
    code, err = stop_slurm_with_sigterm(recipe, recipe / "exp/log/long.log")
    assert code == 143
    assert (recipe.parent / "scancelled").read_text().strip() == "4242"
    assert "cancelling Slurm job 4242" in err


def test_slurm_stopped_while_submitting_stops_sbatch(recipe):
    """A SIGTERM that comes before sbatch has said the job id still stops at once (no hang)."""
    code, err = stop_slurm_with_sigterm(recipe, recipe.parent / "sbatch.args", FAKE_SBATCH_DELAY="30")
    assert code == 143
    assert not (recipe.parent / "scancelled").exists()      # no id was given, so nothing to cancel
    assert not (recipe / "exp/log/long.log").exists()       # sbatch was killed before it submitted


def test_slurm_tasks_get_their_cpus_as_threads(recipe):
    out = runner(recipe, "slurm.py", "--num_threads", "3", "exp/log/t.log", "bash", "-c",
                 'echo "threads $OMP_NUM_THREADS $MKL_NUM_THREADS"')
    assert out.returncode == 0, out.stderr
    log = (recipe / "exp/log/t.log").read_text()
    assert "threads 3 3" in log.splitlines() and "threads=3" in log   # no SLURM_CPUS_PER_TASK here


# ---- threads per job -----------------------------------------------------------------------------

def test_threads_per_job_divides_the_cores():
    assert threads_per_job(1, env={}, cpus=8) == 8
    assert threads_per_job(3, env={}, cpus=8) == 2
    assert threads_per_job(16, env={}, cpus=8) == 1                       # never 0
    assert threads_per_job(2, env={"OMP_NUM_THREADS": "4"}, cpus=8) == 2  # a cap from above
    assert threads_per_job(1, env={"OMP_NUM_THREADS": "32"}, cpus=8) == 8
    assert threads_per_job(1, env={"OMP_NUM_THREADS": "x"}, cpus=8) == 8  # unusable: ignored
    assert threads_per_job(2, env={"KDSPEECH_PARALLEL_JOBS": "2"}, cpus=8) == 2   # folds side by side
    assert thread_env(3) == {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3",
                             "OPENBLAS_NUM_THREADS": "3", "KDSPEECH_PARALLEL_JOBS": "1"}


PROBE = ["bash", "-c", 'echo "threads $OMP_NUM_THREADS $MKL_NUM_THREADS $KDSPEECH_PARALLEL_JOBS"']


def test_local_jobs_get_their_share_of_threads(recipe):
    out = runner(recipe, "run.py", "--num_threads", "3", "I=1:2", "exp/log/n.I.log", *PROBE)
    assert out.returncode == 0, out.stderr
    log = (recipe / "exp/log/n.2.log").read_text()
    assert "threads 3 3 1" in log.splitlines() and "threads=3" in log
    # Default: the runner's budget (here capped at 4 by OMP_NUM_THREADS) over its 2 jobs and the
    # 2 trainings that utils/parallel.sh says run beside this one.
    out = runner(recipe, "run.py", "I=1:2", "exp/log/d.I.log", *PROBE, OMP_NUM_THREADS="4",
                 KDSPEECH_PARALLEL_JOBS="2")
    assert out.returncode == 0, out.stderr
    expected = max(1, min(cpu_count(), 4) // 4)
    assert f"threads {expected} {expected} 1" in (recipe / "exp/log/d.1.log").read_text()
    out = runner(recipe, "run.py", "exp/log/one.log", *PROBE, OMP_NUM_THREADS="1")
    assert "threads 1 1 1" in (recipe / "exp/log/one.log").read_text()


def test_env_sh_makes_openmp_threads_sleep_while_they_wait(tmp_path):
    script = (f'export PATH="{Path(sys.executable).parent}:$PATH" MAIN_ROOT="{REPO}"\n'
              f'. "{REPO}/tools/env.sh"\necho "$OMP_WAIT_POLICY $GOMP_SPINCOUNT $KMP_BLOCKTIME"\n')
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["PASSIVE", "0", "0"], out.stderr
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                         env=dict(env, OMP_WAIT_POLICY="ACTIVE"))
    assert out.stdout.split()[0] == "ACTIVE"   # the user's choice stands


# ---- utils/parallel.sh ---------------------------------------------------------------------------

PARALLEL = """\
set -euo pipefail
. utils/parallel.sh
job() {  # job <item>: "bad" fails after 0.5 s, others start a child that sleeps, then record
  if [ "$1" = bad ]; then sleep 0.5; echo "bad fails" >&2; exit 3; fi
  echo "$1 ${KDSPEECH_PARALLEL_JOBS:-1}" >> started
  bash -c "sleep $SLEEP; echo $1 >> finished"
}
parallel_each "$MAX" "$ITEMS" job
echo "all done" >> finished
"""


def parallel(recipe, items, max_jobs, sleep):
    (recipe / "par.sh").write_text(PARALLEL)
    start = time.monotonic()
    out = subprocess.run(["bash", "par.sh"], cwd=recipe, capture_output=True, text=True,
                         env=dict(os.environ, ITEMS=items, MAX=str(max_jobs), SLEEP=str(sleep)),
                         timeout=60)
    return out, time.monotonic() - start


def lines(path):
    return sorted(path.read_text().splitlines()) if path.exists() else []


def test_parallel_each_runs_every_item_max_at_a_time(recipe):
    out, _ = parallel(recipe, "a b c", 2, 0.2)
    assert out.returncode == 0, out.stderr
    assert lines(recipe / "finished") == ["a", "all done", "b", "c"]
    assert lines(recipe / "started") == ["a 2", "b 2", "c 2"]   # 2 at once: each gets half the cores
    out, _ = parallel(recipe, "x y", 1, 0)
    assert out.returncode == 0, out.stderr
    assert lines(recipe / "started")[-2:] == ["x 1", "y 1"]


def test_parallel_each_stops_the_others_on_the_first_failure(recipe):
    out, elapsed = parallel(recipe, "slow bad", 2, 29.37)   # a length no other process sleeps
    assert out.returncode == 3
    assert "parallel_each: 'job bad' failed (exit code 3); stopping the 1 still running" in out.stderr
    assert elapsed < 15                                 # the sleeping job did not run on
    assert lines(recipe / "started") == ["slow 2"]
    assert not (recipe / "finished").exists()           # ... nor its child, nor the script
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "sleep 29.37" not in [line.strip() for line in ps.splitlines()]


def test_parallel_each_one_at_a_time_stops_at_the_failure(recipe):
    out, _ = parallel(recipe, "a bad c", 1, 0)
    assert out.returncode == 3
    assert lines(recipe / "finished") == ["a"]


AFTER = """\
set -euo pipefail
. utils/parallel.sh
deps() { case $1 in student) echo "t1 t2" ;; t2) echo outside ;; loop1) echo loop2 ;; loop2) echo loop1 ;; esac; }
job() { echo "start $1" >> order; sleep "$SLEEP"; echo "end $1" >> order; }
parallel_each --after deps "$MAX" "$ITEMS" job
"""


@pytest.mark.parametrize("max_jobs", [1, 3])
def test_parallel_each_after_starts_an_item_once_what_it_waits_for_is_done(recipe, max_jobs):
    (recipe / "after.sh").write_text(AFTER)
    env = dict(os.environ, ITEMS="student t1 t2", MAX=str(max_jobs), SLEEP="0.3")
    out = subprocess.run(["bash", "after.sh"], cwd=recipe, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    order = (recipe / "order").read_text().splitlines()
    # the student, listed first, starts after both teachers ended; an item outside the list is no wait
    assert order.index("start student") > max(order.index("end t1"), order.index("end t2"))
    if max_jobs > 1:
        assert order[:2] == ["start t1", "start t2"]   # the teachers ran side by side
    (recipe / "order").unlink()
    out = subprocess.run(["bash", "after.sh"], cwd=recipe, capture_output=True, text=True,
                         env=dict(env, ITEMS="t1 loop1 loop2"), timeout=60)
    assert out.returncode == 2 and "loop1 loop2 wait for items that never run" in out.stderr
    assert (recipe / "order").read_text().splitlines() == ["start t1", "end t1"]
