"""Whole-dir operations on Kaldi data dirs: take a subset, combine several, write one from tables.

    subset_dir("data/all", "data/dev", ["u1", "u3"])
    combine_dirs(["data/a", "data/b"], "data/ab", prefixes=["a-", "b-"])

What each file of a dir is keyed by decides what happens to it:

- per utterance: ``wav.scp`` (per recording with ``segments``), ``segments``, every ``utt2*`` file and
  every other ``*.scp`` (``spk1.scp``, ``noise1.scp``...), and the files of
  ``kdspeech.data.datadir.OPTIONAL_FILES``;
- per recording (with ``segments``): ``wav.scp`` and every ``reco2*`` file;
- per speaker: every ``spk2*`` file but ``spk2utt``, which is rewritten from ``utt2spk`` (Kaldi's
  ``utt2spk_to_spk2utt.pl``);
- ``trials``: pairs of utterances, kept when both are; ``classes.txt``: copied (sources of a
  combination must agree on it).

Any other file is left out, and named in a warning.  The output is written into a temporary folder
beside the destination, validated (``DataDir.validate``), and only then put in its place, so a
failure leaves the destination as it was and a re-run never mixes files of two runs.
"""

import logging
import os
import shutil
from pathlib import Path

from kdspeech.atomic import atomic_write_text
from kdspeech.data.datadir import OPTIONAL_FILES, DataDir, read_kv, subset_data_dir, write_kv
from kdspeech.errors import KdError

log = logging.getLogger(__name__)

#: Files copied as they are (not keyed by utterance).
WHOLE_FILES = ("classes.txt",)
#: Files rewritten from others.
DERIVED_FILES = ("spk2utt",)


def file_kind(name, segmented):
    """``'utt'``, ``'reco'``, ``'spk'``, ``'trials'``, ``'whole'``, ``'derived'`` or ``None`` (unknown)."""
    if name == "wav.scp":
        return "reco" if segmented else "utt"
    if name in DERIVED_FILES:
        return "derived"
    if name in WHOLE_FILES:
        return "whole"
    if name == "trials":
        return "trials"
    if name in OPTIONAL_FILES or name.startswith("utt2") or name.endswith(".scp"):
        return "utt"
    if name.startswith("reco2"):
        return "reco" if segmented else None
    if name.startswith("spk2"):
        return "spk"
    return None


def dir_files(data):
    """``{name: kind}`` of the files of a data dir (hidden files skipped)."""
    segmented = data.has("segments")
    return {p.name: file_kind(p.name, segmented) for p in sorted(data.path.iterdir())
            if p.is_file() and not p.name.startswith(".")}


def spk2utt(utt2spk):
    """``{speaker: "utt1 utt2 ..."}`` from ``{utt: speaker}``."""
    out = {}
    for utt, spk in utt2spk.items():
        out.setdefault(spk, []).append(utt)
    return {spk: " ".join(sorted(utts)) for spk, utts in out.items()}


def write_trials(path, trials):
    """Trials (``kdspeech.metrics.trials.Trial``) as Kaldi's ``<enroll> <test> target|nontarget``."""
    atomic_write_text(path, "".join(f"{t.enroll} {t.test} {'target' if t.label else 'nontarget'}\n"
                                    for t in trials))


class _Staging:
    """A temporary folder beside ``dst`` that replaces ``dst`` when the block succeeds."""

    def __init__(self, dst):
        self.dst = Path(dst)
        self.tmp = self.dst.with_name(f".{self.dst.name}.tmp{os.getpid()}")

    def __enter__(self):
        if self.dst.exists() and not self.dst.is_dir():
            raise KdError("exists and is not a folder", path=self.dst)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        return self.tmp

    def __exit__(self, kind, value, tb):
        if kind is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        old = self.dst.with_name(f".{self.dst.name}.old{os.getpid()}")
        if self.dst.exists():
            os.replace(self.dst, old)
        os.replace(self.tmp, self.dst)
        shutil.rmtree(old, ignore_errors=True)
        return False


def _finish(out, files, where):
    """Write spk2utt, validate the staged dir, warn about what was left out."""
    if (out / "utt2spk").is_file():
        write_kv(out / "spk2utt", spk2utt(read_kv(out / "utt2spk")))
    DataDir(out).validate()
    unknown = sorted(name for name, kind in files.items() if kind is None)
    if unknown:
        log.warning("%s: left out %s (not a per-utterance, per-speaker or known file of a data dir)",
                    where, ", ".join(unknown))


def subset_dir(src, dst, utts):
    """Write the data dir ``dst`` holding the utterances ``utts`` of ``src`` (see the module text).

    Utterance ids are segment ids when ``src`` has ``segments``.  Returns the new ``DataDir``."""
    src = (src if isinstance(src, DataDir) else DataDir(src)).validate()
    keep = set(utts)
    if not keep:
        raise KdError("the subset is empty: nothing would be kept", path=src.path)
    files = dir_files(src)
    with _Staging(dst) as out:
        subset_data_dir(src, out, keep)          # wav.scp, segments and the known per-utterance files
        kept = DataDir(out)
        recordings = set(kept.wav_scp)
        speakers = set(read_kv(out / "utt2spk").values()) if (out / "utt2spk").is_file() else None
        for name, kind in files.items():
            if (out / name).exists() or kind in (None, "derived"):
                continue
            if kind == "whole":
                shutil.copyfile(src.file(name), out / name)
            elif kind in ("utt", "reco", "spk"):
                ids = {"utt": keep, "reco": recordings, "spk": speakers}[kind]
                table = {k: v for k, v in src.read(name).items() if ids is None or k in ids}
                if table:
                    write_kv(out / name, table)
            elif kind == "trials":
                from kdspeech.metrics.trials import read_trial_list

                trials = [t for t in read_trial_list(src.file(name)) if t.enroll in keep and t.test in keep]
                if trials:
                    write_trials(out / name, trials)
                else:
                    log.warning("%s: no trial has both utterances in the subset; no trials written",
                                src.file(name))
        _finish(out, files, src.path)
    return DataDir(dst)


def combine_dirs(srcs, dst, prefixes=None):
    """Write the data dir ``dst`` holding every utterance of the dirs ``srcs``.

    ``prefixes`` (one per source) is put before that source's utterance and recording ids (not its
    speakers), for sources whose ids collide.  An id in two sources, a file that must cover every
    utterance (``utt2spk``, ``text``, ``spk1.scp``, ``noise1.scp``) present in some sources only,
    ``segments`` in some only, or different ``classes.txt`` are KdErrors naming the files."""
    from kdspeech.data.datadir import MUST_COVER
    from kdspeech.metrics.trials import Trial, read_trial_list

    if len(srcs) < 1:
        raise KdError("combine needs at least one source data dir")
    prefixes = list(prefixes) if prefixes else [""] * len(srcs)
    if len(prefixes) != len(srcs):
        raise KdError(f"{len(prefixes)} prefixes for {len(srcs)} source dirs: give one per source")
    dirs = [DataDir(s).validate() for s in srcs]
    segmented = {d.has("segments") for d in dirs}
    if len(segmented) > 1:
        with_seg = next(d for d in dirs if d.has("segments"))
        without = next(d for d in dirs if not d.has("segments"))
        raise KdError(f"{with_seg.path} has segments and {without.path} has none: combine dirs of one kind",
                      path=without.file("segments"))
    segmented = segmented.pop()
    files = {}
    for d in dirs:
        for name, kind in dir_files(d).items():
            files.setdefault(name, kind)
    for name in sorted(files):
        if name in MUST_COVER:
            lacking = [d for d in dirs if not d.has(name)]
            if lacking:
                raise KdError(f"{name} is in some source dirs but not in this one: every source needs it "
                              "(or remove it from all)", path=lacking[0].file(name))
    tables, origin, trials, classes = {}, {}, [], None
    for d, prefix in zip(dirs, prefixes):
        for name, kind in dir_files(d).items():
            if kind in ("utt", "reco", "spk"):
                table = tables.setdefault(name, {})
                seen = origin.setdefault(name, {})
                renamed = (prefix if kind in ("utt", "reco") else "")
                for key, value in d.read(name).items():
                    if kind == "utt" and name == "segments":
                        reco, start, end = value.split()
                        value = f"{prefix}{reco} {start} {end}"
                    new = renamed + key
                    if new in table and (kind == "utt" or table[new] != value):
                        what = "utterance" if kind == "utt" else "recording" if kind == "reco" else "speaker"
                        raise KdError(f"{what} id '{new}' is in {seen[new]} and {d.file(name)}"
                                      + (" with different values" if kind != "utt" else "")
                                      + "; give --prefixes to tell the sources apart", path=d.file(name))
                    table[new], seen[new] = value, d.file(name)
            elif kind == "trials":
                trials += [Trial(prefix + t.enroll, prefix + t.test, t.label, t.line)
                           for t in read_trial_list(d.file(name))]
            elif kind == "whole":
                text = d.file(name).read_text(encoding="utf-8")
                if classes is not None and text != classes[1]:
                    raise KdError(f"differs from {classes[0]}: combine dirs with one class list",
                                  path=d.file(name))
                classes = (d.file(name), text)
    with _Staging(dst) as out:
        for name, table in tables.items():
            write_kv(out / name, table)
        if classes is not None:
            atomic_write_text(out / "classes.txt", classes[1])
        if trials:
            write_trials(out / "trials", trials)
        _finish(out, files, ", ".join(str(d.path) for d in dirs))
    return DataDir(dst)


def write_dir(dst, tables):
    """Write a data dir from ``{file name: {id: value}}`` (empty tables skipped), validated, in place of
    ``dst`` (see the module text).  Returns the ``DataDir``."""
    with _Staging(dst) as out:
        for name, table in tables.items():
            if table:
                write_kv(out / name, table)
        _finish(out, {name: file_kind(name, "segments" in tables) for name in tables}, dst)
    return DataDir(dst)
