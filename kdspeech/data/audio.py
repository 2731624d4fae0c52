"""Audio I/O for wav.scp entries, through soundfile only.

An entry is a file path or a shell command ending in ``|`` whose stdout is an audio file (Kaldi's
extended filename).  Every failure (missing, truncated or undecodable file, failing command, wrong
sample rate, unexpected channels) is a ``KdError`` naming the utterance and the file, because a
silently short or resampled utterance corrupts training and scoring without any visible error.
"""

import io
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from kdspeech.atomic import atomic_path
from kdspeech.errors import KdError

_WAV_DATA_SIZE = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)
# Writers streaming to a pipe cannot go back to fill in the length: they leave a placeholder this big.
_STREAMED_LENGTH = 0x7FFF0000


def is_command(entry):
    """True for a Kaldi pipe entry (``<command> |``)."""
    return str(entry).rstrip().endswith("|")


def _who(utt):
    return f"utterance '{utt}': " if utt else ""


def run_command(entry, utt=None):
    """Run ``<command> |`` with bash (pipefail) and return its stdout bytes."""
    command = str(entry).rstrip()[:-1].strip()
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace").strip()[-2000:]
        raise KdError(f"{_who(utt)}command failed with exit status {proc.returncode}: "
                      f"{command}" + (f"\n  stderr: {stderr}" if stderr else ""))
    if not proc.stdout:
        raise KdError(f"{_who(utt)}command wrote no audio: {command}")
    return proc.stdout


def _check_not_truncated(f, entry, utt):
    """libsndfile reads a truncated WAV without error; its header log still shows the cut."""
    for declared, actual in _WAV_DATA_SIZE.findall(f.extra_info):
        if int(actual) < int(declared) < _STREAMED_LENGTH:
            raise KdError(f"{_who(utt)}audio file is truncated (data chunk has {actual} of "
                          f"{declared} bytes)", path=entry)


def load_audio(entry, sr=None, mono=True, utt=None):
    """Decode ``entry`` to float32: ``[T]`` when ``mono`` (more channels is an error), else ``[C, T]``.

    ``sr``: expected sample rate; a different one is an error (resample explicitly instead).
    Returns ``(samples, sample_rate)``.
    """
    piped = is_command(entry)
    where = None if piped else str(entry)
    if piped:
        source = io.BytesIO(run_command(entry, utt))
    else:
        if not os.path.isfile(entry):
            raise KdError(f"{_who(utt)}audio file not found", path=entry)
        source = str(entry)
    try:
        with sf.SoundFile(source) as f:
            if not piped:
                _check_not_truncated(f, entry, utt)
            expected = f.frames
            x = f.read(dtype="float32", always_2d=True)
            rate, channels = f.samplerate, f.channels
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError, EOFError) as err:
        what = "command output" if piped else "audio file"
        reason = getattr(err, "error_string", None) or str(err)
        raise KdError(f"{_who(utt)}cannot decode {what} ({reason})"
                      + (f": {entry}" if piped else ""), path=where) from None
    if not piped and len(x) < expected:
        raise KdError(f"{_who(utt)}audio file is truncated ({len(x)} of {expected} "
                      "samples decoded)", path=where)
    label = f"command output of '{entry}'" if piped else "audio"
    if sr is not None and rate != sr:
        raise KdError(f"{_who(utt)}{label} has sample rate {rate}, expected {sr}", path=where)
    if mono:
        if channels != 1:
            raise KdError(f"{_who(utt)}{label} has {channels} channels, expected mono",
                          path=where)
        return np.ascontiguousarray(x[:, 0]), rate
    return np.ascontiguousarray(x.T), rate


def audio_info(entry, utt=None):
    """``(num_samples, sample_rate, channels)`` from the header (a command is run and decoded)."""
    if is_command(entry):
        x, rate = load_audio(entry, mono=False, utt=utt)
        return x.shape[-1], rate, x.shape[0]
    if not os.path.isfile(entry):
        raise KdError(f"{_who(utt)}audio file not found", path=entry)
    try:
        info = sf.info(str(entry))
    except (sf.SoundFileError, RuntimeError) as err:
        reason = getattr(err, "error_string", None) or str(err)
        raise KdError(f"{_who(utt)}cannot decode audio file ({reason})", path=entry) from None
    return info.frames, info.samplerate, info.channels


def is_complete_wav(path, sr):
    """True when ``path`` decodes as audio at ``sr`` with samples: the resume test of the dump
    stages (their writes are atomic, so a file that exists was written completely)."""
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, OSError):
        return False
    return info.samplerate == sr and info.frames > 0


def audio_duration(entry, utt=None):
    """Duration in seconds (header only for files)."""
    frames, rate, _ = audio_info(entry, utt)
    return frames / rate


def save_audio(path, x, sr):
    """Write ``x`` ([T] or [C, T], float in [-1, 1]) as 16-bit PCM WAV, atomically.

    Samples outside [-1, 1] are clipped (call ``mix.avoid_clipping`` first to scale instead).
    Parent directories are created; a reader never sees a partly written file.
    """
    path = Path(path)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (1, 2):
        raise KdError(f"audio must be [T] or [C, T], got shape {x.shape}", path=path)
    if not np.all(np.isfinite(x)):
        raise KdError("audio holds NaN or infinite samples", path=path)
    data = np.clip(x if x.ndim == 1 else x.T, -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, int(sr), subtype="PCM_16", format="WAV")
