"""The tables of a data dir made from your own audio: a folder, paired noisy/clean folders, or a CSV.

    tables = from_folder("recordings/", spk_from="dir")
    tables = from_pairs("noisy/", "clean/")
    tables = from_csv("clips.csv")
    kdspeech.data.dir_ops.write_dir("data/mine", tables)

Each returns ``{file name: {utterance id: value}}`` (``wav.scp``, ``utt2spk``, and what the source
gives: ``spk1.scp`` for a clean reference, ESPnet's name; ``utt2label``, ``text``...).  Utterance ids
come from relative paths (``kdspeech.data.audio_files.utt_id``); ``wav.scp`` holds absolute paths.

Every file's header is read first, and every problem is reported in ONE error listing each file (or
CSV line) and what is wrong with it: unreadable, empty, more than one channel, and for a pair a clean
reference at another rate or of another length than its noisy input.  Files at different sample rates
are named in a warning (a recipe's resample stage brings them to one rate).
"""

import csv
import os
from pathlib import Path

from kdspeech.data.audio import audio_info
from kdspeech.data.audio_files import find_audio, first_folder, unique_ids, utt_id
from kdspeech.data.resample import check_source_rates
from kdspeech.errors import KdError

SPK_FROM = ("utt", "dir")
#: CSV column -> data-dir file (``path`` is the audio, ``utt`` the id, ``clean`` a reference path).
CSV_COLUMNS = {"speaker": "utt2spk", "label": "utt2label", "text": "text", "fold": "utt2fold",
               "participant": "utt2group", "group": "utt2group", "snr": "utt2snr", "noise_type": "utt2noise",
               "clean": "spk1.scp"}
MAX_LISTED = 20


def header(path):
    """``(frames, rate, channels)`` of an audio file, or a KdError's text saying what is wrong."""
    try:
        frames, rate, channels = audio_info(str(path))
    except KdError as err:
        return str(err)
    if frames == 0:
        return f"{path}: empty (0 samples)"
    if channels != 1:
        return (f"{path}: {channels} channels, expected mono (down-mix it, e.g. sox in.wav out.wav remix -, "
                "or give it to the kdspeech command, which down-mixes)")
    return frames, rate, channels


def raise_problems(problems, total, what, where):
    """One KdError listing ``problems`` (texts), or nothing when there are none."""
    if not problems:
        return
    shown = "\n  ".join(problems[:MAX_LISTED])
    more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    raise KdError(f"{len(problems)} of {total} {what} cannot be used; fix or remove them:\n  {shown}{more}",
                  path=where)


def _speaker(utt, rel, spk_from):
    if spk_from == "dir":
        return first_folder(rel) or utt
    return utt


def _check_rates(infos, entries, where):
    check_source_rates({u: info[1] for u, info in infos.items()}, entries, path=where,
                       what="resampled by the recipe's resample stage")


def enrolment_clips(noisy, enrol_dir, speaker_of, noisy_dir=None):
    """``{utt: enrolment clip}`` for personalized test sets (DNS5's blind sets: ``noisy/`` and ``enrol/``
    folders side by side).  ``noisy``: ``{utt: path relative to the noisy folder}``; a file's clip is
    the enrolment clip of the same relative name (suffix aside: ``a/x.wav`` takes ``a/x.flac``), else the
    one clip of its speaker (``speaker_of(relative path)``, for noisy files and clips alike; ``None``:
    no speaker, the name alone decides).  Every file without a clip, or whose speaker has several and
    none of its name, is listed in one KdError (each file as ``noisy_dir/<relative path>`` when given), as
    is every unusable clip (unreadable, empty, not mono)."""
    enrol_dir = Path(enrol_dir).resolve()
    clips = find_audio(enrol_dir)
    if not clips:
        raise KdError("no audio files in the enrolment folder", path=enrol_dir)
    by_name = {os.path.splitext(rel)[0]: rel for rel in clips}
    by_speaker = {}
    for rel in clips:
        key = speaker_of(rel)
        if key is not None:
            by_speaker.setdefault(key, []).append(rel)
    out, problems = {}, []
    for utt, rel in noisy.items():
        stem = os.path.splitext(rel)[0]
        key = speaker_of(rel)
        shown = Path(noisy_dir) / rel if noisy_dir else rel
        mine = by_speaker.get(key, []) if key is not None else []
        if stem in by_name:
            out[utt] = by_name[stem]
        elif len(mine) == 1:
            out[utt] = mine[0]
        elif mine:
            problems.append(f"{shown}: speaker {key} has {len(mine)} enrol clips ({', '.join(mine[:3])}) and none is "
                            f"named {stem}.*: which one is ambiguous (name it as the noisy file)")
        else:
            problems.append(f"{shown}: no enrolment clip for this noisy clip (" + (f"speaker {key}; " if key else "")
                            + f"none named {stem}.*" + (f" or of speaker {key}" if key else "") + f" in {enrol_dir})")
    raise_problems(problems, len(noisy), "files (enrolment)", enrol_dir)
    for rel in sorted(set(out.values())):
        info = header(enrol_dir / rel)
        if isinstance(info, str):
            problems.append(info)
    raise_problems(problems, len(set(out.values())), "enrolment clips", enrol_dir)
    return {utt: str(enrol_dir / rel) for utt, rel in out.items()}


def from_folder(folder, spk_from="utt", enrol=None):
    """Every audio file under ``folder``: ``wav.scp`` and ``utt2spk`` (each utterance its own speaker,
    or with ``spk_from='dir'`` the first folder of its relative path, e.g. LibriSpeech's speaker); with
    ``enrol`` (a folder of enrolment clips) also ``utt2enroll`` (``enrolment_clips``: the clip of the same
    relative name, else with ``spk_from='dir'`` the one clip of the speaker's folder)."""
    if spk_from not in SPK_FROM:
        raise KdError(f"spk_from '{spk_from}' is not one of {', '.join(SPK_FROM)}")
    folder = Path(folder).resolve()
    ids = unique_ids(find_audio(folder), folder)
    if not ids:
        raise KdError("no audio files in this folder (looked for .wav, .flac, .ogg, .mp3, .sph ...)",
                      path=folder)
    wav, infos, problems = {}, {}, []
    for utt, rel in ids.items():
        info = header(folder / rel)
        if isinstance(info, str):
            problems.append(info)
            continue
        wav[utt], infos[utt] = str(folder / rel), info
    raise_problems(problems, len(ids), "audio files", folder)
    _check_rates(infos, wav, folder)
    tables = {"wav.scp": wav, "utt2spk": {u: _speaker(u, ids[u], spk_from) for u in wav}}
    if enrol is not None:
        tables["utt2enroll"] = enrolment_clips({u: ids[u] for u in wav}, enrol,
                                               first_folder if spk_from == "dir" else (lambda rel: None), folder)
    return tables


def pair_problem(noisy, clean, noisy_info, clean_info):
    """What is wrong with a noisy input and its clean reference, or ``None``."""
    if noisy_info[1] != clean_info[1]:
        return f"{noisy} is at {noisy_info[1]} Hz, its reference {clean} at {clean_info[1]} Hz"
    if noisy_info[0] != clean_info[0]:
        which = "shorter" if clean_info[0] < noisy_info[0] else "longer"
        return (f"{noisy} has {noisy_info[0]} samples, its reference {clean} has {clean_info[0]} "
                f"({which}): a reference must be sample-aligned with its input")
    return None


def _by_stem(folder):
    """``{relative path without suffix: relative path}`` of a folder's audio (two suffixes of one
    name are a KdError)."""
    out = {}
    for rel in find_audio(folder):
        stem = os.path.splitext(rel)[0]
        if stem in out:
            raise KdError(f"'{out[stem]}' and '{rel}' have one name: keep one", path=folder)
        out[stem] = rel
    return out


def from_pairs(noisy, clean, spk_from="utt"):
    """Noisy inputs and clean references matched by relative name (suffix aside): ``wav.scp`` (noisy),
    ``spk1.scp`` (clean), ``utt2spk``.  A file without its partner is an error listing them."""
    noisy, clean = Path(noisy).resolve(), Path(clean).resolve()
    a, b = _by_stem(noisy), _by_stem(clean)
    if not a:
        raise KdError("no audio files in the noisy folder", path=noisy)
    alone = [f"{noisy / a[s]}: no clean file of this name in {clean}" for s in sorted(set(a) - set(b))]
    alone += [f"{clean / b[s]}: no noisy file of this name in {noisy}" for s in sorted(set(b) - set(a))]
    raise_problems(alone, len(set(a) | set(b)), "files (unpaired)", noisy)
    ids = unique_ids([a[s] for s in sorted(a)], noisy)
    wav, ref, infos, problems = {}, {}, {}, []
    for utt, rel in ids.items():
        n_path, c_path = noisy / rel, clean / b[os.path.splitext(rel)[0]]
        n_info, c_info = header(n_path), header(c_path)
        bad = [x for x in (n_info, c_info) if isinstance(x, str)]
        problem = bad[0] if bad else pair_problem(n_path, c_path, n_info, c_info)
        if problem:
            problems.append(problem)
            continue
        wav[utt], ref[utt], infos[utt] = str(n_path), str(c_path), n_info
    raise_problems(problems, len(ids), "pairs", noisy)
    _check_rates(infos, wav, noisy)
    return {"wav.scp": wav, "spk1.scp": ref, "utt2spk": {u: _speaker(u, ids[u], spk_from) for u in wav}}


def read_csv_rows(path):
    """``(columns, [(line, {column: value})])`` of a CSV of files (the one CSV reader: the header must
    name a ``path`` column and only columns of ``CSV_COLUMNS`` beside it and ``utt``)."""
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as err:
        raise KdError(f"cannot read the CSV ({err.strerror})", path=path) from None
    with handle:
        reader = csv.DictReader(handle)
        columns = [(c or "").strip() for c in reader.fieldnames or []]
        reader.fieldnames = columns
        unknown = [c for c in columns if c not in CSV_COLUMNS and c not in ("path", "utt")]
        if "path" not in columns or unknown:
            raise KdError(f"header must name a 'path' column and may name utt, {', '.join(CSV_COLUMNS)} "
                          f"(got {','.join(columns)}" + (f"; unknown: {', '.join(unknown)})" if unknown else ")"),
                          path=path, line=1)
        rows = [(line, {k: (v or "").strip() for k, v in row.items() if k})
                for line, row in enumerate(reader, start=2)]
    if not rows:
        raise KdError("the CSV lists no files", path=path)
    return columns, rows


def csv_paths(path):
    """The files a CSV names (its ``path`` and ``clean`` columns), resolved against its folder; no
    file is opened but the CSV (what a stage that reads them depends on: kdspeech.bin.list_files)."""
    base = Path(path).resolve().parent
    _, rows = read_csv_rows(path)
    return [str((base / row[column]).resolve()) for _, row in rows for column in ("path", "clean")
            if row.get(column)]


def from_csv(path, spk_from="utt", required=(), durations=False):
    """One row per file: ``path`` (absolute or relative to the CSV's folder), optional ``utt`` (else
    the id of the path relative to the CSV's folder; a file outside that folder: its file name), and
    any of ``CSV_COLUMNS``.  Every bad row (no path, an empty ``required`` column, a missing or
    unusable file, a duplicate id, an id or value with spaces where none may be) is listed in one
    error with its line.  ``durations``: also ``utt2dur`` (seconds, from the headers)."""
    path = Path(path)
    base = path.resolve().parent
    columns, rows = read_csv_rows(path)
    tables = {"wav.scp": {}, "utt2spk": {}}
    for column in columns:
        if column in CSV_COLUMNS:
            tables.setdefault(CSV_COLUMNS[column], {})
    lines, infos, problems = {}, {}, []
    for line, row in rows:
        where = f"line {line}"
        empty = [c for c in ("path", *required) if not row.get(c)]
        if empty:
            problems.append(f"{where}: empty {', '.join(empty)}")
            continue
        audio = (base / row["path"]).resolve()
        rel = os.path.relpath(audio, base) if str(audio).startswith(str(base) + os.sep) else audio.name
        utt = row.get("utt") or utt_id(rel)
        if any(c.isspace() for c in utt):
            problems.append(f"{where}: utterance id '{utt}' contains whitespace")
            continue
        if utt in lines:
            problems.append(f"{where}: utterance id '{utt}' is also on line {lines[utt]}")
            continue
        info = header(audio)
        if isinstance(info, str):
            problems.append(f"{where}: {info}")
            continue
        values, bad = {}, None
        for column in columns:
            name, value = CSV_COLUMNS.get(column), row.get(column, "")
            if name is None or not value:
                continue
            if name == "spk1.scp":
                ref = (base / value).resolve()
                ref_info = header(ref)
                bad = ref_info if isinstance(ref_info, str) else pair_problem(audio, ref, info, ref_info)
                value = str(ref)
            elif name == "utt2spk" and any(c.isspace() for c in value):
                bad = f"speaker '{value}' contains whitespace"
            elif name == "utt2snr":
                try:
                    float(value)
                except ValueError:
                    bad = f"snr '{value}' is not a number"
            if bad:
                break
            values[name] = value
        if bad:
            problems.append(f"{where}: {bad}")
            continue
        lines[utt], infos[utt] = line, info
        if durations:
            tables.setdefault("utt2dur", {})[utt] = f"{info[0] / info[1]:.3f}"
        tables["wav.scp"][utt] = str(audio)
        tables["utt2spk"][utt] = values.pop("utt2spk", None) or _speaker(utt, rel, spk_from)
        for name, value in values.items():
            tables[name][utt] = value
    raise_problems(problems, len(rows), "rows", path)
    for name in ("text", "spk1.scp"):   # a file every utterance needs: all rows or none
        if name in tables and 0 < len(tables[name]) < len(tables["wav.scp"]):
            column = next(c for c, n in CSV_COLUMNS.items() if n == name)
            empty = [f"line {lines[u]}" for u in tables["wav.scp"] if u not in tables[name]]
            raise_problems([f"{w}: empty {column}" for w in empty], len(rows), "rows", path)
    _check_rates(infos, tables["wav.scp"], path)
    return tables
