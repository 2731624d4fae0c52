"""How much speech a low-rate microphone gives away: WER of an off-the-shelf recogniser per rate.

    python -m kdspeech.bin.privacy_wer --data ../shared/corpora/asr/an4 [--data D2 ...] \\
        --rates "16000 2000 1000" --asr_backends "pocketsphinx moonshine" --out_dir exp/privacy

The automatic counterpart of Liang et al.'s Table 3 (human listening): every utterance is brought
to 16 kHz, passed through each rate (down with soxr HQ and back up to 16 kHz, as the classifiers hear
it) and decoded by each ASR backend of ``kdspeech.asr`` named in ``--asr_backends`` (default
pocketsphinx's bundled US-English model; moonshine is the second offline backend); WER is the
registry's ``wer`` metric (``kdspeech.metrics.transcript``: texts normalised alike, corpus WER = sum
of errors / sum of reference words).  A source is a Kaldi data dir (``wav.scp`` + ``text``) or a
folder with ``wav.list`` (paths relative to it) + ``text``.  Writes
``<backend>/hyp_<source>_<rate>.txt`` per backend, source and rate, and ``wer.json``:
``{"backends": {<backend>: {<source>: {<rate>: {wer, num_utts, errors, words, utterances}}}},
"rates": [...], "speakers": {<source>: {<utt>: <speaker>}}}``, ``utterances`` being ``{<utt>:
[word errors, reference words]}`` (the paired comparison of two rates in the results,
``kdspeech.metrics.paired_rate``) and ``speakers`` the source's utt2spk, when it has one.
The low-rate views are made once per utterance and rate and decoded by every backend.
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
    p.add_argument("--asr_backends", default=DEFAULT_BACKEND,
                   help=f"space-separated ASR backends of kdspeech.asr (default: {DEFAULT_BACKEND})")
    args = p.parse_args(argv)
    names = args.asr_backends.split()
    if not names or len(set(names)) != len(names):
        raise KdError(f"--asr_backends needs distinct backend names, got '{args.asr_backends}'")
    backends = {b: build_backend(b) for b in names}  # an unknown name fails before any decoding
    rates = [int(r) for r in args.rates.split()]
    out = Path(args.out_dir)
    results = {b: {} for b in names}
    speakers = {}
    for src in args.data:
        utts = read_source(src)
        name = Path(src).name
        utt2spk = read_kv(Path(src) / "utt2spk", allow_missing=True)
        if utt2spk:
            speakers[name] = {u: utt2spk[u] for u in utts if u in utt2spk}
        for rate in rates:
            errors = {b: [] for b in names}
            words, lines = [], {b: [] for b in names}
            for utt, (entry, ref) in utts.items():
                x, sr = load_audio(entry, utt=utt)
                view = low_rate_view(x, sr, rate)  # back at 16 kHz
                for b, asr in backends.items():
                    hyp = asr.transcribe(view, VIEW_SR)
                    e, n = word_errors(ref, hyp)
                    errors[b].append(e)
                    lines[b].append(f"{utt} {hyp}\n")
                words.append(n)
            for b in names:
                atomic_write_text(out / b / f"hyp_{name}_{rate}.txt", "".join(lines[b]))
                wer = corpus_rate(errors[b], words)
                results[b].setdefault(name, {})[str(rate)] = {
                    "wer": wer, "num_utts": len(words), "errors": int(sum(errors[b])), "words": int(sum(words)),
                    "utterances": {u: [int(e), int(n)] for u, e, n in zip(utts, errors[b], words)}}
                print(f"{b}: {name} at {rate} Hz: WER {100 * wer:.1f} % ({len(words)} utterances)")
    atomic_write_text(out / "wer.json", json.dumps({"backends": results, "rates": rates, "speakers": speakers},
                                                   indent=1))
    return 0


if __name__ == "__main__":
    run_main(main)
