"""What a result was made with: date, versions, git hash, the command line."""

import datetime
import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys

import kdspeech


def git_hash(root=None):
    root = root or os.path.dirname(os.path.dirname(os.path.abspath(kdspeech.__file__)))
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


def environment(argv=None):
    """A flat dict of the environment, for exp dirs and RESULTS.md files."""
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
    return info
