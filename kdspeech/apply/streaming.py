"""``kdspeech enhance --streaming``: an enhancement model run hop by hop over a file or a pipe, its
output written as it goes (a live demonstration without a microphone).

    sox in.flac -t raw -r 16000 -e signed -b 16 -c 1 - \\
        | kdspeech enhance --model model.zip --streaming -t raw -r 16000 -e signed -b 16 -c 1 - --out - \\
        | play -t raw -r 16000 -e signed -b 16 -c 1 -
    kdspeech enhance --model model.zip --streaming noisy.flac --out enhanced.wav

The model streams through its adapter (``kdspeech.models.streaming.stream_model``, one hop per step,
or ``--stream_hops`` k hops per step: the k frames batched, the latency (k - 1) hops longer; state kept
between steps); a model that cannot stream is that adapter's error (one line naming the
model and why) before any input is read.

Input ``-`` is standard input: a WAV stream (16-bit PCM or 32-bit float; its header gives the rate
and channels), or with ``-t raw`` headerless signed 16-bit little-endian PCM at ``-r`` Hz (default:
the model's rate) with ``-c`` channels (default 1), as sox writes with the same options.  Channels are
averaged.  A stream is not resampled: another rate than the model's is one error before processing.
Any other input (files, folders, lists, data dirs: ``kdspeech.apply.inputs``) is read block by block
at the model's rate (resampled and down-mixed with a notice, as without ``--streaming``) and streamed
file by file.

Output, aligned with the input and of its length: the stream's first ``delay`` samples (they precede
the signal) are dropped, and at the end the hops left after the last whole step go through the
adapter's ``last_step``, the last partial hop is padded with zeros and the adapter's
``flush`` gives the last ``delay`` samples (an adapter without ``flush`` gets zero hops instead).  So
the output is the offline enhancement of the same file up to float rounding, except near the file's
right edge where the offline STFT pads a mirror of the end that a stream sees only at the flush (see
``kdspeech.models.streaming``).  ``--out -`` writes headerless signed 16-bit little-endian PCM at the
model's rate to standard output, flushed every hop; a file name writes a WAV/FLAC (under a temporary
name, renamed when complete); a folder gets ``<name>.wav`` per input (``stdin.wav`` for ``-``).
"""

import struct
import sys

import numpy as np

from kdspeech.errors import KdError

STDIN = "-"
RAW_TYPES = ("wav", "raw")


def add_stream_arguments(p):
    """The options of ``--streaming`` and of its standard-input formats (sox's names)."""
    p.add_argument("--streaming", action="store_true",
                   help="process hop by hop and write as it goes (input '-': standard input; --out -: "
                   "raw 16-bit PCM to standard output)")
    p.add_argument("--stream_hops", type=int, default=1, metavar="K",
                   help="with --streaming: hops per step (default 1); the k frames are batched, the latency "
                   "grows by k - 1 hops")
    p.add_argument("-t", "--type", choices=RAW_TYPES, default=None,
                   help="format of standard input with --streaming: wav (default) or raw (headerless PCM)")
    p.add_argument("-r", "--rate", type=int, default=None,
                   help="sample rate of raw standard input (default: the model's); it must be the model's")
    p.add_argument("-c", "--channels", type=int, default=1, help="channels of raw standard input (averaged)")
    p.add_argument("-e", "--encoding", choices=("signed", "signed-integer"), default="signed",
                   help="raw standard input: signed integers (the only encoding read)")
    p.add_argument("-b", "--bits", type=int, choices=(16,), default=16,
                   help="raw standard input: bits per sample (16, little-endian)")


# -- standard input ------------------------------------------------------------------------------

def _read_exact(f, n):
    """Up to ``n`` bytes (fewer only at the end of the stream)."""
    parts, got = [], 0
    while got < n:
        data = f.read(n - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


class PcmStream:
    """Blocks of float32 mono samples from a byte stream of interleaved samples (``dtype`` ``<i2`` or
    ``<f4``), ``hop`` frames at a time; ``limit``: bytes of audio (None: to the end of the stream)."""

    def __init__(self, f, rate, channels, dtype="<i2", limit=None, where="standard input"):
        if channels < 1:
            raise KdError(f"{where}: channels must be at least 1, not {channels}")
        self.f, self.rate, self.channels, self.dtype = f, int(rate), int(channels), np.dtype(dtype)
        self.limit, self.where = limit, where

    def blocks(self, frames):
        frame_bytes = self.channels * self.dtype.itemsize
        left = self.limit
        while left is None or left > 0:
            want = frames * frame_bytes if left is None else min(frames * frame_bytes, left)
            data = _read_exact(self.f, want)
            if left is not None:
                left -= len(data)
            usable = len(data) - len(data) % frame_bytes
            if usable:
                x = np.frombuffer(data[:usable], self.dtype).reshape(-1, self.channels)
                x = x.astype(np.float32)
                if self.dtype.kind == "i":
                    x /= 32768.0
                yield x[:, 0] if self.channels == 1 else x.mean(axis=1, dtype=np.float32)
            if len(data) < want:
                break


def read_wav_header(f, where="standard input"):
    """``PcmStream`` of a WAV byte stream read up to its data (the header parsed as it comes, no seeking)."""
    head = _read_exact(f, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise KdError(f"{where} is not a WAV stream (no RIFF/WAVE header); for headerless PCM give "
                      "-t raw -r RATE -c CHANNELS (signed 16-bit little-endian)")
    fmt = None
    while True:
        chunk = _read_exact(f, 8)
        if len(chunk) < 8:
            raise KdError(f"{where}: the WAV stream ends before its data chunk")
        name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if name == b"data":
            break
        body = _read_exact(f, size + (size & 1))
        if name == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
            if fmt[0] == 0xFFFE and len(body) >= 26:   # WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
                fmt = (struct.unpack("<H", body[24:26])[0],) + fmt[1:]
    if fmt is None:
        raise KdError(f"{where}: the WAV stream has no fmt chunk before its data")
    tag, channels, rate, _, _, bits = fmt
    if (tag, bits) == (1, 16):
        dtype = "<i2"
    elif (tag, bits) == (3, 32):
        dtype = "<f4"
    else:
        raise KdError(f"{where}: a WAV stream of format {tag} with {bits} bits; the stream reads 16-bit PCM "
                      "or 32-bit float (convert with sox ... -b 16 -e signed)")
    limit = None if size in (0, 0xFFFFFFFF) else size   # writers to a pipe leave the size open
    return PcmStream(f, rate, channels, dtype, limit, where)


def stdin_stream(args, f=None):
    """The ``PcmStream`` of standard input for ``args`` (``-t``, ``-r``, ``-c``)."""
    f = sys.stdin.buffer if f is None else f
    if args.type == "raw":
        if args.rate is None:
            return PcmStream(f, 0, args.channels)   # the model's rate, filled in by the caller
        return PcmStream(f, args.rate, args.channels)
    return read_wav_header(f)


# -- output --------------------------------------------------------------------------------------

class RawWriter:
    """Signed 16-bit little-endian PCM to a byte stream, flushed every block; samples clipped to
    [-1, 1] and converted by libsndfile, as ``AudioWriter`` writes them to a file."""

    def __init__(self, f, sr):
        self.f, self.sr = f, int(sr)

    def write(self, x):
        import io

        import soundfile as sf

        x = np.asarray(x, np.float32)
        if not np.all(np.isfinite(x)):
            raise KdError("the enhanced audio holds NaN or infinite samples", path="standard output")
        buf = io.BytesIO()
        sf.write(buf, np.clip(x, -1.0, 1.0), self.sr, format="RAW", subtype="PCM_16", endian="LITTLE")
        try:
            self.f.write(buf.getvalue())
            self.f.flush()
        except BrokenPipeError:
            raise KdError("the reader of standard output went away (broken pipe)") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# -- the stream ----------------------------------------------------------------------------------

def stream_blocks(stream, blocks, emit, device="cpu"):
    """Run ``stream`` step by step (``step_size`` samples) over ``blocks`` (float32 arrays of any
    length) and ``emit`` the output as it comes, aligned and of the input's length (module text).
    Returns the number of samples."""
    import torch

    hop, delay = stream.hop, stream.delay
    size = getattr(stream, "step_size", hop)
    state = stream.init_state(1)
    pending = np.zeros(0, np.float32)
    count = {"in": 0, "out": 0, "skip": delay}

    def put(y):
        cut = min(count["skip"], len(y))
        count["skip"] -= cut
        y = y[cut:count["in"] - count["out"] + cut]   # never past the input's length
        if len(y):
            emit(y)
            count["out"] += len(y)

    def step(chunk, last=False):
        nonlocal state
        chunk = torch.from_numpy(np.ascontiguousarray(chunk))[None].to(device)
        out, state = stream.last_step(chunk, state) if last else stream.step(chunk, state)
        put(out[0].float().cpu().numpy())

    with torch.inference_mode():
        for block in blocks:
            count["in"] += len(block)
            pending = np.concatenate([pending, np.asarray(block, np.float32)])
            whole = len(pending) - len(pending) % size
            for start in range(0, whole, size):
                step(pending[start:start + size])
            pending = pending[whole:]
        if count["in"] == 0:
            raise KdError("empty input (0 samples)")
        if len(pending):   # the hops left, the last one padded with zeros
            step(np.pad(pending, (0, -len(pending) % hop)), last=True)
        flush = getattr(stream, "flush", None)
        try:
            tail = flush(state) if flush is not None else None
        except NotImplementedError:
            tail = None
        if tail is not None:
            put(tail[0].float().cpu().numpy())
        while count["out"] < count["in"]:
            step(np.zeros(size, np.float32))
    return count["out"]


def open_streaming(args, device):
    """``(model, adapter, rate)`` of ``--model``; a model that cannot stream is its KdError."""
    from kdspeech.apply.model import open_model
    from kdspeech.models.streaming import stream_model

    model = open_model(args.model, "enhance", device)
    hops = getattr(args, "stream_hops", 1)
    extra = {"hops_per_step": hops} if hops != 1 else {}
    return model, stream_model(model.eval(), **extra), int(model.meta["sr"])


def run_streaming(args, device):
    """``kdspeech enhance --streaming`` (module text)."""
    from kdspeech.apply.enhance import output_paths
    from kdspeech.apply.inputs import Item, collect
    from kdspeech.apply.runner import Notices, run_items, say
    from kdspeech.data.stream_audio import AudioWriter

    if STDIN in args.inputs and len(args.inputs) > 1:
        raise KdError("standard input ('-') is streamed alone: give it as the only input")
    _, stream, sr = open_streaming(args, device)
    if args.inputs == [STDIN]:
        source = stdin_stream(args)
        source.rate = source.rate or sr
        if source.rate != sr:
            raise KdError(f"standard input is at {source.rate} Hz and the model runs at {sr} Hz; a stream is "
                          f"not resampled (resample first, e.g. sox ... -r {sr})")
        items = [Item("stdin", "standard input", None)]
    else:
        items = collect(args.inputs)
    if args.out == STDIN and len(items) > 1:
        raise KdError("--out - (standard output) takes one input")
    paths = {items[0].name: STDIN} if args.out == STDIN else output_paths(items, args.out)
    notices, block = Notices(), stream.step_size * max(1, 10 // stream.hops)

    def writer(name):
        return RawWriter(sys.stdout.buffer, sr) if paths[name] == STDIN else AudioWriter(paths[name], sr)

    if args.inputs == [STDIN]:
        with writer("stdin") as out:
            stream_blocks(stream, source.blocks(stream.step_size), out.write, device)
        say(f"standard input enhanced hop by hop into {'standard output' if args.out == STDIN else paths['stdin']} "
            f"at {sr} Hz")
        return 0

    def step(item):
        with item.open(sr) as reader:
            notices.reader(reader, item)
            blocks = (reader.read(start, start + block) for start in range(0, reader.length, block))
            with writer(item.name) as out:
                stream_blocks(stream, blocks, out.write, device)

    failures = run_items(items, step, "enhance --streaming")
    say(f"{len(items) - failures} of {len(items)} inputs enhanced hop by hop into {args.out} at {sr} Hz")
    return 1 if failures else 0
