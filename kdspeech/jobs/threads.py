"""How many CPU threads a job may use, and the environment variables that tell its libraries.

    threads per job = max(1, budget // jobs running at once)

The budget is the number of CPUs this process may run on (``os.sched_getaffinity``), or
``$OMP_NUM_THREADS`` when that is smaller (a cap set by the user, or the share a parent runner gave
this one, so that nested runners divide it again).  Jobs running at once are the runner's own
parallel jobs times ``$KDSPEECH_PARALLEL_JOBS`` (set by ``utils/parallel.sh`` for trainings run side
by side, e.g. the folds of ``cls.sh``).  More threads than cores make every parallel region of
PyTorch wait for its slowest thread: the mini recipe took 7x longer, not 2x, with one busy process
on a 2-core machine.  How threads wait (OpenMP passive waiting) is set once in ``tools/env.sh``.
"""

import os

#: Thread-count variables of the libraries behind PyTorch and NumPy (OpenMP, MKL, OpenBLAS).
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def cpu_count():
    """CPUs this process may run on (its affinity mask, which taskset/cgroups narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _positive_int(text):
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if value >= 1 else None


def thread_budget(env=None, cpus=None):
    """Threads this runner may hand out: the CPUs, capped by a valid ``$OMP_NUM_THREADS``."""
    env = os.environ if env is None else env
    cpus = cpu_count() if cpus is None else cpus
    cap = _positive_int(env.get("OMP_NUM_THREADS"))
    return min(cpus, cap) if cap else cpus


def threads_per_job(parallel_jobs, env=None, cpus=None):
    """``max(1, budget // (parallel_jobs * $KDSPEECH_PARALLEL_JOBS))``."""
    env = os.environ if env is None else env
    outer = _positive_int(env.get("KDSPEECH_PARALLEL_JOBS")) or 1
    return max(1, thread_budget(env, cpus) // (max(1, int(parallel_jobs)) * outer))


def jobs_at_once(parallel_jobs, env=None):
    """Jobs running at once on this machine: ``parallel_jobs * $KDSPEECH_PARALLEL_JOBS``."""
    env = os.environ if env is None else env
    return max(1, int(parallel_jobs)) * (_positive_int(env.get("KDSPEECH_PARALLEL_JOBS")) or 1)


def thread_env(threads, running=None):
    """Variables a job runs with: ``threads`` for every library; its own parallelism starts at 1.

    ``running`` (jobs running at once, :func:`jobs_at_once`), when known, is recorded as
    ``KDSPEECH_JOBS_AT_ONCE`` for the environment record of what the job makes (kdspeech.env).
    """
    env = {name: str(int(threads)) for name in THREAD_VARS}
    env["KDSPEECH_PARALLEL_JOBS"] = "1"
    if running is not None:
        env["KDSPEECH_JOBS_AT_ONCE"] = str(int(running))
    return env
