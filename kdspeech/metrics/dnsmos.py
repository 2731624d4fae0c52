"""DNSMOS: reference-free MOS estimates of Microsoft's DNS Challenge, through ``speechmos``.

``speechmos`` ships the ONNX models in its wheel (nothing is downloaded): the P.835 model gives
SIG (speech signal), BAK (background) and OVRL (overall) after its polynomial calibration, the
P.808 model one overall MOS.  All four come from one pass over the utterance (9.01 s windows hopped
by 1 s, shorter clips repeated to 9.01 s, as the challenge's own script does), so asking for one or
all four costs the same.  Input is 16 kHz (other rates are resampled) and clipped to [-1, 1].  The
ONNX sessions use ``$OMP_NUM_THREADS`` threads (all cores when unset), so parallel scoring jobs do
not oversubscribe the CPU.
"""

import logging
import os

import numpy as np

log = logging.getLogger(__name__)

SR = 16000
COLUMNS = {"dnsmos_sig": "sig_mos", "dnsmos_bak": "bak_mos", "dnsmos_ovrl": "ovrl_mos",
           "dnsmos_p808": "p808_mos"}
_MODEL = {}


def _model():
    if "model" not in _MODEL:
        import onnxruntime as ort
        from speechmos import dnsmos as speechmos_dnsmos

        class Sessions(speechmos_dnsmos.DNSMOS):
            """speechmos's DNSMOS with thread-limited ONNX sessions."""

            def __init__(self, primary_model_path, p808_model_path):  # not super(): default sessions
                options = ort.SessionOptions()
                threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                self.primary_model_path = primary_model_path
                self.onnx_sess = ort.InferenceSession(primary_model_path, options,
                                                      providers=["CPUExecutionProvider"])
                self.p808_onnx_sess = ort.InferenceSession(p808_model_path, options,
                                                           providers=["CPUExecutionProvider"])

        models = os.path.join(os.path.dirname(speechmos_dnsmos.__file__), "dnsmos_models")
        _MODEL["model"] = Sessions(os.path.join(models, "sig_bak_ovr.onnx"),
                                   os.path.join(models, "model_v8.onnx"))
    return _MODEL["model"]


def dnsmos(samples, sr):
    """``{"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"}`` of one signal."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        from kdspeech.errors import KdError

        raise KdError(f"DNSMOS needs a 1-D (mono) signal, got shape {x.shape}")
    if sr != SR:
        from kdspeech.data.resample import resample

        x = resample(x, sr, SR)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 1.0:
        log.warning("DNSMOS: signal peaks at %.3f, clipped to [-1, 1]", peak)
        x = np.clip(x, -1.0, 1.0)
    if peak == 0.0:
        log.warning("DNSMOS undefined: the signal is all zeros; scoring NaN")
        return {name: float("nan") for name in COLUMNS}
    out = _model()(x, SR, False)
    return {name: float(out[key]) for name, key in COLUMNS.items()}


def score_family(names, utt):
    """Registry family: one model pass for every DNSMOS number asked for."""
    values = dnsmos(utt.est, utt.sr)
    return {name: values[name] for name in names}
