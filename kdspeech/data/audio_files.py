"""Audio files in folders: which files count as audio, and the utterance id of a relative path.

    find_audio("recordings/")      # -> ["a.wav", "day1/b.flac", ...] (relative, sorted)
    utt_id("day1/b c.flac")        # -> "day1__b_c"

Used by ``kdspeech.bin.data_dir_from`` (a folder, paired noisy/clean folders, a CSV) and by the
``kdspeech`` command's inputs, so a folder means the same files everywhere.  Audio is recognised by
its suffix (case-insensitive, any format soundfile decodes); hidden files and folders (a name starting
with ``.``, such as the temporary files of an interrupted atomic write) are skipped.

Utterance ids: the relative path without its suffix, ``/`` replaced by ``__`` and every character
other than letters, digits and ``_.+-`` by ``_`` (the rule of ``egs/user_data/cls/local/prepare_csv.py``),
so ``spk1/rec 2.wav`` becomes ``spk1__rec_2`` and the first folder of the path is a prefix of the id.
"""

import os
import re
from pathlib import Path, PurePosixPath

from kdspeech.errors import KdError

#: Suffixes taken for audio (soundfile / libsndfile decodes them).
AUDIO_SUFFIXES = frozenset({
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".snd",
    ".sph", ".nist", ".w64", ".rf64", ".caf", ".wavex",
})
ID_SEPARATOR = "__"


def is_audio_name(name):
    """Whether a file name has an audio suffix."""
    return Path(str(name)).suffix.lower() in AUDIO_SUFFIXES


def find_audio(folder):
    """Relative POSIX paths of the audio files under ``folder`` (recursive, sorted by byte order).

    A missing folder is a KdError; an empty result is returned as ``[]`` (callers say what that
    means for them)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise KdError("folder not found", path=folder)
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and is_audio_name(name):
                rel = Path(root, name).relative_to(folder)
                found.append(PurePosixPath(*rel.parts).as_posix())
    return sorted(found)


def utt_id(rel):
    """The utterance id of a relative path (see the module text)."""
    stem = PurePosixPath(str(rel).replace(os.sep, "/"))
    stem = stem.with_suffix("") if stem.suffix else stem
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", ID_SEPARATOR.join(stem.parts))


def first_folder(rel):
    """The first folder of a relative path (``spk1`` for ``spk1/a/b.wav``), or ``None`` at top level."""
    parts = PurePosixPath(str(rel).replace(os.sep, "/")).parts
    return parts[0] if len(parts) > 1 else None


def unique_ids(rels, where=None):
    """``{utt id: rel}`` for relative paths; two paths with one id are a KdError naming both."""
    out = {}
    for rel in rels:
        key = utt_id(rel)
        if key in out:
            raise KdError(f"'{out[key]}' and '{rel}' both become utterance id '{key}'; rename one",
                          path=where)
        out[key] = rel
    return out
