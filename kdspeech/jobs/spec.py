"""The job runners' shared command line: options, ``JOB=1:N``, the log path and the command.

    utils/run.py   [options] JOB=1:4 exp/x/log/foo.JOB.log cmd args...   # 4 jobs
    utils/slurm.py [options] exp/x/log/foo.log cmd args...               # one job (Kaldi form)

The token on the left of ``JOB=1:4`` (any identifier) is replaced by the job number in the log
path and in every command word, as a plain substring (as in Kaldi: ``split4/JOB/feats.scp``).
Both runners accept the same options, so that ``cmd.sh`` can switch between them; a runner ignores
the options that mean nothing to it.
"""

import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kdspeech.errors import KdError

_RANGE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+)(?::(\d+))?$")

# option name -> (type, help); every option takes a value.
OPTIONS = {
    "mem": (str, "memory per job, e.g. 8G (Slurm --mem)"),
    "gpu": (int, "GPUs per job (Slurm --gres=gpu:N)"),
    "num_threads": (int, "CPU threads per job (Slurm --cpus-per-task; local default: "
                         "cores // parallel jobs)"),
    "time": (str, "time limit, e.g. 2:00:00 (Slurm --time)"),
    "max_jobs_run": (int, "at most this many jobs at once (default: all)"),
    "partition": (str, "Slurm partition"),
    "num_nodes": (int, "nodes per job; >1 runs the command on each node through srun"),
}

USAGE = (
    "usage: {prog} [options] [JOB=1:N] <log> <command> [args...]\n"
    "  JOB=1:N  run N jobs, with JOB replaced by 1..N in <log> and in the command words\n"
    "  <log>    log file (must contain JOB when there are several jobs)\n"
    "options (also --name=value, dashes or underscores):\n"
    + "".join(f"  --{name:<14} {help_}\n" for name, (_, help_) in OPTIONS.items())
)


@dataclass
class RunnerOptions:
    """Resources asked for each job."""

    mem: str = None
    gpu: int = 0
    num_threads: int = None    # None: the runner decides (kdspeech.jobs.threads)
    time: str = None
    max_jobs_run: int = None
    partition: str = None
    num_nodes: int = 1


@dataclass
class JobSpec:
    """What to run: jobs ``first..last``, with ``token`` replaced by the job number."""

    log_pattern: str
    command: list
    token: str = None          # None: Kaldi's single-job form, nothing is substituted
    first: int = 1
    last: int = 1
    options: RunnerOptions = field(default_factory=RunnerOptions)

    @property
    def jobs(self):
        return range(self.first, self.last + 1)

    def substitute(self, text, job):
        return text if self.token is None else text.replace(self.token, str(job))

    def log_path(self, job):
        return Path(self.substitute(self.log_pattern, job))

    def command_words(self, job):
        return [self.substitute(word, job) for word in self.command]

    def shell_command(self, job):
        """The command line that bash runs for ``job`` (see :func:`join_words`)."""
        return join_words(self.command_words(job))

    def name(self):
        """A short name for job scripts and Slurm: ``exp/x/log/foo.JOB.log`` -> ``foo``."""
        base = Path(self.log_pattern).name
        if self.token:
            base = base.replace(self.token, "")
        base = re.sub(r"\.log$", "", base)
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", base)
        base = re.sub(r"\.+", ".", base).strip("._")
        return base or "job"


# Words that are shell syntax when passed on their own, as with Kaldi's `run.pl log a \| b`:
# pipes, command separators and redirections.
_SHELL_OPERATOR = re.compile(r"\|\|?|\|&|&&|;|[0-9]*(>>?|<)|[0-9]*>&[0-9]+|&>>?")


def join_words(words):
    """Join command words into the bash command line a job runs.

    A word that is a shell operator on its own (``|``, ``>``, ``2>&1``, ``&&``, ...) keeps its
    meaning, so that Kaldi-style ``cmd a \\| cmd b \\> out`` works; every other word is quoted
    where needed and so reaches the command as it was given (no globbing, no ``$`` expansion).
    For anything more, pass ``bash -c "a | b"``.
    """
    return " ".join(w if _SHELL_OPERATOR.fullmatch(w) else shlex.quote(w) for w in words)


def parse_command_line(argv):
    """Parse ``[options] [JOB=a:b] <log> <command...>`` into a :class:`JobSpec` (KdError if bad)."""
    argv = list(argv)
    options = RunnerOptions()
    while argv and argv[0].startswith("--"):
        word = argv.pop(0)
        if "=" in word:
            key, value = word[2:].split("=", 1)
        else:
            key = word[2:]
            if not argv:
                raise KdError(f"option {word} needs a value")
            value = argv.pop(0)
        key = key.replace("-", "_")
        if key not in OPTIONS:
            raise KdError(f"unknown option {word}")
        kind = OPTIONS[key][0]
        try:
            value = kind(value)
        except ValueError:
            raise KdError(f"option {word} needs an integer, got {value!r}") from None
        lowest = 0 if key == "gpu" else 1
        if kind is int and value < lowest:
            raise KdError(f"option {word} is out of range: {value}")
        setattr(options, key, value)

    spec = JobSpec(log_pattern="", command=[], options=options)
    if argv:
        match = _RANGE.match(argv[0])
        if match:
            argv.pop(0)
            spec.token = match.group(1)
            spec.first = int(match.group(2))
            spec.last = int(match.group(3) if match.group(3) is not None else match.group(2))
            if spec.first < 1 or spec.last < spec.first:
                raise KdError(f"bad job range {match.group(0)} (want {spec.token}=1:N, N >= 1)")
    if len(argv) < 2:
        raise KdError("expected a log file and a command")
    spec.log_pattern, spec.command = argv[0], argv[1:]
    if spec.token and len(spec.jobs) > 1 and spec.token not in spec.log_pattern:
        raise KdError(
            f"{len(spec.jobs)} jobs would share the log {spec.log_pattern}: "
            f"put {spec.token} in its name (e.g. foo.{spec.token}.log)"
        )
    return spec


def tail(path, lines=20):
    """The last ``lines`` lines of a text file ('' when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "".join(data.splitlines(keepends=True)[-lines:])


def failure_report(prog, spec, failed):
    """Text saying which jobs failed (``failed``: list of (job, code or None)) and the first one's
    log tail.  ``None`` means the job left no exit code (killed, or never ran)."""
    def what(code):
        return "no exit code" if code is None else f"exit code {code}"

    label = spec.token or "JOB"
    lines = [f"{prog}: {len(failed)} of {len(spec.jobs)} jobs failed: "
             + ", ".join(f"{label}={job} ({what(code)})" for job, code in failed)]
    first_log = spec.log_path(failed[0][0])
    text = tail(first_log)
    if text:
        lines.append(f"---- last 20 lines of {first_log} ----")
        lines.append(text.rstrip("\n"))
        lines.append("----")
    else:
        lines.append(f"(no log at {first_log})")
    return "\n".join(lines)


def cli(argv, prog, run):
    """Shared entry point of utils/run.py and utils/slurm.py: parse, then ``run(spec, prog)``."""
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE.format(prog=prog), end="")
        return 0
    try:
        spec = parse_command_line(argv)
    except KdError as err:
        print(f"{prog}: {err}\n{USAGE.format(prog=prog)}", end="", file=sys.stderr)
        return 1
    return run(spec, prog)
