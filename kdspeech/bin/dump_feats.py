"""Cache the 16 kHz PANNs log-mel of every clip of a data dir, as heard through a low-rate microphone.

    python -m kdspeech.bin.dump_feats --data data/all --rate 1000 --out dump/feats/1000 [--duration 5]
    python -m kdspeech.bin.dump_feats --data data/all --print_duration     # what --duration auto is

Each clip is brought to 16 kHz, downsampled to ``--rate`` and back up to 16 kHz with soxr HQ (so no
energy is left above rate/2), cut or zero-padded to ``--duration`` seconds and turned into the log-mel
of ``kdspeech.models.panns`` (64 bands, window 512, hop 160, 50-8000 Hz, dB).  ``--rate 16000`` is the
full-band view.  Output: ``feats.npy`` ``[N, frames, 64]`` float32 and ``utts.txt`` (row order), both
written under temporary names and renamed, so a killed run leaves no half dump.  One row per
utterance (per segment when the data dir has ``segments``).  Clips at another sample rate than the
rest are named in a warning, or, with ``--strict_rate true``, an error (nothing is written).  It says
how many clips were zero-padded and how many cut.

``--duration auto`` (and ``--print_duration``, which prints it and exits): the longest clip's duration,
rounded up to 0.1 s, so that no clip is cut; the durations come from the data dir's ``utt2dur`` when it
has one (Kaldi's file, written by the recipes' data preparation), else from the clips' headers.  When
the longest clip is over 3 times the median, a warning names it and says what a shorter ``--duration``
would cut (every clip is padded to the longest: features and training grow with it).
"""

import argparse
import logging
import math
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from kdspeech.atomic import atomic_path, atomic_write_text
from kdspeech.cli import run_main
from kdspeech.data.audio import audio_info
from kdspeech.data.datadir import DataDir
from kdspeech.errors import KdError
from kdspeech.data.resample import check_source_rates, resample
from kdspeech.models.panns import FRONTEND, PannsFrontend

SR = 16000
log = logging.getLogger("kdspeech.dump_feats")


def low_rate_view(x, sr, rate, quality="HQ"):
    """``x`` at ``sr`` -> 16 kHz -> ``rate`` -> 16 kHz (float32)."""
    x = resample(x, sr, SR, quality=quality)
    if rate < SR:
        n = len(x)
        x = resample(resample(x, SR, rate, quality=quality), rate, SR, quality=quality)
        x = x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))
    return x


def fit_duration(x, num_samples):
    return x[:num_samples] if len(x) >= num_samples else np.pad(x, (0, num_samples - len(x)))


def clip_seconds(data):
    """``{utt: seconds}``: ``utt2dur``, else the headers (a segment's span with ``segments``)."""
    if data.has("utt2dur"):
        try:
            return {utt: float(v) for utt, v in data.read("utt2dur").items()}
        except ValueError:
            raise KdError("utt2dur holds a value that is not a number", path=data.file("utt2dur")) from None
    if data.has("segments"):
        return {utt: float(v.split()[2]) - float(v.split()[1]) for utt, v in data.read("segments").items()}
    out = {}
    for utt, entry in data.wav_scp.items():
        frames, rate, _ = audio_info(entry, utt=utt)
        out[utt] = frames / rate
    return out


def auto_duration(data):
    """The longest clip's duration rounded up to 0.1 s (a warning when it is over 3 times the median)."""
    seconds = clip_seconds(data)
    if not seconds:
        raise KdError("no clips", path=data.path)
    longest = max(seconds, key=seconds.get)
    duration = math.ceil(round(seconds[longest] * 10, 6)) / 10
    median = float(np.median(list(seconds.values())))
    if seconds[longest] > 3 * median:
        shorter = math.ceil(round(median * 10, 6)) / 10
        cut = sum(s > shorter for s in seconds.values())
        log.warning("--duration auto: clip %s is %.1f s, over 3 times the median clip (%.1f s): every clip is "
                    "padded to %.1f s; --duration %g would cut %d of the %d clips instead", longest,
                    seconds[longest], median, duration, shorter, cut, len(seconds))
    return duration


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="data dir (wav.scp)")
    p.add_argument("--rate", type=int, help="microphone sample rate (16000: full band)")
    p.add_argument("--out", help="output dir")
    p.add_argument("--duration", default="5.0", help="seconds per clip (cut or zero-padded); auto: the longest clip's")
    p.add_argument("--print_duration", action="store_true", help="print what --duration auto gives, and exit")
    p.add_argument("--quality", default="HQ", help="soxr quality")
    p.add_argument("--strict_rate", choices=["true", "false"], default="false",
                   help="fail when the clips are not all at one sample rate (default false: warn, "
                        "naming the odd clips, and resample them)")
    args = p.parse_args(argv)
    data = DataDir(args.data)
    data.validate()
    if args.print_duration:
        print(f"{auto_duration(data):g}")
        return 0
    if args.rate is None or args.out is None:
        raise KdError("--rate and --out are needed (or --print_duration)")
    try:
        duration = auto_duration(data) if args.duration == "auto" else float(args.duration)
    except ValueError:
        raise KdError(f"--duration {args.duration!r}: expected seconds or auto") from None
    frontend = PannsFrontend(**FRONTEND).eval()
    n = int(round(duration * SR))
    rows, rates, padded, cut = [], {}, 0, 0
    for utt in tqdm(data.utts, desc=f"feats {args.rate} Hz", disable=None):
        x, rates[utt] = data.load_audio(utt)
        x = low_rate_view(x, rates[utt], args.rate, args.quality)
        padded, cut = padded + (len(x) < n), cut + (len(x) > n)
        x = fit_duration(x, n)
        with torch.no_grad():
            rows.append(frontend(torch.from_numpy(x)).numpy().astype(np.float32))
    entries = {} if data.has("segments") else data.wav_scp
    check_source_rates(rates, entries, strict=args.strict_rate == "true", path=data.file("wav.scp"),
                       what=f"brought to {SR} Hz")
    out = Path(args.out)
    with atomic_path(out / "feats.npy") as tmp:
        np.save(tmp, np.stack(rows))
    atomic_write_text(out / "utts.txt", "".join(u + "\n" for u in data.utts))
    print(f"{len(rows)} clips, {rows[0].shape[0]} frames x {rows[0].shape[1]} mels -> {out}/feats.npy")
    if padded or cut:   # a WARNING line: utils/stage.sh shows it on the console
        log.warning("%s s per clip (--duration %s): %d of %d clips zero-padded, %d cut", f"{duration:g}",
                    args.duration, padded, len(rows), cut)
    return 0


if __name__ == "__main__":
    run_main(main)
