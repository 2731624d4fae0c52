#!/usr/bin/env python3
"""CHiME-4 (licensed; no download) -> Kaldi data dirs for the enhancement + ASR recipe (single channel).

    local/prepare_chime4.py --root /data/CHiME4/CHiME3 --out data [--channel 5] [--sets "tr05_simu dt05_simu ..."]

Reads the layout of the distributed corpus (as Kaldi's egs/chime4 local/*_chime4_data_prep.sh do):

    <root>/data/audio/16kHz/isolated/<set>_<env>_<kind>/<SPK>_<UTT>_<ENV>.CH<n>.wav   noisy channels
    <root>/data/audio/16kHz/isolated_ext/<set>_<env>_simu/<SPK>_<UTT>_<ENV>.CH<n>.Clean.wav
                                                              the clean speech of simulated data
    <root>/data/transcriptions/<set>_<kind>.dot_all          '<WORDS> (<SPK>_<UTT>_<ENV>)' per line

with <set> tr05 | dt05 | et05, <env> bus caf ped str, <kind> simu | real.  For each set it writes
``<out>/<set>_<kind>/``: ``wav.scp`` (channel --channel, default 5 as CHiME-4's 1-channel track),
``utt2spk`` (speaker), ``utt2noise`` (environment), ``text`` (the dot transcript without noise marks
``[...]``, ``<...>`` and punctuation-only tokens, upper case) and, for simulated sets, ``spk1.scp`` (the
clean speech of that channel) so that a simulated set is a mixture dir of the enhancement template
(intrusive metrics and WER); real sets have no clean reference (WER/CER and DNSMOS only).
Utterance ids are ``<SPK>_<UTT>_<ENV>_<KIND>``.  tr05_simu transcripts come from WSJ0, not from a
CHiME-4 dot file: a set whose dot file is missing gets no ``text`` (with a warning) unless
``--require_text``.  Any missing audio file, or a dot line without its audio, is an error naming it.
"""

import argparse
import re
import sys
from pathlib import Path

from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError

ENVS = ("bus", "caf", "ped", "str")
DEFAULT_SETS = "tr05_simu dt05_simu et05_simu tr05_real dt05_real et05_real"
_DOT = re.compile(r"^(.*)\(([^()\s]+)\)\s*$")
_MARK = re.compile(r"\[[^\]]*\]|<[^>]*>")


def read_dot(path):
    """``{id: words}`` of a dot file: noise marks and punctuation-only tokens dropped, upper case."""
    table = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        m = _DOT.match(line)
        if not m:
            raise KdError(f"line {number}: expected '<words> (<id>)'", path=path)
        words = [w for w in _MARK.sub(" ", m.group(1)).split() if re.search(r"\w", w)]
        words = [re.sub(r"^[^\w']+|[^\w']+$", "", w).upper() for w in words]
        table[m.group(2).upper()] = " ".join(w for w in words if w)
    return table


def prepare(root, out, set_name, channel, require_text):
    part, kind = set_name.split("_")
    audio = root / "data" / "audio" / "16kHz" / "isolated"
    ext = root / "data" / "audio" / "16kHz" / "isolated_ext"
    wav, spk, noise, clean = {}, {}, {}, {}
    for env in ENVS:
        folder = audio / f"{part}_{env}_{kind}"
        if not folder.is_dir():
            raise KdError(f"{set_name}: folder missing (is --root the CHiME3 dir of CHiME-4?)", path=folder)
        for path in sorted(folder.glob(f"*.CH{channel}.wav")):
            base = path.name[: -len(f".CH{channel}.wav")]            # SPK_UTT_ENV
            fields = base.split("_")
            if len(fields) != 3:
                raise KdError(f"unexpected file name (expected <SPK>_<UTT>_<ENV>.CH{channel}.wav)", path=path)
            utt = f"{base}_{kind.upper()}"
            wav[utt], spk[utt], noise[utt] = str(path.resolve()), fields[0], env
            if kind == "simu":
                ref = ext / f"{part}_{env}_simu" / f"{base}.CH{channel}.Clean.wav"
                if not ref.is_file():
                    raise KdError(f"{set_name}: clean speech of {utt} missing", path=ref)
                clean[utt] = str(ref.resolve())
    if not wav:
        raise KdError(f"{set_name}: no *.CH{channel}.wav files", path=audio)
    dot = root / "data" / "transcriptions" / f"{part}_{kind}.dot_all"
    text = None
    if dot.is_file():
        table = read_dot(dot)
        text = {}
        for utt in wav:
            key = utt.rsplit("_", 1)[0].upper()
            if key not in table:
                raise KdError(f"{set_name}: utterance {key} has no transcript", path=dot)
            text[utt] = table[key]
    elif require_text:
        raise KdError(f"{set_name}: transcript file missing", path=dot)
    else:
        print(f"prepare_chime4.py: WARNING: {dot} missing: {set_name} gets no text "
              f"(tr05_simu transcripts are WSJ0's)", file=sys.stderr)
    dst = out / set_name
    dst.mkdir(parents=True, exist_ok=True)
    write_kv(dst / "wav.scp", wav)
    write_kv(dst / "utt2spk", spk)
    write_kv(dst / "utt2noise", noise)
    if clean:
        write_kv(dst / "spk1.scp", clean)
    if text is not None:
        write_kv(dst / "text", text)
    print(f"{dst}: {len(wav)} utterances ({'with' if text is not None else 'no'} text)", file=sys.stderr)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="the CHiME3 folder of CHiME-4 (holds data/audio, data/transcriptions)")
    p.add_argument("--out", required=True)
    p.add_argument("--channel", type=int, default=5, choices=range(1, 7))
    p.add_argument("--sets", default=DEFAULT_SETS)
    p.add_argument("--require_text", action="store_true")
    args = p.parse_args(argv)
    root = Path(args.root)
    for set_name in args.sets.split():
        part, _, kind = set_name.partition("_")
        if part not in ("tr05", "dt05", "et05") or kind not in ("simu", "real"):
            raise KdError(f"--sets: '{set_name}' is not <tr05|dt05|et05>_<simu|real>")
        prepare(root, Path(args.out), set_name, args.channel, args.require_text)


if __name__ == "__main__":
    try:
        main()
    except KdError as err:
        print(f"local/prepare_chime4.py (stage 1, data preparation): {err}", file=sys.stderr)
        sys.exit(1)
