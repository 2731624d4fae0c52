"""Metrics (no file I/O: arrays and strings in, numbers out), one registry with kinds.

    from kdspeech.metrics import compute, check_names
    compute(["pesq_wb", "dnsmos_ovrl", "wer"], est, 16000, ref=clean, text="the cat sat")

``compute`` returns ``{name: value}`` for one utterance; each family of metrics runs once however
many of its members are asked for (one DNSMOS model run for its four numbers, one ASR decode for
WER and CER).  Trial metrics (EER, MinDCF) need a trial list: ``kdspeech.metrics.trials``.
The registry (names, kinds, labels) is ``kdspeech.metrics.registry``; importing this package loads
no metric library until a metric is computed.
"""

from kdspeech.errors import KdError
from kdspeech.metrics.registry import METRICS, Utterance, check_names, columns, families

__all__ = ["METRICS", "Utterance", "check_names", "columns", "compute", "score_utterance"]

_NEEDS = {"intrusive": ("ref", "a clean reference (ref=...)"),
          "transcript": ("text", "a reference transcript (text=...)")}


def score_utterance(names, utt):
    """Every score column of ``names`` (counts of ratio metrics included) for one ``Utterance``."""
    names = check_names(names)
    for name in names:
        kind = METRICS.get(name).kind
        if kind == "trials":
            raise KdError(f"metric {name} is computed from a trial list, not per utterance "
                          "(kdspeech.metrics.trials)")
        attribute, what = _NEEDS.get(kind, (None, None))
        if attribute and getattr(utt, attribute) is None:
            raise KdError(f"metric {name} ({kind}) needs {what}")
    values = {}
    for family, members in families(names):
        values.update(family(members, utt))
    return {column: float(values[column]) for column in columns(names)}


def compute(names, est, sr, ref=None, text=None, asr=None):
    """``{name: value}`` of each metric in ``names`` (in that order) on one utterance.

    ``est``: the signal scored (1-D); ``ref``: its clean reference (intrusive metrics);
    ``text``: its reference transcript (WER/CER); ``asr``: an ASR backend of ``kdspeech.asr``
    (default: pocketsphinx).  An undefined value is NaN (with a logged warning).
    """
    values = score_utterance(names, Utterance(est=est, sr=sr, ref=ref, text=text, asr=asr))
    return {name: values[name] for name in names}


def __getattr__(name):
    # the per-metric functions of the first version, loaded only when asked for
    if name in ("estoi", "pesq_nb", "pesq_wb", "si_sdr", "stoi", "sdr"):
        from kdspeech.metrics import enhancement

        return getattr(enhancement, name)
    raise AttributeError(f"module 'kdspeech.metrics' has no attribute {name!r}")
