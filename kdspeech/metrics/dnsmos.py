"""DNSMOS: reference-free MOS estimates of Microsoft's DNS Challenge, through ``speechmos``.

``speechmos`` ships the ONNX models in its wheel (nothing is downloaded): the P.835 model gives
SIG (speech signal), BAK (background) and OVRL (overall) after its polynomial calibration, the
P.808 model one overall MOS.  All four come from one pass over the utterance (9.01 s windows hopped
by 1 s, shorter clips repeated to 9.01 s, as the challenge's own script does), so asking for one or
all four costs the same.  The personalized variant (``kdspeech.metrics.pdnsmos``) shares the input
check below.  The ONNX sessions use ``$OMP_NUM_THREADS`` threads (all cores when unset), so parallel
scoring jobs do not oversubscribe the CPU.

Input check (both families, ``check_input``), set by ``$KDSPEECH_DNSMOS_INPUT``:

- ``resample`` (default): a signal at another rate than 16 kHz is resampled to 16 kHz and a signal
  peaking above 1 is clipped to [-1, 1], each with a logged warning (never silently);
- ``strict``: either is a KdError (the score verb prefixes the utterance and its file).
"""

import logging
import os

import numpy as np

from kdspeech.errors import KdError

log = logging.getLogger(__name__)

SR = 16000
INPUT_ENV = "KDSPEECH_DNSMOS_INPUT"
INPUT_MODES = ("resample", "strict")
COLUMNS = {"dnsmos_sig": "sig_mos", "dnsmos_bak": "bak_mos", "dnsmos_ovrl": "ovrl_mos",
           "dnsmos_p808": "p808_mos"}
_MODEL = {}


def input_mode():
    """``resample`` or ``strict`` from ``$KDSPEECH_DNSMOS_INPUT`` (KdError for anything else)."""
    mode = os.environ.get(INPUT_ENV) or "resample"
    if mode not in INPUT_MODES:
        raise KdError(f"${INPUT_ENV}={mode!r}: expected one of {', '.join(INPUT_MODES)}")
    return mode


def check_input(samples, sr, family="DNSMOS", mode=None):
    """``samples`` as a float32 16 kHz signal in [-1, 1], or None when it is all zeros (score NaN).

    A rate other than 16 kHz or a peak above 1: fixed with a warning (``resample``) or a KdError
    (``strict``); a signal that is not 1-D is always a KdError.
    """
    mode = mode or input_mode()
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise KdError(f"{family} needs a 1-D (mono) signal, got shape {x.shape}")
    if sr != SR:
        if mode == "strict":
            raise KdError(f"{family} needs {SR} Hz audio, got {sr} Hz (${INPUT_ENV}=strict; "
                          f"'resample' converts it)")
        from kdspeech.data.resample import resample

        log.warning("%s: signal at %d Hz resampled to %d Hz", family, sr, SR)
        x = resample(x, sr, SR)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 1.0:
        if mode == "strict":
            raise KdError(f"{family} needs samples in [-1, 1], the signal peaks at {peak:.3f} "
                          f"(${INPUT_ENV}=strict; 'resample' clips it with a warning)")
        log.warning("%s: signal peaks at %.3f, clipped to [-1, 1]", family, peak)
        x = np.clip(x, -1.0, 1.0)
    if peak == 0.0:
        log.warning("%s undefined: the signal is all zeros; scoring NaN", family)
        return None
    return x


def ort_options():
    """onnxruntime session options using ``$OMP_NUM_THREADS`` intra-op threads, one inter-op."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
    options.inter_op_num_threads = 1
    return options


def model_dir(name):
    """A model folder of the installed ``speechmos`` (``dnsmos_models``, ``pdnsmos_models``)."""
    from speechmos import dnsmos as speechmos_dnsmos

    return os.path.join(os.path.dirname(speechmos_dnsmos.__file__), name)


def _model():
    if "model" not in _MODEL:
        import onnxruntime as ort
        from speechmos import dnsmos as speechmos_dnsmos

        class Sessions(speechmos_dnsmos.DNSMOS):
            """speechmos's DNSMOS with thread-limited ONNX sessions."""

            def __init__(self, primary_model_path, p808_model_path):  # not super(): default sessions
                options = ort_options()
                self.primary_model_path = primary_model_path
                self.onnx_sess = ort.InferenceSession(primary_model_path, options,
                                                      providers=["CPUExecutionProvider"])
                self.p808_onnx_sess = ort.InferenceSession(p808_model_path, options,
                                                           providers=["CPUExecutionProvider"])

        models = model_dir("dnsmos_models")
        _MODEL["model"] = Sessions(os.path.join(models, "sig_bak_ovr.onnx"),
                                   os.path.join(models, "model_v8.onnx"))
    return _MODEL["model"]


def dnsmos(samples, sr):
    """``{"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"}`` of one signal."""
    x = check_input(samples, sr, "DNSMOS")
    if x is None:
        return {name: float("nan") for name in COLUMNS}
    out = _model()(x, SR, False)
    return {name: float(out[key]) for name, key in COLUMNS.items()}


def score_family(names, utt):
    """Registry family: one model pass for every DNSMOS number asked for."""
    values = dnsmos(utt.est, utt.sr)
    return {name: values[name] for name in names}
