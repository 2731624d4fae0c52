"""Personalized DNSMOS (PDNSMOS): the DNS Challenge 5 variant of DNSMOS P.835 that also penalises
speech of other talkers left in the output, through the model ``speechmos`` ships in
``pdnsmos_models``.

SIG, BAK and OVRL come from one pass of the P.835 model over 9.01 s windows hopped by 1 s (a shorter
clip is repeated to 9.01 s), each window's raw scores mapped through the personalized calibration
polynomials of ``speechmos`` and averaged, as the challenge's script does; the P.808 model is not
run (it is not personalized).  The input check (16 kHz, [-1, 1], ``$KDSPEECH_DNSMOS_INPUT``) is
DNSMOS's (``kdspeech.metrics.dnsmos.check_input``).
"""

import os

import numpy as np

from kdspeech.metrics.dnsmos import SR, check_input, model_dir, ort_options

WINDOW_S = 9.01
COLUMNS = ("pdnsmos_sig", "pdnsmos_bak", "pdnsmos_ovrl")
_MODEL = {}


class PersonalizedModel:
    """The personalized P.835 ONNX model in a thread-limited session, called on a whole signal."""

    def __init__(self, path):
        import onnxruntime as ort
        from speechmos.dnsmos import DNSMOS

        self.session = ort.InferenceSession(path, ort_options(), providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.calibrate = DNSMOS.get_polyfit_val  # does not use self

    def __call__(self, x):
        """``(sig, bak, ovrl)`` of a 16 kHz float32 signal in [-1, 1]."""
        window = int(WINDOW_S * SR)
        while len(x) < window:
            x = np.concatenate([x, x])
        hops = int(np.floor(len(x) / SR) - WINDOW_S) + 1
        scores = []
        for index in range(hops):
            segment = x[index * SR: index * SR + window]
            if len(segment) < window:
                continue
            raw = self.session.run(None, {self.input_name: segment[None].astype(np.float32)})[0][0]
            scores.append(self.calibrate(None, raw[0], raw[1], raw[2], True))
        return tuple(float(v) for v in np.mean(np.asarray(scores, dtype=np.float64), axis=0))


def _model():
    if "model" not in _MODEL:
        _MODEL["model"] = PersonalizedModel(os.path.join(model_dir("pdnsmos_models"), "sig_bak_ovr.onnx"))
    return _MODEL["model"]


def pdnsmos(samples, sr):
    """``{"pdnsmos_sig", "pdnsmos_bak", "pdnsmos_ovrl"}`` of one signal."""
    x = check_input(samples, sr, "PDNSMOS")
    if x is None:
        return {name: float("nan") for name in COLUMNS}
    return dict(zip(COLUMNS, _model()(x)))


def score_family(names, utt):
    """Registry family: one model pass for the three PDNSMOS numbers."""
    values = pdnsmos(utt.est, utt.sr)
    return {name: values[name] for name in names}
