"""What a result was made with: date, versions, git hash, threads, the pinned packages, the command.

:func:`environment` is the record kept in every exp dir (``env.json``) and at the top of every
RESULTS.md (:func:`kdspeech.results.environment_block`):

- ``date``, ``host``, ``python``, ``kdspeech``, ``git`` (short hash, ``-dirty`` when tracked files
  differ from it), ``command``, and the versions of the packages that decide the numbers;
- threads: ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` as set (``unset`` otherwise), PyTorch's
  intra-op and inter-op thread counts in this process, and ``parallel_jobs``, the jobs the job
  runner ran at once beside this one (``$KDSPEECH_JOBS_AT_ONCE``, set by kdspeech/jobs/local.py),
  where known;
- the lock file ``tools/requirements.lock`` (the exact versions tools/install.sh installs) by its
  sha256, and ``lock_differences``: each installed package whose version is not the locked one
  (``torch 2.10.0 (lock: 2.11.0)``), locked but not installed, or installed but not locked.  A
  difference is also logged as a warning, once per process.
"""

import datetime
import hashlib
import importlib.metadata
import logging
import os
import platform
import re
import shlex
import subprocess
import sys

import kdspeech
from kdspeech.errors import KdError

log = logging.getLogger(__name__)

#: The lock file, relative to the repository root.
LOCK_FILE = "tools/requirements.lock"
#: Distributions that are not part of the lock: kdspeech itself (installed editable from the checkout).
NOT_LOCKED = ("kdspeech",)

_warned = set()


def repo_root():
    """The checkout kdspeech is imported from (the parent of the package directory)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(kdspeech.__file__)))


def git_hash(root=None):
    root = root or repo_root()
    try:
        out = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def package_version(name):
    """Installed version of a distribution (pesq has no ``__version__``), or None when absent."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def normalize_name(name):
    """A distribution name as pip compares them (PEP 503): ``PyYAML`` and ``pyyaml``, ``a_b`` and
    ``a-b`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path):
    """``{normalized name: (name, version)}`` from a lock file of ``name==version`` lines (``#``
    comments and blank lines skipped; anything after ``;`` or whitespace ignored).  KdError naming the
    line for any other kind of line."""
    locked = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)(\s*;.*)?", text)
            if not match:
                raise KdError(f"line {number}: expected name==version, got {text!r}", path=str(path))
            locked[normalize_name(match.group(1))] = (match.group(1), match.group(2))
    return locked


def installed_versions():
    """``{normalized name: (name, version)}`` of every distribution this Python can import."""
    installed = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            installed.setdefault(normalize_name(name), (name, dist.version))
    return installed


def lock_differences(locked, installed, ignore=NOT_LOCKED):
    """Where ``installed`` differs from ``locked`` (both as :func:`read_lock` returns), one text per
    package, sorted by name: ``name X (lock: Y)``, ``name not installed (lock: Y)``, ``name X (not
    in the lock)``."""
    skip = {normalize_name(name) for name in ignore}
    out = []
    for key in sorted(set(locked) | set(installed)):
        if key in skip:
            continue
        if key not in installed:
            name, want = locked[key]
            out.append(f"{name} not installed (lock: {want})")
        elif key not in locked:
            name, have = installed[key]
            out.append(f"{name} {have} (not in the lock)")
        elif installed[key][1] != locked[key][1]:
            out.append(f"{installed[key][0]} {installed[key][1]} (lock: {locked[key][1]})")
    return out


def file_sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def lock_record(path=None, installed=None):
    """``{"requirements_lock": <path>, "requirements_lock_sha256": ..., "lock_differences": [...]}``
    for the lock file ``path`` (default: the checkout's tools/requirements.lock); ``{}`` when there is
    none (kdspeech installed elsewhere).  Differences are logged as a warning, once per lock file."""
    path = os.path.abspath(path or os.path.join(repo_root(), LOCK_FILE))
    if not os.path.isfile(path):
        return {}
    shown = os.path.relpath(path, repo_root()) if path.startswith(repo_root() + os.sep) else path
    record = {"requirements_lock": shown, "requirements_lock_sha256": file_sha256(path)}
    try:
        differences = lock_differences(read_lock(path), installed_versions() if installed is None
                                       else installed)
    except KdError as err:
        differences = [f"unreadable lock file: {err}"]
    if differences:
        record["lock_differences"] = differences
        if path not in _warned:
            _warned.add(path)
            log.warning("installed Python packages differ from %s (%d): %s; tools/install.sh installs "
                        "the locked versions", shown, len(differences), "; ".join(differences))
    return record


def thread_record(env=None):
    """The thread counts of this process: the variables as set, PyTorch's counts, the jobs at once."""
    env = os.environ if env is None else env
    record = {name.lower(): env.get(name) or "unset" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        record["torch_num_threads"] = torch.get_num_threads()
        record["torch_num_interop_threads"] = torch.get_num_interop_threads()
    jobs = env.get("KDSPEECH_JOBS_AT_ONCE", "")
    if jobs.isdigit():
        record["parallel_jobs"] = int(jobs)
    return record


def environment(argv=None):
    """A flat dict of the environment, for exp dirs and RESULTS.md files (see the module's text)."""
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "python": platform.python_version(),
        "kdspeech": kdspeech.__version__,
        "git": git_hash(),
        "command": shlex.join(sys.argv if argv is None else argv),
    }
    for name in ("torch", "torchaudio", "numpy", "soundfile", "soxr", "pesq", "pystoi"):
        version = package_version(name)
        if version is not None:
            info[name] = version
    info.update(thread_record())
    info.update(lock_record())
    return info
