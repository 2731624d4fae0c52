"""Check a Kaldi-style data dir: sorted unique ids, consistent files, optionally every audio file.

    python -m kdspeech.bin.validate_data_dir data/train [--audio] [--sr 16000]

Without ``--audio`` only the text files are checked (fast).  With ``--audio`` every entry of
wav.scp, spk1.scp and noise1.scp is decoded: it must be readable, mono, non-empty, at ``--sr`` when
given, and a mixture's reference and noise must have the mixture's length.
"""

import argparse

from tqdm import tqdm

from kdspeech.cli import run_main
from kdspeech.data.audio import load_audio
from kdspeech.data.datadir import AUDIO_SCPS, DataDir
from kdspeech.errors import KdError



def check_audio(data, sr=None):
    """Decode every audio entry of ``data``; returns the sample rates seen."""
    scps = {name: data.read(name) for name in AUDIO_SCPS if data.has(name)}
    rates = set()
    # Audio files are keyed by recording (wav.scp, with segments) or by utterance (spk1.scp...).
    entries = sorted(set().union(*map(set, scps.values())))
    for utt in tqdm(entries, desc=f"audio of {data.path}", disable=None):
        lengths = {}
        for name, scp in scps.items():
            if utt not in scp:
                continue
            x, rate = load_audio(scp[utt], sr=sr, utt=utt)
            if x.size == 0:
                raise KdError(f"utterance '{utt}': audio has no samples", path=data.file(name))
            rates.add(rate)
            lengths[name] = len(x)
        if len(set(lengths.values())) > 1:
            raise KdError(f"utterance '{utt}': lengths differ between files: {lengths}",
                          path=data.path)
    if len(rates) > 1:
        raise KdError(f"audio has mixed sample rates {sorted(rates)}", path=data.path)
    return rates


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", help="Kaldi-style data dir")
    parser.add_argument("--audio", action="store_true", help="also decode every audio file")
    parser.add_argument("--sr", type=int, default=None, help="required sample rate (with --audio)")
    args = parser.parse_args(argv)
    data = DataDir(args.data_dir).validate()
    files = sorted(p.name for p in data.path.iterdir() if p.is_file())
    msg = f"{data.path}: OK, {len(data.recordings)} entries in wav.scp; files: {' '.join(files)}"
    if args.audio:
        rates = check_audio(data, args.sr)
        msg += f"; audio OK at {'/'.join(map(str, sorted(rates)))} Hz"
    print(msg)
    return 0


if __name__ == "__main__":
    run_main(main)
