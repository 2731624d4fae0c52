"""RESULTS.md files in the Kaldi/ESPnet manner: an environment block, then result tables.

The environment block (date, versions, git hash, threads, the lock file of the Python packages, the
exact command; :mod:`kdspeech.env`) comes first so every number in the file can be traced to the code
and the invocation that produced it.

A recipe's committed RESULTS.md is the reference; a run writes its own copy under ``exp/results/``
and its last stage compares the two table by table (:mod:`kdspeech.results_compare`).  Whether a
difference is "reproduced" or "differs" is judged against the run-to-run spread that the reference
states, in this form (:func:`spread_section` writes it; a report writer adds it to its sections):

    ## Run-to-run spread

    <how it was measured, e.g. the largest difference between 3 training seeds>

    | metric | spread |
    |---|---:|
    | PESQ-WB | 0.05 |
    | SI-SDR (dB) | 0.4 |

A section whose heading is ``Run-to-run spread`` (at any level), its first table with the columns
``metric`` and ``spread``; each metric is named as a column header of the result tables (``PESQ-WB``,
``EER (%)``) or as the heading or caption of a table where the metric is in the title and the columns
are systems (``PESQ-WB by input SNR``); a spread is an absolute amount in that metric's unit: a cell
of a run is reproduced when it is within that distance of the reference's.
"""

import math
import numbers
import os
import shutil

from kdspeech.atomic import atomic_path, atomic_write_text
from kdspeech.env import environment

MISSING = "-"


def format_cell(value, floatfmt=".3f"):
    """A table cell: floats with ``floatfmt``, None/NaN as ``-``, ``|`` escaped in text."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return MISSING if math.isnan(value) else format(float(value), floatfmt)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def markdown_table(header, rows, floatfmt=".3f"):
    """A GitHub markdown table; columns holding only numbers (or blanks) are right-aligned."""
    header = list(header)
    rows = [list(row) for row in rows]
    for index, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"row {index} has {len(row)} cells, the header has {len(header)}")
    aligns = []
    for column in range(len(header)):
        cells = [row[column] for row in rows if row[column] is not None]
        numeric = bool(cells) and all(_is_number(cell) for cell in cells)
        aligns.append("---:" if numeric else "---")
    lines = ["| " + " | ".join(format_cell(cell) for cell in header) + " |"]
    lines.append("|" + "|".join(aligns) + "|")
    for row in rows:
        lines.append("| " + " | ".join(format_cell(cell, floatfmt) for cell in row) + " |")
    return "\n".join(lines) + "\n"


SPREAD_HEADING = "Run-to-run spread"
SPREAD_COLUMNS = ("metric", "spread")


def spread_section(spreads, note):
    """``(heading, text)`` of the run-to-run spread section (the form in the module's text), for the
    ``sections`` of :func:`write_results`.  ``spreads``: ``{metric as a column header: spread}``;
    ``note``: how the spread was measured (seeds, runs), shown above the table."""
    if not spreads:
        raise ValueError("spread_section: no spreads given")
    rows = []
    for metric, spread in spreads.items():
        spread = float(spread)
        if not math.isfinite(spread) or spread < 0:
            raise ValueError(f"spread_section: the spread of {metric!r} must be a number >= 0, got {spread}")
        rows.append([metric, spread])
    table = markdown_table(list(SPREAD_COLUMNS), rows, floatfmt=".4g")
    return SPREAD_HEADING, f"{note.strip()}\n\n{table}" if note and note.strip() else table


# environment() keys shown on one line each, not as "<package> version".
_THREAD_KEYS = ("omp_num_threads", "mkl_num_threads", "torch_num_threads", "torch_num_interop_threads",
                "parallel_jobs")
_LOCK_KEYS = ("requirements_lock", "requirements_lock_sha256", "lock_differences")


def _threads_line(env):
    parts = [f"{key.upper()}={env[key]}" for key in ("omp_num_threads", "mkl_num_threads") if key in env]
    if "torch_num_threads" in env:
        parts.append(f"torch {env['torch_num_threads']} intra-op / {env.get('torch_num_interop_threads', '?')} "
                     "inter-op")
    if "parallel_jobs" in env:
        parts.append(f"{env['parallel_jobs']} parallel job(s)")
    return f"- threads: `{', '.join(parts)}`" if parts else None


def _lock_lines(env):
    if "requirements_lock" not in env:
        return []
    lock = env["requirements_lock"]
    lines = [f"- requirements lock: `{lock}` (sha256 `{str(env.get('requirements_lock_sha256', '?'))[:12]}`)"]
    differences = env.get("lock_differences") or []
    if differences:
        lines.append(f"- WARNING: installed Python packages differ from `{lock}` ({len(differences)}): "
                     + "; ".join(differences))
    return lines


def environment_block(env, command=None):
    """The ``## Environments`` section: one bullet per item (threads on one line, the lock file and a
    warning line when the installed packages differ from it), the command verbatim in a code block."""
    env = dict(env)
    command = command if command is not None else env.pop("command", None)
    env.pop("command", None)
    lines = ["## Environments", ""]
    for key in ("date", "host", "git", "python", "kdspeech"):
        if key in env:
            lines.append(f"- {key}: `{env.pop(key)}`")
    threads = _threads_line(env)
    if threads:
        lines.append(threads)
    lines += _lock_lines(env)
    for key in _THREAD_KEYS + _LOCK_KEYS:
        env.pop(key, None)
    for key, value in env.items():
        lines.append(f"- {key} version: `{value}`")
    if command:
        lines += ["", "Command:", "", "```sh", command, "```"]
    return "\n".join(lines) + "\n"


def link_from(out, path):
    """``path`` (a plot, a table) as a Markdown link from the directory of the results file ``out``."""
    return os.path.relpath(path, os.path.dirname(os.path.abspath(out)))


def write_results(path, title, sections, env=None, command=None):
    """Write a whole RESULTS.md at ``path`` (atomically), replacing any previous one.

    ``sections`` is a list of ``(heading, markdown_text)``; ``env`` defaults to
    ``kdspeech.env.environment()``; ``command`` overrides the command recorded in it.
    """
    env = environment() if env is None else env
    parts = [f"# {title}\n", environment_block(env, command)]
    for heading, text in sections:
        parts.append(f"## {heading}\n\n{text.rstrip()}\n")
    atomic_write_text(path, "\n".join(parts))
    return path


def update_committed(run_dir, dest="."):
    """Copy a run's results (every file under ``run_dir``, laid out as the committed ones: e.g.
    ``exp/results/RESULTS.md`` and ``exp/results/results/*.png``) over the committed copy under ``dest``
    (``RESULTS.md``, ``results/*.png``), each atomically; hidden files (stage stamps) are left out.
    Returns the paths written, relative to ``dest``.  For a maintainer: ``--update_results true``."""
    written = []
    for top, dirs, files in os.walk(run_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            rel = os.path.relpath(os.path.join(top, name), run_dir)
            with atomic_path(os.path.join(dest, rel)) as tmp:
                shutil.copyfile(os.path.join(top, name), tmp)
            written.append(rel)
    return written
