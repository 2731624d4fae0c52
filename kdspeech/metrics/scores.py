"""Per-utterance score files (TSV) and their summaries.

A score file has the header ``utt<TAB>metric...`` and one line per utterance.  Scoring jobs append
and flush one whole line per utterance, so after a kill every complete line is a finished
utterance and at most the last line is partial: ``open_for_resume`` drops that tail and tells the
job which utterances it can skip.
"""

import json
import math
import os

from kdspeech.atomic import atomic_write_text
from kdspeech.errors import KdError
from kdspeech.metrics.registry import count_columns, ratio_columns
from kdspeech.metrics.transcript import corpus_rate

VALUE_FORMAT = ".6f"


def header_line(metrics):
    return "\t".join(["utt", *metrics]) + "\n"


def score_line(utt, values):
    """One TSV line; ``values`` in metric order (NaN is written ``nan``)."""
    return "\t".join([utt, *(format(float(v), VALUE_FORMAT) for v in values)]) + "\n"


def parse_score_text(text, path, metrics=None):
    """``(metrics, {utt: [values]}, partial_tail)`` from a score file's text.

    Only newline-terminated lines count; ``partial_tail`` is the unterminated rest (``""`` if
    none).  KdError (file and line) for a header that differs from ``metrics``, a malformed or
    duplicated line.
    """
    body, _, partial = text.rpartition("\n") if "\n" in text else ("", "", text)
    lines = body.split("\n") if body else []
    if not lines:
        return (list(metrics) if metrics is not None else None), {}, partial
    header = lines[0].split("\t")
    if header[0] != "utt" or len(header) < 2:
        raise KdError(f"bad header {lines[0]!r}, expected 'utt<TAB>metric...'", path, 1)
    if metrics is not None and header[1:] != list(metrics):
        raise KdError(
            f"written for metrics {','.join(header[1:])}, this run asks for {','.join(metrics)}; "
            "delete the file to rescore", path, 1,
        )
    rows = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise KdError(f"{len(fields)} fields, the header has {len(header)}", path, number)
        if fields[0] in rows:
            raise KdError(f"utterance {fields[0]} scored twice", path, number)
        try:
            rows[fields[0]] = [float(field) for field in fields[1:]]
        except ValueError:
            raise KdError(f"non-numeric score in {line!r}", path, number) from None
    return header[1:], rows, partial


def read_scores(path, metrics=None):
    """``(metrics, {utt: [values]})`` of a score file; a partial last line is ignored."""
    with open(path, encoding="utf-8") as handle:
        found, rows, _ = parse_score_text(handle.read(), path, metrics)
    if found is None:
        raise KdError("empty score file (no header)", path)
    return found, rows


def open_for_resume(path, metrics):
    """Open a job's score file for appending: ``(handle, {utt: values already scored})``.

    A partial last line (the job was killed while writing it) is cut off; a new or empty file
    gets the header.
    """
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    done = {}
    if os.path.exists(path):
        with open(path, "rb") as handle:
            data = handle.read()
        complete = data[:data.rfind(b"\n") + 1]  # bytes: a kill may split a character too
        try:
            _, done, _ = parse_score_text(complete.decode("utf-8"), path, metrics)
        except UnicodeDecodeError as err:
            raise KdError(f"not UTF-8 text ({err}); delete it to rescore", path) from None
        if len(complete) < len(data):
            with open(path, "r+b") as handle:
                handle.truncate(len(complete))
    handle = open(path, "a", encoding="utf-8")
    if handle.tell() == 0:
        handle.write(header_line(metrics))
        handle.flush()
    return handle, done


def write_scores(path, metrics, rows):
    """The merged score file, lines sorted by utterance id, written atomically."""
    text = header_line(metrics) + "".join(score_line(utt, rows[utt]) for utt in sorted(rows))
    atomic_write_text(path, text)


def _mean_or_none(values):
    values = [v for v in values if not math.isnan(v)]
    return math.fsum(values) / len(values) if values else None


def _group_means(metrics, rows, utts):
    """Means per column; count columns are summed and a ratio metric (WER, CER) is
    ``sum(errors) / sum(reference length)`` over the group (``transcript.corpus_rate``), not a mean of
    per-utterance ratios."""
    index = {m: i for i, m in enumerate(metrics)}
    counts, ratios = count_columns(metrics), ratio_columns(metrics)
    stats = {}
    for m, i in index.items():
        values = [rows[u][i] for u in utts]
        if m in counts:
            stats[m] = math.fsum(v for v in values if not math.isnan(v))
        elif m in ratios:
            errors, lengths = ratios[m]
            rate = corpus_rate([rows[u][index[errors]] for u in utts], [rows[u][index[lengths]] for u in utts])
            stats[m] = None if math.isnan(rate) else rate
        else:
            stats[m] = _mean_or_none(values)
    stats["n"] = len(utts)
    return stats


def _snr_key(value, utt, source):
    try:
        return format(float(value), "g")
    except ValueError:
        raise KdError(f"utterance {utt}: SNR {value!r} is not a number", source) from None


def summarize(metrics, rows, groupings=None):
    """Means per metric overall and per group value (NaN scores left out of the means; count
    columns summed, ratio metrics pooled: see ``_group_means``).

    ``groupings`` maps a grouping name (``"snr"``, ``"noise"``) to ``(source_path, {utt: value})``;
    every scored utterance must have a value.  Returns a JSON-ready dict: ``overall`` and each
    grouping as ``{value: {metric: mean, "n": count}}`` (SNR groups in numeric order), plus
    ``nan`` listing utterances with an undefined score, if any.
    """
    utts = sorted(rows)
    summary = {"metrics": list(metrics), "n": len(utts),
               "overall": _group_means(metrics, rows, utts)}
    for name, (source, mapping) in (groupings or {}).items():
        members = {}
        for utt in utts:
            if utt not in mapping:
                raise KdError(f"utterance {utt} is scored but has no {name} value", source)
            key = _snr_key(mapping[utt], utt, source) if name == "snr" else mapping[utt].strip()
            members.setdefault(key, []).append(utt)
        order = sorted(members, key=float) if name == "snr" else sorted(members)
        summary[name] = {key: _group_means(metrics, rows, members[key]) for key in order}
    counts = count_columns(metrics)
    nan = {m: [u for u in utts if math.isnan(rows[u][i])]
           for i, m in enumerate(metrics) if m not in counts}
    nan = {m: us for m, us in nan.items() if us}
    if nan:
        summary["nan"] = nan
    return summary


def summary_text(summary):
    """A fixed-width table of a summary: one row overall and one per group value."""
    metrics = summary["metrics"]
    table = [["group", *metrics, "n"]]

    def add(label, stats):
        cells = ["-" if stats[m] is None else f"{stats[m]:.3f}" for m in metrics]
        table.append([label, *cells, str(stats["n"])])

    lines = []
    if metrics:  # none when only trial metrics were asked for
        add("overall", summary["overall"])
        for name in ("snr", "noise"):
            for key, stats in summary.get(name, {}).items():
                add(f"{name}={key}", stats)
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        lines = ["  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])])
                 for row in table]
    for metric, utts in summary.get("nan", {}).items():
        lines.append(f"{metric}: undefined (NaN, left out of the means) for {len(utts)} utterance(s)")
    trials = summary.get("trials")
    if trials:
        lines.append(f"trials ({trials['n_target']} target, {trials['n_nontarget']} non-target): "
                     + ", ".join(f"{name} {trials[name]:.4f}" for name in trials["metrics"]))
    return "\n".join(lines) + "\n"


def write_summary(out_dir, summary):
    """``summary.json`` and ``summary.txt`` in ``out_dir``, both written atomically."""
    atomic_write_text(os.path.join(out_dir, "summary.json"), json.dumps(summary, indent=2) + "\n")
    atomic_write_text(os.path.join(out_dir, "summary.txt"), summary_text(summary))


def read_summary(score_dir):
    """The ``summary.json`` written by ``kdspeech.bin.score --merge`` in ``score_dir``."""
    path = os.path.join(score_dir, "summary.json")
    if not os.path.exists(path):
        raise KdError("no summary.json: run kdspeech.bin.score --merge for this directory first", path)
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as err:
            raise KdError(f"not valid JSON ({err})", path) from None
