"""DNSMOS: reference-free MOS estimates of Microsoft's DNS Challenge, through ``speechmos``.

``speechmos`` ships the ONNX models in its wheel (nothing is downloaded): the P.835 model gives
SIG (speech signal), BAK (background) and OVRL (overall) after its polynomial calibration, the
P.808 model one overall MOS, each averaged over 9.01 s windows hopped by 1 s (shorter clips repeated
to 9.01 s), as the challenge's own script does; SIG/BAK/OVRL cost one pass of the P.835 model, and the
P.808 model runs only when ``dnsmos_p808`` is asked for (it doubles the cost).  The personalized variant (``kdspeech.metrics.pdnsmos``) shares the input
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


WINDOW_S = 9.01


def windows(x):
    """The challenge's analysis windows of a 16 kHz signal: 9.01 s hopped by 1 s, the signal first
    repeated (doubled) until it is at least 9.01 s long."""
    size = int(WINDOW_S * SR)
    while len(x) < size:
        x = np.concatenate([x, x])
    hops = int(np.floor(len(x) / SR) - WINDOW_S) + 1
    return [x[i * SR: i * SR + size] for i in range(hops) if len(x[i * SR: i * SR + size]) == size]


class P835:
    """A P.835 ONNX model (``sig_bak_ovr.onnx`` of ``speechmos``: plain or personalized) in a
    thread-limited session: ``(sig, bak, ovrl)`` of a signal, the windows' calibrated scores averaged."""

    def __init__(self, path, personalized):
        import onnxruntime as ort
        from speechmos.dnsmos import DNSMOS

        self.session = ort.InferenceSession(path, ort_options(), providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.personalized = bool(personalized)
        self.calibrate = DNSMOS.get_polyfit_val  # a polynomial per score; does not use self

    def __call__(self, x):
        scores = []
        for segment in windows(x):
            raw = self.session.run(None, {self.input_name: segment[None].astype(np.float32)})[0][0]
            scores.append(self.calibrate(None, raw[0], raw[1], raw[2], self.personalized))
        return tuple(float(v) for v in np.mean(np.asarray(scores, dtype=np.float64), axis=0))


class P808:
    """The P.808 ONNX model (``model_v8.onnx``) on the log-mel spectrogram of each window, averaged."""

    def __init__(self, path):
        import onnxruntime as ort
        from speechmos.dnsmos import DNSMOS

        self.session = ort.InferenceSession(path, ort_options(), providers=["CPUExecutionProvider"])
        self.melspec = DNSMOS.audio_melspec  # librosa, 120 mels; does not use self

    def __call__(self, x):
        values = [self.session.run(None, {"input_1": np.asarray(self.melspec(None, audio=segment[:-160]),
                                                                 dtype=np.float32)[None]})[0][0][0]
                  for segment in windows(x)]
        return float(np.mean(values))


def _model(name):
    if name not in _MODEL:
        models = model_dir("dnsmos_models")
        _MODEL[name] = (P835(os.path.join(models, "sig_bak_ovr.onnx"), personalized=False) if name == "p835"
                        else P808(os.path.join(models, "model_v8.onnx")))
    return _MODEL[name]


def dnsmos(samples, sr, p808=True):
    """``{"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"}`` of one signal, and ``"dnsmos_p808"`` with ``p808``."""
    names = list(COLUMNS) if p808 else [n for n in COLUMNS if n != "dnsmos_p808"]
    x = check_input(samples, sr, "DNSMOS")
    if x is None:
        return {name: float("nan") for name in names}
    out = dict(zip(("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"), _model("p835")(x)))
    if p808:
        out["dnsmos_p808"] = _model("p808")(x)
    return out


def score_family(names, utt):
    """Registry family: one pass of each model the names need (P.808 only for ``dnsmos_p808``)."""
    values = dnsmos(utt.est, utt.sr, p808="dnsmos_p808" in names)
    return {name: values[name] for name in names}
