"""Cache the 16 kHz PANNs log-mel of every clip of a data dir, as heard through a low-rate microphone.

    python -m kdspeech.bin.dump_feats --data data/all --rate 1000 --out dump/feats/1000 [--duration 5]

Each clip is brought to 16 kHz, downsampled to ``--rate`` and back up to 16 kHz with soxr HQ (so no
energy is left above rate/2), cut or zero-padded to ``--duration`` seconds and turned into the log-mel
of ``kdspeech.models.panns`` (64 bands, window 512, hop 160, 50-8000 Hz, dB).  ``--rate 16000`` is the
full-band view.  Output: ``feats.npy`` ``[N, frames, 64]`` float32 and ``utts.txt`` (row order), both
written under temporary names and renamed, so a killed run leaves no half dump.  One row per
utterance (per segment when the data dir has ``segments``).  Clips at another sample rate than the
rest are named in a warning, or, with ``--strict_rate true``, an error (nothing is written).
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from kdspeech.atomic import atomic_path, atomic_write_text
from kdspeech.cli import run_main
from kdspeech.data.datadir import DataDir
from kdspeech.data.resample import check_source_rates, resample
from kdspeech.models.panns import FRONTEND, PannsFrontend

SR = 16000


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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="data dir (wav.scp)")
    p.add_argument("--rate", type=int, required=True, help="microphone sample rate (16000: full band)")
    p.add_argument("--out", required=True, help="output dir")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per clip (cut or zero-padded)")
    p.add_argument("--quality", default="HQ", help="soxr quality")
    p.add_argument("--strict_rate", choices=["true", "false"], default="false",
                   help="fail when the clips are not all at one sample rate (default false: warn, "
                        "naming the odd clips, and resample them)")
    args = p.parse_args(argv)
    data = DataDir(args.data)
    data.validate()
    frontend = PannsFrontend(**FRONTEND).eval()
    n = int(round(args.duration * SR))
    rows, rates = [], {}
    for utt in tqdm(data.utts, desc=f"feats {args.rate} Hz", disable=None):
        x, rates[utt] = data.load_audio(utt)
        x = fit_duration(low_rate_view(x, rates[utt], args.rate, args.quality), n)
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
    return 0


if __name__ == "__main__":
    run_main(main)
