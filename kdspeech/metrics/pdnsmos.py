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

from kdspeech.metrics.dnsmos import P835, check_input, model_dir

COLUMNS = ("pdnsmos_sig", "pdnsmos_bak", "pdnsmos_ovrl")
_MODEL = {}


def _model():
    if "model" not in _MODEL:
        _MODEL["model"] = P835(os.path.join(model_dir("pdnsmos_models"), "sig_bak_ovr.onnx"), personalized=True)
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
