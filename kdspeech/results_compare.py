"""A run's RESULTS.md against the committed one, table by table, row by row, cell by cell.

    report = compare_files("exp/results/RESULTS.md", "RESULTS.md")
    print(report.summary())          # the per-table counts, the cells that differ
    text = report.markdown()         # the summary, then every compared cell of every table

Tables are found in the Markdown (GitHub pipe tables, outside code blocks) and matched by the heading
above them (and their position under it, when a heading has several; a short line between heading and
table, e.g. ``PESQ-WB``, is shown as its caption).  Rows are matched by their first cell, or their
first cells when one is not unique (``comparison | metric``); columns by their header.  Each cell of
both files is one of:

- ``identical``: the same text;
- ``reproduced`` / ``differs``: numbers within / beyond the run-to-run spread that the reference
  states for the cell's metric (its ``Run-to-run spread`` section, :mod:`kdspeech.results`): the
  metric named by the cell's column header, else by a cell that identifies its row (``| s2 - s1 |
  PESQ-WB | ...``), else the longest one named in the table's heading or caption; where none is
  stated, a reference cell ``mean ± std`` (over its runs: seeds, folds) is its own spread, and the
  means are compared against its std;
- ``no stated spread``: numbers that differ, with no spread stated for their metric;
- ``missing in ours`` / ``missing in the reference``: a number on one side, ``-`` or nothing on the
  other; ``text differs``: two different texts.

Rows, columns and tables on one side only are listed.  A number is a cell such as ``1.234``,
``-5``, ``+0.12``, ``12.5 %``, ``1.3x`` or ``**0.98**``, or a number with an interval, ``-0.011
[-0.018, -0.005]``, or with a spread, ``41.1 ± 6.9``, compared by that number; anything else is text.
"""

import math
import re
from dataclasses import dataclass, field

from kdspeech.results import MISSING, SPREAD_COLUMNS, SPREAD_HEADING, markdown_table

VERDICTS = ("identical", "reproduced", "differs", "no stated spread", "missing in ours",
            "missing in the reference", "text differs")

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_NUMBER = re.compile(r"^([+-]?(?:\d+(?:\.(\d*))?|\.(\d+))(?:[eE][+-]?\d+)?)"
                     r"(?:\s*(?:±|\+-|\+/-)\s*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?))?\s*(?:%|x|×|dB|s)?"
                     r"(?:\s*\[[^\]]*\])?$")


@dataclass
class Table:
    """One pipe table of a Markdown file: where it sits, its header and its rows (lists of cells)."""

    heading: str        # the nearest heading above it ("" before any)
    position: int       # its number under that heading (0, 1, ...), headings repeated counted apart
    caption: str        # the last line of text between the heading (or the previous table) and it
    header: list
    rows: list
    heading_index: int = 0   # which occurrence of this heading text in the file

    @property
    def key(self):
        return (self.heading, self.heading_index, self.position)

    @property
    def title(self):
        name = self.heading or "(before the first heading)"
        if self.heading_index:
            name += f" (#{self.heading_index + 1})"
        if self.caption:
            return f"{name}: {self.caption}"
        return name if self.position == 0 else f"{name}, table {self.position + 1}"


def split_row(line):
    """The cells of a pipe-table line (``\\|`` kept as a ``|`` inside a cell), stripped."""
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    cells = re.split(r"(?<!\\)\|", text)
    return [cell.strip().replace("\\|", "|") for cell in cells]


def parse_tables(text):
    """Every pipe table of a Markdown text, in order (fenced code blocks skipped)."""
    tables = []
    lines = text.splitlines()
    heading, caption, fenced = "", "", False
    seen_headings, per_heading = {}, {}
    heading_index = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```") or stripped.startswith("~~~"):
            fenced = not fenced
            i += 1
            continue
        if fenced:
            i += 1
            continue
        match = _HEADING.match(stripped)
        if match:
            heading = match.group(2)
            heading_index = seen_headings.get(heading, -1) + 1
            seen_headings[heading] = heading_index
            caption = ""
            i += 1
            continue
        if stripped.startswith("|") and i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1].strip()):
            header = split_row(stripped)
            rows = []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = split_row(lines[i])
                cells += [""] * (len(header) - len(cells))
                rows.append(cells[:len(header)])
                i += 1
            key = (heading, heading_index)
            position = per_heading.get(key, 0)
            per_heading[key] = position + 1
            tables.append(Table(heading, position, caption, header, rows, heading_index))
            caption = ""
            continue
        if stripped:
            caption = stripped if len(stripped) <= 80 else ""
        i += 1
    return tables


def parse_number(cell):
    """``(value, decimals)`` of a numeric cell, or None for text (``**``, backticks and a unit such as
    ``%`` or ``dB`` allowed around the number, an interval ``[a, b]`` or a spread ``± s`` after it; a
    Unicode minus counts as ``-``).  ``decimals`` is -1 for scientific notation."""
    parsed = parse_mean_std(cell)
    return None if parsed is None else parsed[:2]


def parse_mean_std(cell):
    """``(value, decimals, std)`` of a numeric cell (``std`` the ``s`` of ``m ± s``, else None), or
    None for text."""
    text = cell.strip().strip("*`").strip().replace("\u2212", "-")
    match = _NUMBER.match(text)
    if not match:
        return None
    value = float(match.group(1))
    if not math.isfinite(value):
        return None
    decimals = -1 if re.search("[eE]", match.group(1)) else len(match.group(2) or match.group(3) or "")
    std = float(match.group(4)) if match.group(4) else None
    return value, decimals, std   # decimals -1: scientific notation


def read_spreads(tables):
    """``{metric: spread}`` from the ``Run-to-run spread`` section among ``tables`` (its first table
    with the columns metric and spread); ``{}`` when there is none."""
    for table in tables:
        if table.heading.strip().lower() != SPREAD_HEADING.lower():
            continue
        header = [h.strip().lower() for h in table.header]
        if not all(name in header for name in SPREAD_COLUMNS):
            continue
        m, s = header.index(SPREAD_COLUMNS[0]), header.index(SPREAD_COLUMNS[1])
        spreads = {}
        for row in table.rows:
            number = parse_number(row[s])
            if row[m] and number is not None:
                spreads[row[m]] = abs(number[0])
        return spreads
    return {}


def _names_metric(text, metric):
    return re.search(rf"(?<![\w-]){re.escape(metric)}(?![\w-])", text) is not None


def spread_for(spreads, column, table, row_key=()):
    """The spread of a cell: the metric named by its column header, else by one of its row's key
    cells, else the longest one named in the table's heading or caption; None when none fits."""
    by_name = {metric.strip().lower(): spread for metric, spread in spreads.items()}
    for name in (column, *row_key):
        if name.strip().lower() in by_name:
            return by_name[name.strip().lower()]
    title = f"{table.heading} {table.caption}"
    named = [metric for metric in spreads if _names_metric(title, metric)]
    return spreads[max(named, key=len)] if named else None


def _key_width(*tables):
    """How many leading cells identify a row: the fewest that are unique in every table."""
    width = min(len(t.header) for t in tables)
    for k in range(1, width + 1):
        if all(len({tuple(r[:k]) for r in t.rows}) == len(t.rows) for t in tables):
            return k
    return width


def _column_keys(header, start):
    """``[(name, occurrence)]`` of the columns from ``start`` on (a header used twice counted apart)."""
    seen, keys = {}, []
    for name in header[start:]:
        seen[name] = seen.get(name, -1) + 1
        keys.append((name, seen[name]))
    return keys


def _is_missing(cell):
    return cell.strip() in ("", MISSING)


@dataclass
class Cell:
    row: str
    column: str
    ours: str
    reference: str
    difference: str
    verdict: str


def compare_cell(ours, reference, spread):
    """``(difference text, verdict)`` of one cell pair (see the module's text)."""
    if ours.strip() == reference.strip():
        return "", "identical"
    a, b = parse_mean_std(ours), parse_mean_std(reference)
    if a is not None and b is not None:
        diff = a[0] - b[0]
        text = f"{diff:+.3g}" if min(a[1], b[1]) < 0 else f"{diff:+.{max(a[1], b[1])}f}"
        if spread is None:
            spread = b[2]   # the reference's own "± std" over its runs
        if spread is None:
            return text, "no stated spread"
        return text, "reproduced" if abs(diff) <= spread + 1e-12 * max(1.0, abs(b[0])) else "differs"
    if a is not None and _is_missing(reference):
        return "", "missing in the reference"
    if b is not None and _is_missing(ours):
        return "", "missing in ours"
    return "", "text differs"


@dataclass
class TableComparison:
    title: str
    cells: list = field(default_factory=list)
    only_ours: list = field(default_factory=list)        # rows / columns of ours alone
    only_reference: list = field(default_factory=list)   # rows / columns of the reference alone
    side: str = ""        # "" (both files), "ours" or "reference": the table is in that file only

    def counts(self):
        counts = dict.fromkeys(VERDICTS, 0)
        for cell in self.cells:
            counts[cell.verdict] += 1
        return counts


def compare_tables(ours, reference, spreads):
    """A :class:`TableComparison` of two tables matched by their heading."""
    result = TableComparison(reference.title)
    k = _key_width(ours, reference)
    rows_ours = {tuple(r[:k]): r for r in ours.rows}
    rows_ref = {tuple(r[:k]): r for r in reference.rows}
    cols_ours = dict(zip(_column_keys(ours.header, k), range(k, len(ours.header))))
    cols_ref = dict(zip(_column_keys(reference.header, k), range(k, len(reference.header))))
    columns = [c for c in cols_ref if c in cols_ours]
    result.only_ours += [f"column {name}" for name, _ in cols_ours if (name, _) not in cols_ref]
    result.only_reference += [f"column {name}" for name, _ in cols_ref if (name, _) not in cols_ours]
    for key, ref_row in rows_ref.items():
        label = " / ".join(key)
        if key not in rows_ours:
            result.only_reference.append(f"row {label}")
            continue
        our_row = rows_ours[key]
        for column in columns:
            name = column[0]
            a, b = our_row[cols_ours[column]], ref_row[cols_ref[column]]
            if parse_number(a) is None and parse_number(b) is None and a.strip() == b.strip():
                continue   # the same text (a label, a path): nothing to report
            difference, verdict = compare_cell(a, b, spread_for(spreads, name, reference, key))
            result.cells.append(Cell(label, name, a, b, difference, verdict))
    result.only_ours += [f"row {' / '.join(key)}" for key in rows_ours if key not in rows_ref]
    return result


@dataclass
class Report:
    ours_path: str
    reference_path: str
    spreads: dict
    tables: list          # of TableComparison, in the reference's order, then ours alone
    reference_found: bool = True

    def counts(self):
        total = dict.fromkeys(VERDICTS, 0)
        for table in self.tables:
            for verdict, n in table.counts().items():
                total[verdict] += n
        return total

    def header_lines(self):
        lines = [f"- ours: `{self.ours_path}`", f"- reference: `{self.reference_path}`"]
        if not self.reference_found:
            lines.append(f"- no committed results at `{self.reference_path}`: nothing to compare with")
            return lines
        if self.spreads:
            stated = ", ".join(f"{m} {s:g}" for m, s in self.spreads.items())
            lines.append(f"- run-to-run spread stated by the reference: {stated}")
        else:
            lines.append(f"- the reference states no run-to-run spread (no '{SPREAD_HEADING}' section): "
                         "numbers that differ are reported as 'no stated spread'")
        counts = self.counts()
        shown = ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n) or "no cells"
        lines.append(f"- {sum(counts.values())} cells compared in {len(self.tables)} tables: {shown}")
        return lines

    def summary_table(self):
        rows = []
        for table in self.tables:
            counts = table.counts()
            if table.side:
                other = f"table only in {'ours' if table.side == 'ours' else 'the reference'}"
            else:
                parts = ([f"ours only: {', '.join(table.only_ours)}"] if table.only_ours else []) + \
                        ([f"reference only: {', '.join(table.only_reference)}"] if table.only_reference else [])
                other = "; ".join(parts) or "-"
            rows.append([table.title, *(counts[v] for v in VERDICTS[:4]),
                         sum(counts[v] for v in VERDICTS[4:]), other])
        return markdown_table(["table", *VERDICTS[:4], "missing or text", "on one side"], rows)

    def summary(self, max_cells=20):
        """The text a stage prints: the header lines, the per-table counts, the cells that differ."""
        parts = ["Comparison with the committed results", "", *self.header_lines()]
        if self.reference_found:
            parts += ["", self.summary_table().rstrip()]
            bad = [(t.title, c) for t in self.tables for c in t.cells
                   if c.verdict not in ("identical", "reproduced")]
            if bad:
                parts += ["", f"Cells that are not reproduced ({len(bad)}"
                          + (f", the first {max_cells}" if len(bad) > max_cells else "") + "):"]
                parts += [f"  {title} | {c.row} | {c.column}: ours {c.ours}, reference {c.reference}"
                          + (f", difference {c.difference}" if c.difference else "") + f": {c.verdict}"
                          for title, c in bad[:max_cells]]
        return "\n".join(parts) + "\n"

    def markdown(self):
        """compare.md: the header lines, the summary table, then every compared cell per table."""
        parts = ["# Comparison with the committed results", "", *self.header_lines(), ""]
        if not self.reference_found:
            return "\n".join(parts)
        parts += ["## Summary", "", self.summary_table()]
        for table in self.tables:
            parts += [f"## {table.title}", ""]
            if table.side:
                parts += [f"Only in {'ours' if table.side == 'ours' else 'the reference'}.", ""]
                continue
            if table.cells:
                parts.append(markdown_table(["row", "column", "ours", "reference", "difference", "verdict"],
                                            [[c.row, c.column, c.ours, c.reference, c.difference or MISSING,
                                              c.verdict] for c in table.cells]))
            else:
                parts += ["No numbers (the same text in every cell).", ""]
            for side, items in (("ours", table.only_ours), ("the reference", table.only_reference)):
                if items:
                    parts += [f"Only in {side}: {', '.join(items)}.", ""]
        return "\n".join(parts).rstrip() + "\n"


def compare_texts(ours_text, reference_text, ours_path="ours", reference_path="reference"):
    """A :class:`Report` of two RESULTS.md texts (``reference_text`` None: no reference)."""
    if reference_text is None:
        return Report(ours_path, reference_path, {}, [], reference_found=False)
    ours, reference = parse_tables(ours_text), parse_tables(reference_text)
    spreads = read_spreads(reference)
    by_key = {t.key: t for t in ours}
    tables = []
    for table in reference:
        if table.key in by_key:
            tables.append(compare_tables(by_key[table.key], table, spreads))
        else:
            tables.append(TableComparison(table.title, side="reference"))
    reference_keys = {t.key for t in reference}
    tables += [TableComparison(t.title, side="ours") for t in ours if t.key not in reference_keys]
    return Report(ours_path, reference_path, spreads, tables)


def compare_files(ours, reference):
    """A :class:`Report` of the RESULTS.md files ``ours`` and ``reference`` (which may not exist)."""
    with open(ours, encoding="utf-8") as handle:
        ours_text = handle.read()
    try:
        with open(reference, encoding="utf-8") as handle:
            reference_text = handle.read()
    except FileNotFoundError:
        reference_text = None
    return compare_texts(ours_text, reference_text, str(ours), str(reference))
