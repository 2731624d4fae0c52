"""How much speech a low-rate microphone gives away: WER of an off-the-shelf recogniser per rate.

    python -m kdspeech.bin.privacy_wer --data ../shared/corpora/asr/an4 [--data D2 ...] \\
        --rates "16000 2000 1000" --out_dir exp/privacy

The automatic counterpart of Liang et al.'s Table 3 (human listening): every utterance is brought
to 16 kHz, passed through each rate (down with soxr HQ and back up to 16 kHz, as the classifiers hear
it) and decoded by an ASR backend of ``kdspeech.asr`` (``--asr_backend``, default pocketsphinx's
bundled US-English model); WER is the registry's ``wer`` metric (``kdspeech.metrics.transcript``:
texts normalised alike, corpus WER = sum of errors / sum of reference words).  A source is a Kaldi
data dir (``wav.scp`` + ``text``) or a folder with ``wav.list`` (paths relative to it) + ``text``.
Writes ``hyp_<source>_<rate>.txt`` per source and rate and ``wer.json``.
"""

import argparse
import json
from pathlib import Path

from kdspeech.asr import DEFAULT_BACKEND, build_backend
from kdspeech.atomic import atomic_write_text
from kdspeech.cli import run_main
from kdspeech.data.audio import load_audio
from kdspeech.data.datadir import read_kv
from kdspeech.errors import KdError
from kdspeech.metrics.transcript import corpus_rate, word_errors


def read_source(path):
    """utt -> (audio entry, transcript)."""
    path = Path(path)
    text = read_kv(path / "text")
    if (path / "wav.scp").exists():
        wavs = read_kv(path / "wav.scp")
    elif (path / "wav.list").exists():
        wavs = {u: str(path / p) for u, p in read_kv(path / "wav.list").items()}
    else:
        raise KdError("speech source needs wav.scp or wav.list next to text", path=path)
    return {u: (wavs[u], t) for u, t in text.items() if u in wavs}


def main(argv=None):
    from kdspeech.bin.dump_feats import SR as VIEW_SR, low_rate_view

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", action="append", required=True, help="speech source (repeatable)")
    p.add_argument("--rates", default="16000 2000 1000")
    p.add_argument("--out_dir", required=True)
    p.add_argument("--asr_backend", default=DEFAULT_BACKEND, help=f"default: {DEFAULT_BACKEND}")
    args = p.parse_args(argv)
    asr = build_backend(args.asr_backend)
    out = Path(args.out_dir)
    results = {}
    for src in args.data:
        utts = read_source(src)
        name = Path(src).name
        for rate in (int(r) for r in args.rates.split()):
            errors, words, lines = [], [], []
            for utt, (entry, ref) in utts.items():
                x, sr = load_audio(entry, utt=utt)
                hyp = asr.transcribe(low_rate_view(x, sr, rate), VIEW_SR)  # back at 16 kHz
                e, n = word_errors(ref, hyp)
                errors.append(e)
                words.append(n)
                lines.append(f"{utt} {hyp}\n")
            atomic_write_text(out / f"hyp_{name}_{rate}.txt", "".join(lines))
            wer = corpus_rate(errors, words)
            results.setdefault(name, {})[str(rate)] = {"wer": wer, "num_utts": len(words),
                                                       "errors": int(sum(errors)), "words": int(sum(words))}
            print(f"{name} at {rate} Hz: WER {100 * wer:.1f} % ({len(words)} utterances)")
    atomic_write_text(out / "wer.json", json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    run_main(main)
