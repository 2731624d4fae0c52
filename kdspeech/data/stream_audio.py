"""Audio of any length, rate and channel count read piece by piece, and written piece by piece.

    reader = AudioReader("long.flac", sr=16000)      # any rate, any channels
    reader.length                                   # samples at 16 kHz, mono
    x = reader.read(160000, 320000)                 # float32 [160000]: 10 s to 20 s
    with AudioWriter("out.wav", 16000) as w:        # atomic: out.wav appears when the block ends
        w.write(y1); w.write(y2)

So a recording of hours is processed in bounded memory.  A file is read through soundfile in blocks;
a Kaldi pipe entry (``<command> |``) or an in-memory array is decoded whole (``kdspeech.data.audio``).
Channels are averaged to mono; another rate is converted with ``kdspeech.data.resample.resample``
(soxr HQ) on the requested span plus ``MARGIN_S`` seconds of context each side, at block boundaries
where input and output samples fall on the same instant, so that any span equals the same span of the
whole recording resampled at once (to float rounding; measured in tests/test_stream_audio.py).

Written files follow ``kdspeech.data.audio.save_audio``: 16-bit PCM, samples clipped to [-1, 1],
NaN or infinite samples an error, a temporary name renamed at the end (``kdspeech.atomic``); the
format follows the suffix (``.flac``: FLAC, anything else: WAV).
"""

import math
import os

import numpy as np
import soundfile as sf

from kdspeech.atomic import atomic_path
from kdspeech.data.audio import _check_not_truncated, is_command, load_audio
from kdspeech.data.resample import output_length, resample
from kdspeech.errors import KdError

#: Context (seconds of input) resampled on each side of a requested span.
MARGIN_S = 0.05


class _FileSource:
    """Blocks of an audio file: ``read(start, stop) -> [C, n]`` float32."""

    def __init__(self, path, utt=None):
        self.path = str(path)
        if not os.path.isfile(self.path):
            raise KdError("audio file not found", path=self.path)
        try:
            self.file = sf.SoundFile(self.path)
            _check_not_truncated(self.file, self.path, utt)
        except (sf.SoundFileError, RuntimeError, ValueError, TypeError, EOFError) as err:
            reason = getattr(err, "error_string", None) or str(err)
            raise KdError(f"cannot decode audio file ({reason})", path=self.path) from None
        self.frames, self.rate, self.channels = self.file.frames, self.file.samplerate, self.file.channels

    def read(self, start, stop):
        try:
            self.file.seek(start)
            x = self.file.read(stop - start, dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError, ValueError) as err:
            reason = getattr(err, "error_string", None) or str(err)
            raise KdError(f"cannot decode audio file at sample {start} ({reason})", path=self.path) from None
        if len(x) < stop - start:
            raise KdError(f"audio file is truncated ({start + len(x)} of {self.frames} samples decoded)",
                          path=self.path)
        return x.T

    def close(self):
        self.file.close()


class _ArraySource:
    """An array ``[C, T]`` behind the same interface."""

    def __init__(self, x, rate):
        self.x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        self.channels, self.frames = self.x.shape
        self.rate = int(rate)

    def read(self, start, stop):
        return self.x[:, start:stop]

    def close(self):
        pass


class AudioReader:
    """Mono audio at rate ``sr`` from a file, a ``<command> |`` entry or ``array=(x, rate)``.

    ``length``: samples at ``sr``; ``native_rate`` / ``channels``: what the source holds;
    ``read(start, stop)``: samples ``start`` to ``stop`` at ``sr``, float32.  An empty recording is a
    KdError naming it.  Use as a context manager (or call ``close``)."""

    def __init__(self, entry=None, sr=None, array=None, utt=None):
        self.name = str(entry) if entry is not None else (utt or "<array>")
        if array is not None:
            self.source = _ArraySource(*array)
        elif is_command(entry):
            x, rate = load_audio(entry, mono=False, utt=utt)
            self.source = _ArraySource(x, rate)
        else:
            self.source = _FileSource(entry, utt)
        self.native_rate, self.channels = self.source.rate, self.source.channels
        if self.source.frames == 0:
            self.close()
            raise KdError("empty (0 samples)", path=None if array is not None else self.name)
        self.sr = int(sr or self.native_rate)
        self.length = output_length(self.source.frames, self.native_rate, self.sr)
        g = math.gcd(self.native_rate, self.sr)
        self._step_in, self._step_out = self.native_rate // g, self.sr // g
        steps = math.ceil(MARGIN_S * self.native_rate / self._step_in)
        self._margin = steps * self._step_in   # input samples, a whole number of steps

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        self.source.close()

    @property
    def converted(self):
        """Whether reading changes the audio (another rate, or channels to average)."""
        return self.native_rate != self.sr or self.channels != 1

    def _mono(self, start, stop):
        x = self.source.read(start, stop)
        return x[0] if x.shape[0] == 1 else x.mean(axis=0, dtype=np.float32)

    def read(self, start, stop):
        """Samples ``[start, stop)`` at ``sr`` (clamped to the recording), mono float32."""
        start, stop = max(0, int(start)), min(self.length, int(stop))
        if stop <= start:
            return np.zeros(0, np.float32)
        if self.native_rate == self.sr:
            return np.ascontiguousarray(self._mono(start, stop), dtype=np.float32)
        first, last = start // self._step_out, -(-stop // self._step_out)     # aligned blocks
        lo = max(0, first * self._step_in - self._margin)
        hi = min(self.source.frames, last * self._step_in + self._margin)
        y = resample(self._mono(lo, hi), self.native_rate, self.sr)
        offset = lo // self._step_in * self._step_out                           # output index of y[0]
        return np.ascontiguousarray(y[start - offset:stop - offset])


class AudioWriter:
    """Write float audio block by block to ``path`` at ``sr`` (see the module text); the file appears,
    complete, when the ``with`` block ends without an exception."""

    def __init__(self, path, sr):
        self.path, self.sr = str(path), int(sr)
        self._atomic = self._file = None

    def __enter__(self):
        fmt = "FLAC" if self.path.lower().endswith(".flac") else "WAV"
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        self._file = sf.SoundFile(str(tmp), "w", samplerate=self.sr, channels=1, subtype="PCM_16", format=fmt)
        return self

    def write(self, x):
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise KdError(f"audio blocks must be [T], got shape {x.shape}", path=self.path)
        if not np.all(np.isfinite(x)):
            raise KdError("audio holds NaN or infinite samples", path=self.path)
        self._file.write(np.clip(x, -1.0, 1.0))

    def __exit__(self, kind, value, tb):
        self._file.close()
        return self._atomic.__exit__(kind, value, tb)
