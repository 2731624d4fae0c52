"""Outputs kept for resumption belong to what made them.

A verb that keeps per-utterance outputs so that a killed job can resume keys them to everything that
makes them (``output_key``): the content hash of the model file, the options, the input lists and,
under a recipe stage, the fingerprints of the stage's inputs (``KDSPEECH_STAGE_INPUTS``,
utils/stage.sh).  A job resumes only from outputs of its own key, so that the outputs of a retrained
model, another option or re-made inputs are never taken for this run's, and the stages downstream
see new outputs.  Two layouts:

* files named by utterance (``kdspeech.bin.enhance``'s audio) go into a folder named by the key; the
  merge, one process after the jobs, sets aside (removes) every other key's folder::

      key = output_key(model=file_digest("exp/s2/best.pth"), sr=16000, data=file_digest("dump/t/wav.scp"))
      folder = keyed_folder("exp/s2/enhanced_t/wav", key)   # exp/s2/enhanced_t/wav/<key>/
      set_aside_others("exp/s2/enhanced_t/wav", key)         # at the merge

* a job's own files at fixed paths (``kdspeech.bin.score``'s job files) carry a record of their key
  beside them; a job whose record names another key sets its files aside before it starts::

      claim_job_files("split/scores.1.key", key, ["split/scores.1.tsv", "split/hyp.1.txt"])
"""

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

KEY_CHARS = 16


def file_digest(path):
    """sha256 of a file's content (hex), or ``None`` when there is no such file."""
    if path is None or not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def output_key(**parts):
    """A short hex key of ``parts`` (JSON-able values) and of the running stage's inputs."""
    parts = {**parts, "stage_inputs": os.environ.get("KDSPEECH_STAGE_INPUTS")}
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_CHARS]


def keyed_folder(parent, key):
    """``parent/<key>``, made when missing."""
    folder = Path(parent) / key
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def claim_job_files(record, key, files):
    """Make a job's ``files`` belong to ``key``: when ``record`` names another key, remove them (the
    outputs of another model, options or inputs) and return True; then write ``key`` to ``record``.
    Files without a record (made before keys) are kept: the job's own checks still read them."""
    record = Path(record)
    old = record.read_text().strip() if record.is_file() else None
    stale = old is not None and old != key
    if stale:
        gone = [f for f in map(Path, files) if f.exists()]
        for path in gone:
            path.unlink()
        log.info("%s: made with key %s, now %s (another model, other options or other inputs): %d file(s) "
                 "set aside (removed), starting afresh", record, old, key, len(gone))
    if old != key:
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_name(record.name + f".tmp{os.getpid()}")
        tmp.write_text(key + "\n")
        os.replace(tmp, record)
    return stale


def set_aside_others(parent, key):
    """Remove everything in ``parent`` but the folder ``key`` (outputs of another model, other
    options or other inputs; files of the layout before keys).  Returns how many entries went."""
    parent = Path(parent)
    if not parent.is_dir():
        return 0
    gone = 0
    for entry in parent.iterdir():
        if entry.name == key:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
        gone += 1
    if gone:
        log.info("%s: %d entr%s made by another model, other options or other inputs set aside (removed); "
                 "the outputs are those of key %s", parent, gone, "y" if gone == 1 else "ies", key)
    return gone
