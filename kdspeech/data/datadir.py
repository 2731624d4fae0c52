"""Kaldi-style data directories: strict reading, atomic writing, validation, job splits.

A data dir holds one-line-per-utterance text files (``wav.scp``, ``utt2spk``, ``text``, ...), each
sorted by utterance id in byte order (``LC_ALL=C sort``) with unique ids.  Everything here is strict
on purpose: a recipe that silently drops or reorders utterances produces wrong numbers much later,
so every problem is a ``KdError`` that names the file and the line.

With a ``segments`` file (Kaldi semantics) ``wav.scp`` is keyed by recording id and the per-utterance
files by segment id; ``segments`` maps ``<utt> <recording> <start> <end>``.  ``DataDir.utts`` are
always utterance ids (segment ids then), ``DataDir.recordings`` the ids of ``wav.scp``, and
``DataDir.load_audio(utt)`` decodes one utterance (its recording cut to the segment).
"""

import shutil
from pathlib import Path

from kdspeech.atomic import atomic_path, atomic_write_text
from kdspeech.errors import KdError

#: Optional per-utterance files that ``DataDir.validate`` checks when they exist.
OPTIONAL_FILES = (
    "utt2spk", "text", "utt2label", "utt2snr", "utt2fold", "utt2noise",
    "spk1.scp", "noise1.scp", "segments",
)
#: Files whose values are audio entries (path or ``<command> |``).
AUDIO_SCPS = ("wav.scp", "spk1.scp", "noise1.scp")
#: Files that, when present, must list every utterance (a mixture without a reference is unusable).
MUST_COVER = ("utt2spk", "text", "spk1.scp", "noise1.scp")


def read_kv(path, allow_missing=False):
    """Read ``<key> <value...>`` lines into an insertion-ordered dict.

    Raises ``KdError(path, line)`` on an empty key (blank or indented line), a missing value, a
    duplicate id or an id out of byte order.  A missing file is an error unless ``allow_missing``.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        if allow_missing:
            return {}
        raise KdError("file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise KdError(f"cannot read: {err}", path=path) from None
    if lines and lines[-1] == "":
        lines.pop()
    out = {}
    prev = None
    for lineno, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        if not line.strip() or line[0].isspace():
            raise KdError("empty utterance id (blank or indented line)", path=path, line=lineno)
        parts = line.split(maxsplit=1)
        key = parts[0]
        value = parts[1].strip() if len(parts) > 1 else ""
        if not value:
            raise KdError(f"no value after id '{key}'", path=path, line=lineno)
        if key in out:
            raise KdError(f"duplicate id '{key}'", path=path, line=lineno)
        if prev is not None and key < prev:  # str order == UTF-8 byte order
            raise KdError(f"id '{key}' is not sorted (comes after '{prev}'; use LC_ALL=C sort)",
                          path=path, line=lineno)
        out[key] = value
        prev = key
    return out


def write_kv(path, mapping):
    """Write ``mapping`` as sorted ``<key> <value>`` lines, atomically (temp file + ``os.replace``)."""
    path = Path(path)
    lines = []
    for key in sorted(mapping):
        value = str(mapping[key]).strip()
        if not key or any(c.isspace() for c in key):
            raise KdError(f"id {key!r} is empty or contains whitespace", path=path)
        if not value or "\n" in value:
            raise KdError(f"value for '{key}' is empty or spans lines", path=path)
        lines.append(f"{key} {value}\n")
    atomic_write_text(path, "".join(lines))


class DataDir:
    """A Kaldi-style data dir; files are read on demand and cached."""

    def __init__(self, path):
        self.path = Path(path)
        self._cache = {}

    def __repr__(self):
        return f"DataDir({str(self.path)!r})"

    def file(self, name):
        return self.path / name

    def has(self, name):
        return self.file(name).is_file()

    def read(self, name):
        """The dict of file ``name``; ``KdError`` if it does not exist."""
        if name not in self._cache:
            self._cache[name] = read_kv(self.file(name))
        return self._cache[name]

    @property
    def wav_scp(self):
        scp = self.read("wav.scp")
        if not scp:
            raise KdError("wav.scp is empty", path=self.file("wav.scp"))
        return scp

    @property
    def recordings(self):
        """Sorted ids of wav.scp (the same as ``utts`` unless the dir has ``segments``)."""
        return list(self.wav_scp)

    @property
    def utts(self):
        """Sorted utterance ids: the segment ids when the dir has ``segments``, else wav.scp's."""
        if self.has("segments"):
            segments = self.read("segments")
            if not segments:
                raise KdError("segments is empty", path=self.file("segments"))
            return list(segments)
        return self.recordings

    def load_audio(self, utt, sr=None):
        """``(samples, rate)`` of utterance ``utt`` (see ``kdspeech.data.audio.load_audio``): with
        ``segments``, its recording from ``start`` to ``end`` (an end past the recording's last
        sample is cut there, as Kaldi's extract-segments does)."""
        from kdspeech.data.audio import load_audio   # audio I/O only where audio is read

        if not self.has("segments"):
            if utt not in self.wav_scp:
                raise KdError(f"utterance '{utt}' is not in wav.scp", path=self.file("wav.scp"))
            return load_audio(self.wav_scp[utt], sr=sr, utt=utt)
        segments = self.read("segments")
        if utt not in segments:
            raise KdError(f"utterance '{utt}' is not in segments", path=self.file("segments"))
        reco, start, end = segments[utt].split()
        if reco not in self.wav_scp:
            raise KdError(f"recording '{reco}' of segment '{utt}' is not in wav.scp",
                          path=self.file("segments"))
        x, rate = load_audio(self.wav_scp[reco], sr=sr, utt=utt)
        first, last = round(float(start) * rate), round(float(end) * rate)
        if first >= len(x):
            raise KdError(f"segment '{utt}' starts at {float(start):g} s, after the end of "
                          f"recording '{reco}' ({len(x) / rate:g} s)", path=self.file("segments"))
        return x[first:min(last, len(x))], rate

    def durations(self, utts=None):
        """``{utt: seconds}`` of ``utts`` (default: all): from ``utt2dur`` where the dir has it, else
        from ``segments`` (end - start), else from the audio headers (a command entry is decoded)."""
        from kdspeech.data.audio import audio_duration

        utts = self.utts if utts is None else utts
        if self.has("utt2dur"):
            table = self.read("utt2dur")
            missing = [u for u in utts if u not in table]
            if missing:
                raise KdError(f"utterance '{missing[0]}' has no duration ({len(missing)} missing)",
                              path=self.file("utt2dur"))
            return {u: float(table[u]) for u in utts}
        if self.has("segments"):
            segments = self.read("segments")
            return {u: float(segments[u].split()[2]) - float(segments[u].split()[1]) for u in utts}
        return {u: audio_duration(self.wav_scp[u], utt=u) for u in utts}

    def validate(self):
        """Check the whole dir; raise ``KdError`` naming file, line and id of the first problem."""
        if not self.path.is_dir():
            raise KdError("data dir not found", path=self.path)
        if not self.has("wav.scp"):
            raise KdError("wav.scp not found", path=self.file("wav.scp"))
        recordings = set(self.wav_scp)
        utts = recordings
        if self.has("segments"):
            utts = self._check_segments(recordings)
        for name in OPTIONAL_FILES:
            if name == "segments" or not self.has(name):
                continue
            table = self.read(name)
            for lineno, key in enumerate(table, start=1):
                if key not in utts:
                    ref = "segments" if self.has("segments") else "wav.scp"
                    raise KdError(f"utterance '{key}' is not in {ref}", path=self.file(name),
                                  line=lineno)
            if name in MUST_COVER and len(table) != len(utts):
                missing = sorted(utts - set(table))
                raise KdError(f"{len(missing)} utterance(s) missing, first '{missing[0]}'",
                              path=self.file(name))
        if self.has("utt2snr"):
            self._check_floats("utt2snr")
        if self.has("trials"):
            self._check_trials(utts)
        return self

    def _check_trials(self, utts):
        """``trials`` (read by ``kdspeech.metrics.trials.read_trial_list``: one pair, one trial) names
        utterances of the dir, and with ``utt2spk`` its labels agree with the speakers."""
        from kdspeech.metrics.trials import read_trial_list, trial_speakers

        path = self.file("trials")
        trials = read_trial_list(path)
        for trial in trials:
            for utt in (trial.enroll, trial.test):
                if utt not in utts:
                    raise KdError(f"trial '{trial.enroll} {trial.test}' names utterance '{utt}', which is not "
                                  "in the data dir", path=path, line=trial.line)
        if self.has("utt2spk"):
            trial_speakers(trials, self.read("utt2spk"), path, self.file("utt2spk"))

    def _check_floats(self, name):
        for lineno, (key, value) in enumerate(self.read(name).items(), start=1):
            try:
                ok = float(value) == float(value)  # NaN is not a usable SNR
            except ValueError:
                ok = False
            if not ok:
                raise KdError(f"value '{value}' of '{key}' is not a number", path=self.file(name),
                              line=lineno)

    def _check_segments(self, recordings):
        path = self.file("segments")
        for lineno, (seg, value) in enumerate(self.read("segments").items(), start=1):
            fields = value.split()
            if len(fields) != 3:
                raise KdError(f"segment '{seg}' needs '<recording> <start> <end>'", path=path,
                              line=lineno)
            reco, start, end = fields
            if reco not in recordings:
                raise KdError(f"recording '{reco}' of segment '{seg}' is not in wav.scp",
                              path=path, line=lineno)
            try:
                start, end = float(start), float(end)
            except ValueError:
                raise KdError(f"segment '{seg}' has non-numeric times", path=path,
                              line=lineno) from None
            if not 0 <= start < end:
                raise KdError(f"segment '{seg}' needs 0 <= start < end", path=path, line=lineno)
        return set(self.read("segments"))


def split_ids(ids, nj, job):
    """The contiguous slice of ``ids`` for 1-based ``job`` of ``nj``; sizes differ by at most one."""
    if nj < 1 or not 1 <= job <= nj:
        raise KdError(f"job {job} of {nj}: need nj >= 1 and 1 <= job <= nj")
    ids = list(ids)
    base, extra = divmod(len(ids), nj)
    start = (job - 1) * base + min(job - 1, extra)
    return ids[start:start + base + (1 if job <= extra else 0)]


def piece_path(out_dir, name, job):
    """Where job ``job`` writes its piece of file ``name``: ``<out_dir>/split/<name>.<job>``."""
    return Path(out_dir) / "split" / f"{name}.{job}"


def merge_pieces(out_dir, name, nj, expected):
    """Join the ``nj`` job pieces of ``name`` into ``<out_dir>/<name>``; every id of ``expected``
    must be there (a missing piece or id means a job did not finish, or ran with another --nj)."""
    merged = {}
    for job in range(1, nj + 1):
        piece = piece_path(out_dir, name, job)
        if not piece.is_file():
            raise KdError(f"piece of job {job} of {nj} is missing (did the job finish?)", path=piece)
        merged.update(read_kv(piece))
    missing, extra = sorted(set(expected) - set(merged)), sorted(set(merged) - set(expected))
    if missing or extra:
        first = f"missing '{missing[0]}'" if missing else f"unexpected '{extra[0]}'"
        raise KdError(f"the {nj} job pieces of {name} do not match the input ({len(missing)} "
                      f"missing, {len(extra)} unexpected; first {first}; same --nj for all jobs?)",
                      path=Path(out_dir) / "split")
    write_kv(Path(out_dir) / name, merged)
    return merged


def subset_data_dir(src, dst, utts):
    """Write a data dir at ``dst`` with only ``utts`` (segment ids when ``src`` has segments).

    Every per-utterance file of ``src`` is filtered; ``wav.scp`` keeps the recordings the kept
    segments use.  Returns the new ``DataDir``.
    """
    src = src if isinstance(src, DataDir) else DataDir(src)
    dst = Path(dst)
    keep = set(utts)
    universe = set(src.read("segments")) if src.has("segments") else set(src.wav_scp)
    unknown = sorted(keep - universe)
    if unknown:
        raise KdError(f"{len(unknown)} id(s) not in the source, first '{unknown[0]}'", path=src.path)
    dst.mkdir(parents=True, exist_ok=True)
    recordings = keep
    if src.has("segments"):
        segs = {k: v for k, v in src.read("segments").items() if k in keep}
        write_kv(dst / "segments", segs)
        recordings = {v.split()[0] for v in segs.values()}
    write_kv(dst / "wav.scp", {k: v for k, v in src.wav_scp.items() if k in recordings})
    for name in OPTIONAL_FILES:
        if name != "segments" and src.has(name):
            write_kv(dst / name, {k: v for k, v in src.read(name).items() if k in keep})
    return DataDir(dst)


def copy_file(src, dst):
    """Copy one data-dir file atomically (used when a stage passes a file through unchanged)."""
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
