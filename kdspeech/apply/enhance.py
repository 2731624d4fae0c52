"""``kdspeech enhance``: an enhancement model applied to audio files, folders, lists or data dirs.

    kdspeech enhance --model model.zip noisy/ --out enhanced/
    kdspeech enhance --model exp/student_s2 in.flac --out in_enhanced.wav
    kdspeech enhance --model model.zip data/test --out enhanced/ --chunk 20 --overlap 1 --device cuda

Every input (``kdspeech.apply.inputs``) becomes ``<out>/<relative name>.wav`` (16-bit PCM at the
model's rate; one input and an ``--out`` ending in .wav or .flac: that file).  Inputs at another rate
or with several channels are resampled / down-mixed (one notice line per kind).  A recording longer
than 1.5 ``--chunk`` seconds is enhanced in chunks with ``--overlap`` seconds cross-faded
(``kdspeech.apply.chunking.overlap_add``), read and written block by block, so memory stays that of
one chunk; ``--chunk 0`` enhances every file whole.  Each output is written under a temporary name and
renamed when complete.  A file that cannot be read (unreadable, empty, truncated) is named in one
error line and the others are enhanced; the command then exits with status 1.

``--streaming`` runs a causal model hop by hop over a file or standard input (``-``, a WAV stream or
``-t raw -r 16000 -e signed -b 16 -c 1`` PCM as sox writes it) and writes as it goes (``--out -``: raw
PCM to standard output): ``kdspeech.apply.streaming``.
"""

from pathlib import Path

from kdspeech.data.audio_files import is_audio_name

DEFAULT_CHUNK_S = 30.0
DEFAULT_OVERLAP_S = 1.0


def add_arguments(p):
    p.add_argument("--model", required=True, help="packed model (.zip) or exp dir, or pretrained:deepfilternet3")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files, folders, lists, .scp files or data dirs")
    p.add_argument("--out", "-o", required=True, help="output folder (or, for one input, an output .wav/.flac)")
    p.add_argument("--chunk", type=float, default=DEFAULT_CHUNK_S,
                   help=f"seconds per chunk for long recordings (default {DEFAULT_CHUNK_S:g}; 0: whole files)")
    p.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP_S,
                   help=f"seconds cross-faded between chunks (default {DEFAULT_OVERLAP_S:g}, at most chunk/2)")
    from kdspeech.apply.streaming import add_stream_arguments
    add_stream_arguments(p)


def enhancer(model, device):
    """``fn(samples [T]) -> enhanced [T]`` with ``model`` (no gradients)."""
    import torch

    from kdspeech.models.calling import main_output

    def fn(x):
        with torch.no_grad():
            est = main_output(model, torch.from_numpy(x)[None].to(device))
        return est.reshape(est.shape[0], -1)[0].float().cpu().numpy()
    return fn


def output_paths(items, out):
    """``{item name: output path}``: ``out/<name>.wav``, or ``out`` itself for one input and an audio
    file name."""
    out = Path(out)
    if len(items) == 1 and is_audio_name(out.name) and not out.is_dir():
        return {items[0].name: out}
    return {item.name: out / f"{item.name}.wav" for item in items}


def run(args, device):
    from kdspeech.apply.streaming import STDIN, run_streaming
    from kdspeech.errors import KdError

    if getattr(args, "streaming", False):
        return run_streaming(args, device)
    if STDIN in args.inputs or getattr(args, "type", None) or getattr(args, "rate", None):
        raise KdError("standard input ('-') and -t/-r are read with --streaming only")
    from kdspeech.apply.chunking import overlap_add
    from kdspeech.apply.inputs import collect
    from kdspeech.apply.model import open_model
    from kdspeech.apply.runner import Notices, run_items, say
    from kdspeech.data.stream_audio import AudioWriter

    items = collect(args.inputs)
    model = open_model(args.model, "enhance", device)
    sr = int(model.meta["sr"])
    chunk, overlap = int(round(args.chunk * sr)), int(round(args.overlap * sr))
    fn, paths, notices = enhancer(model, device), output_paths(items, args.out), Notices()

    def step(item):
        with item.open(sr) as reader:
            notices.reader(reader, item)
            with AudioWriter(paths[item.name], sr) as writer:
                overlap_add(reader.read, reader.length, fn, chunk, overlap, writer.write, where=args.model)

    failures = run_items(items, step, "enhance")
    say(f"{len(items) - failures} of {len(items)} inputs enhanced into {args.out} at {sr} Hz")
    return 1 if failures else 0
