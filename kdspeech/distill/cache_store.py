"""Teacher-output caches that need not fit in memory: sharded, memory-mapped, resumable.

A sharded cache is a directory (``kdspeech.bin.cache_teacher --out exp/kd_cache/train``; an ``--out``
ending in ``.npz`` still writes the single file of ``kdspeech.distill.precomputed``)::

    meta.json              what the cache is made from (teacher set, data dir, seed, examples, shard
                           size, view); written first
    shard-00000/keys.txt   the example keys of shard 0, one a line
    shard-00000/<out>.npy  one float32 array [examples, ...] per teacher output (logits, emb, wav...)
    ...
    index.json             the shards, outputs and example count: written last, it marks the cache complete

Every shard is written into a temporary directory beside it and renamed when complete, so a run
killed half-way leaves only finished shards; the next run with the same ``meta.json`` skips them and
computes the rest (another ``meta.json``: the old shards are removed first, with a warning).  Readers
(:class:`ShardedTable`) keep only the keys in memory and open each shard's arrays memory-mapped on
first use, so a cache of any size costs the pages of the rows a batch reads.  A table's maps belong to
the process that opened them: pickled (a spawned DataLoader worker) or inherited (a forked one), a
table drops them and every worker opens its own on its first read.  The trainer reads the tables in
its loaders' collate, so with workers the training process never opens a shard
(``kdspeech.distill.precomputed.CacheLookup``).

:func:`open_table` opens either kind: an old ``.npz`` is read whole into memory, as before.
"""

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from kdspeech.atomic import atomic_write_text
from kdspeech.errors import KdError

log = logging.getLogger(__name__)
FORMAT = 1


def shard_name(index):
    return f"shard-{index:05d}"


def _keys(folder):
    return (folder / "keys.txt").read_text(encoding="utf-8").split("\n")[:-1]


class ShardWriter:
    """Writes the shards of a cache directory; ``done(i)`` says which a killed run already finished."""

    def __init__(self, path, meta):
        self.path = Path(path)
        self.meta = {"format": FORMAT, **meta}
        meta_file = self.path / "meta.json"
        if meta_file.exists():
            try:
                old = json.loads(meta_file.read_text())
            except ValueError:
                old = None
            if old != json.loads(json.dumps(self.meta)):
                log.warning("%s was made from another teacher, data or shard size; its shards are removed",
                            self.path)
                shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "index.json").unlink(missing_ok=True)    # complete again only when finish() runs
        atomic_write_text(meta_file, json.dumps(self.meta, indent=1, sort_keys=True))

    def done(self, index):
        return (self.path / shard_name(index) / "keys.txt").is_file()

    def write(self, index, keys, outputs):
        """Shard ``index``: ``keys`` and ``{name: array [len(keys), ...]}``, atomically."""
        final = self.path / shard_name(index)
        tmp = self.path / f".{shard_name(index)}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            for name, array in outputs.items():
                if len(array) != len(keys):
                    raise ValueError(f"output '{name}' has {len(array)} rows for {len(keys)} keys")
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(array, dtype=np.float32))
            (tmp / "keys.txt").write_text("".join(f"{k}\n" for k in keys), encoding="utf-8")
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def finish(self, num_shards, outputs, view):
        """Write ``index.json``: the cache is complete and readable."""
        missing = [i for i in range(num_shards) if not self.done(i)]
        if missing:
            raise KdError(f"cache shards {missing[:3]} are missing", path=self.path)
        count = sum(len(_keys(self.path / shard_name(i))) for i in range(num_shards))
        atomic_write_text(self.path / "index.json", json.dumps(
            {"format": FORMAT, "shards": num_shards, "outputs": sorted(outputs), "view": view,
             "examples": count}, indent=1))


class ShardedTable:
    """A sharded cache directory, read lazily: ``key in table``, ``table.get(key)`` ->
    ``{output: float32 array}``, ``table.view``, ``table.keys()``."""

    def __init__(self, path, name="teacher"):
        self.path = Path(path)
        index = self.path / "index.json"
        if not index.is_file():
            raise KdError(f"teacher set '{name}': the cache is incomplete (no index.json): run "
                          "kdspeech.bin.cache_teacher again, it resumes from the finished shards", path=self.path)
        info = json.loads(index.read_text())
        self.view, self.outputs = info.get("view"), list(info["outputs"])
        self.rows = {}
        for shard in range(info["shards"]):
            for row, key in enumerate(_keys(self.path / shard_name(shard))):
                self.rows[key] = (shard, row)
        if len(self.rows) != info["examples"]:
            raise KdError(f"teacher set '{name}': the shards hold {len(self.rows)} distinct keys, index.json "
                          f"says {info['examples']} examples", path=self.path)
        self._maps, self._pid = {}, os.getpid()

    def __getstate__(self):
        return {**self.__dict__, "_maps": {}, "_pid": None}

    def __contains__(self, key):
        return key in self.rows

    def keys(self):
        return self.rows.keys()

    def _arrays(self, shard):
        if self._pid != os.getpid():   # a copy in another process (a worker): its own maps, opened lazily
            self._maps, self._pid = {}, os.getpid()
        if shard not in self._maps:
            folder = self.path / shard_name(shard)
            self._maps[shard] = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in self.outputs}
        return self._maps[shard]

    def get(self, key):
        shard, row = self.rows[key]
        return {name: np.array(array[row]) for name, array in self._arrays(shard).items()}


class NpzTable:
    """An old single-file cache (``keys``, optional ``view``, one array per output), read whole."""

    def __init__(self, path, name="teacher"):
        try:
            z = np.load(path)
            keys = z["keys"]
            outputs = {k: np.asarray(z[k], dtype=np.float32) for k in z.files if k not in ("keys", "view")}
            self.view = str(z["view"]) if "view" in z.files else None
        except (OSError, KeyError, ValueError) as err:
            raise KdError(f"teacher set '{name}': not a precomputed-outputs file ({err})", path=path) from None
        self.outputs = list(outputs)
        self.rows = {str(k): {n: v[i] for n, v in outputs.items()} for i, k in enumerate(keys)}

    def __contains__(self, key):
        return key in self.rows

    def keys(self):
        return self.rows.keys()

    def get(self, key):
        return self.rows[key]


def open_table(path, name="teacher"):
    """The table of a cache: a sharded directory (lazy) or an old ``.npz`` file (read whole)."""
    return ShardedTable(path, name) if Path(path).is_dir() else NpzTable(path, name)
