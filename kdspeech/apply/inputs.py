"""What the ``kdspeech`` command reads: audio files, folders, lists of files, scp files and data dirs.

    items = collect(["a.wav", "recordings/", "files.txt", "data/test"])

Each argument is one of
- a data dir (a folder holding ``wav.scp``): each utterance, named by its id (``segments`` honoured);
- a folder: every audio file under it (``kdspeech.data.audio_files.find_audio``), named by its path
  relative to the folder; a folder without audio is an error naming it;
- an audio file (by its suffix): named by its file name;
- a ``.scp`` file: ``<name> <path or command |>`` lines (Kaldi's wav.scp);
- any other file: a list, one path a line (relative to the list's folder; ``#`` starts a comment),
  named by its path relative to the list's folder (its file name when it lies elsewhere).

An ``Item`` has ``name`` (the relative name without suffix: outputs go to ``<out>/<name>.<ext>``),
``source`` (what error messages show) and ``open(sr)`` (an ``AudioReader`` at that rate).  A missing
argument, or two inputs with one name, is an error before anything runs; a file that turns out
unreadable or empty fails on its own when opened.
"""

import os
from pathlib import Path, PurePosixPath
from typing import Callable, NamedTuple

from kdspeech.data.audio_files import find_audio, is_audio_name
from kdspeech.data.datadir import DataDir, read_kv
from kdspeech.data.stream_audio import AudioReader
from kdspeech.errors import KdError


class Item(NamedTuple):
    name: str                      # relative output name, POSIX, without suffix
    source: str                    # the file (or data-dir utterance) for messages
    open: Callable                 # open(sr) -> AudioReader


def _file_item(name, path):
    return Item(name, str(path), lambda sr, p=str(path): AudioReader(p, sr))


def _stem(rel):
    rel = PurePosixPath(str(rel).replace(os.sep, "/"))
    return str(rel.with_suffix("")) if rel.suffix else str(rel)


def _data_dir(path):
    data = DataDir(path).validate()
    if data.has("segments"):
        def opener(sr, utt):
            x, rate = data.load_audio(utt)
            return AudioReader(array=(x, rate), sr=sr, utt=f"{path}:{utt}")
        return [Item(u, f"{data.path} utterance {u}", lambda sr, u=u: opener(sr, u)) for u in data.utts]
    return [Item(u, f"{data.path} utterance {u} ({e})", lambda sr, e=e, u=u: AudioReader(e, sr, utt=u))
            for u, e in data.wav_scp.items()]


def _scp(path):
    return [Item(key, f"{path} entry {key} ({entry})", lambda sr, e=entry, k=key: AudioReader(e, sr, utt=k))
            for key, entry in read_kv(path).items()]


def _list(path):
    base = Path(path).resolve().parent
    items = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise KdError(f"not an audio file, and not readable as a list of files ({err})", path=path) from None
    for number, line in enumerate(lines, start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        audio = (base / entry).resolve()
        rel = os.path.relpath(audio, base) if str(audio).startswith(str(base) + os.sep) else audio.name
        items.append(Item(_stem(rel), f"{audio} ({path}:{number})", lambda sr, a=str(audio): AudioReader(a, sr)))
    if not items:
        raise KdError("the list names no files", path=path)
    return items


def collect(inputs):
    """The ``Item``s of every input argument, in order (see the module text)."""
    items = []
    for arg in inputs:
        path = Path(arg)
        if path.is_dir():
            if (path / "wav.scp").is_file():
                items += _data_dir(path)
                continue
            found = find_audio(path)
            if not found:
                raise KdError("no audio files in this folder (looked for .wav, .flac, .ogg, .mp3, .sph ...)",
                              path=path)
            items += [_file_item(_stem(rel), path / rel) for rel in found]
        elif path.is_file():
            if is_audio_name(path.name):
                items.append(_file_item(_stem(path.name), path))
            elif path.suffix == ".scp":
                items += _scp(path)
            else:
                items += _list(path)
        else:
            raise KdError("no such file or folder", path=path)
    seen = {}
    for item in items:
        if item.name in seen:
            raise KdError(f"two inputs have the output name '{item.name}': {seen[item.name]} and {item.source}; "
                          "give them in separate runs (another --out)")
        seen[item.name] = item.source
    if not items:
        raise KdError("no inputs given")
    return items
