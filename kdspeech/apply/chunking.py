"""Long recordings in chunks: waveform models by overlap-add, clip models by averaging windows.

    overlap_add(reader.read, reader.length, enhance_fn, chunk=480000, overlap=16000, emit=writer.write)
    windows_mean(reader.read, reader.length, embed_fn, window=16000 * 30)

``overlap_add`` runs ``fn`` on windows of ``chunk`` samples that start every ``chunk - overlap``
samples (the last one ends at the recording's end and has between ``chunk / 2 + overlap`` and
``1.5 chunk`` samples, so no window is a sliver) and cross-fades consecutive outputs over their
``overlap`` samples with complementary linear ramps (they sum to one), emitting the result in order as
soon as it is final.  Memory is that of one chunk, whatever the recording's length.  A model whose
output at a sample depends only on input within R samples of it (a convolutional or causal network in
eval mode) gives exactly its whole-recording output at every sample more than R samples away from
the edges of the windows (``window_edges``), provided the window starts keep any stride of the model
in phase (a chunk hop that is a multiple of the model's total stride; whole seconds at 16 kHz suit
strides up to 128 and 10 ms STFT hops).  ``chunk=0`` or a recording no longer than ``1.5 chunk`` is
processed whole.

``windows_mean`` averages ``fn`` over non-overlapping windows of ``window`` samples (the last one
ending at the recording's end, so each covers real audio), for outputs that describe a whole clip
(class probabilities, a speaker embedding); a recording no longer than ``window`` is one window.
"""

import numpy as np

from kdspeech.errors import KdError


def chunk_windows(total, chunk, overlap):
    """``[(start, stop)]`` of the windows ``overlap_add`` processes for a recording of ``total``."""
    if chunk > 0 and (overlap < 0 or 2 * overlap > chunk):
        raise KdError(f"chunk overlap {overlap} must lie in [0, chunk / 2] (chunk {chunk} samples)")
    if chunk <= 0:
        return [(0, total)]
    hop, out, start = chunk - overlap, [], 0
    while total - start > chunk + chunk // 2:
        out.append((start, start + chunk))
        start += hop
    out.append((start, total))
    return out


def window_edges(total, chunk, overlap):
    """Sorted sample positions where a window of ``overlap_add`` starts or stops."""
    return sorted({e for w in chunk_windows(total, chunk, overlap) for e in w})


def _checked(fn, x, where):
    y = np.asarray(fn(x), dtype=np.float32)
    if y.shape != x.shape:
        raise KdError(f"the model returned {tuple(y.shape)} samples for an input of {tuple(x.shape)}: "
                      "overlap-add needs a waveform of the input's length", path=where)
    return y


def overlap_add(read, total, fn, chunk, overlap, emit, where=None):
    """Process ``read(start, stop)`` (``total`` samples) with ``fn`` chunk by chunk; ``emit`` receives
    consecutive output blocks that together have ``total`` samples.  Returns the number of chunks."""
    windows = chunk_windows(total, chunk, overlap)
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / max(overlap, 1)
    pending = None
    for start, stop in windows:
        y = _checked(fn, read(start, stop), where)
        if pending is not None and overlap:
            y[:overlap] = pending * (1.0 - ramp) + y[:overlap] * ramp
        if stop == total:
            emit(y)
        else:
            hop = chunk - overlap
            emit(y[:hop])
            pending = y[hop:].copy()
    return len(windows)


def windows_mean(read, total, fn, window):
    """Mean of ``fn(read(start, stop))`` over the windows of the recording (see the module text)."""
    if window <= 0 or total <= window:
        starts = [0]
        window = total
    else:
        starts = list(range(0, total - window, window)) + [total - window]
    acc = None
    for start in starts:
        y = np.asarray(fn(read(start, start + window)), dtype=np.float64)
        acc = y if acc is None else acc + y
    return (acc / len(starts)).astype(np.float32)
