"""RESULTS.md files in the Kaldi/ESPnet manner: an environment block, then result tables.

The environment block (date, versions, git hash, the exact command) comes first so every number in
the file can be traced to the code and the invocation that produced it.
"""

import math
import numbers
import os

from kdspeech.atomic import atomic_write_text
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


def environment_block(env, command=None):
    """The ``## Environments`` section: one bullet per item, the command verbatim in a code block."""
    env = dict(env)
    command = command if command is not None else env.pop("command", None)
    env.pop("command", None)
    lines = ["## Environments", ""]
    for key in ("date", "host", "git", "python", "kdspeech"):
        if key in env:
            lines.append(f"- {key}: `{env.pop(key)}`")
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
