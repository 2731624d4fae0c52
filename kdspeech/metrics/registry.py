"""The one registry of metrics: name -> kind, label, direction and the code that computes it.

Kinds (what a metric needs besides the estimate):

- ``intrusive``: the clean reference (PESQ, STOI, SI-SDR, SDR, segmental SNR, CSIG/CBAK/COVL);
- ``nonintrusive``: nothing else (DNSMOS, personalized DNSMOS);
- ``transcript``: the reference transcript, the estimate being decoded by an ASR backend (WER, CER);
- ``trials``: a trial list of scores and target/non-target labels, not one utterance (EER, MinDCF).

Metrics that come out of one computation form a *family* (``module:function``): DNSMOS's four
numbers come from one model run, CSIG/CBAK/COVL from one LLR/WSS/segSNR/PESQ pass, WER and CER from
one decode.  A family function takes ``(names, utterance)`` and returns ``{column: value}`` for the
requested names.  A ratio metric (WER, CER) also writes its per-utterance error and reference-length
counts (``counts``) so that a corpus figure is ``sum(errors) / sum(length)``, not a mean of ratios.

This module imports no metric library: the score verb's ``--merge`` and the summaries read it
without paying for PESQ, ONNX or an ASR decoder.
"""

import importlib
from dataclasses import dataclass

from kdspeech.errors import KdError
from kdspeech.registry import Registry

KINDS = ("intrusive", "nonintrusive", "transcript", "trials")


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    family: str  # "module:function" computing every metric of the family in one pass
    label: str  # column heading in RESULTS.md (WER, CER and EER are fractions, not %)
    higher_is_better: bool = True
    counts: tuple = ()  # (errors column, reference length column) of a ratio metric

    @property
    def columns(self):
        """The per-utterance score columns this metric writes (itself, then its counts)."""
        return (self.name, *self.counts)


@dataclass
class Utterance:
    """What a family may use for one utterance; ``asr`` and ``hyp`` are filled for transcripts."""
    est: object
    sr: int
    ref: object = None
    text: str = None
    asr: object = None
    hyp: str = None


METRICS = Registry("metric")


def _add(name, kind, family, label, higher_is_better=True, counts=()):
    if kind not in KINDS:
        raise ValueError(f"metric {name}: kind {kind!r} is not one of {KINDS}")
    METRICS.register(name)(Metric(name, kind, family, label, higher_is_better, tuple(counts)))


_ENH = "kdspeech.metrics.enhancement:score_family"
_COMPOSITE = "kdspeech.metrics.composite:score_family"
_DNSMOS = "kdspeech.metrics.dnsmos:score_family"
_PDNSMOS = "kdspeech.metrics.pdnsmos:score_family"
_TRANSCRIPT = "kdspeech.metrics.transcript:score_family"
_TRIALS = "kdspeech.metrics.trials:score_family"

_add("pesq_wb", "intrusive", _ENH, "PESQ-WB")
_add("pesq_nb", "intrusive", _ENH, "PESQ-NB")
_add("stoi", "intrusive", _ENH, "STOI")
_add("estoi", "intrusive", _ENH, "ESTOI")
_add("si_sdr", "intrusive", _ENH, "SI-SDR (dB)")
_add("sdr", "intrusive", _ENH, "SDR (dB)")
_add("seg_snr", "intrusive", _COMPOSITE, "segSNR (dB)")
_add("csig", "intrusive", _COMPOSITE, "CSIG")
_add("cbak", "intrusive", _COMPOSITE, "CBAK")
_add("covl", "intrusive", _COMPOSITE, "COVL")
_add("dnsmos_sig", "nonintrusive", _DNSMOS, "DNSMOS SIG")
_add("dnsmos_bak", "nonintrusive", _DNSMOS, "DNSMOS BAK")
_add("dnsmos_ovrl", "nonintrusive", _DNSMOS, "DNSMOS OVRL")
_add("dnsmos_p808", "nonintrusive", _DNSMOS, "DNSMOS P.808")
_add("pdnsmos_sig", "nonintrusive", _PDNSMOS, "PDNSMOS SIG")
_add("pdnsmos_bak", "nonintrusive", _PDNSMOS, "PDNSMOS BAK")
_add("pdnsmos_ovrl", "nonintrusive", _PDNSMOS, "PDNSMOS OVRL")
_add("wer", "transcript", _TRANSCRIPT, "WER", False, ("wer_errors", "wer_words"))
_add("cer", "transcript", _TRANSCRIPT, "CER", False, ("cer_errors", "cer_chars"))
_add("eer", "trials", _TRIALS, "EER", False)
_add("min_dcf", "trials", _TRIALS, "MinDCF (P_target 0.01)", False)


def get(name):
    return METRICS.get(name)


def names(kind=None):
    """Registered metric names (of one kind), sorted."""
    return [n for n in METRICS.names() if kind is None or METRICS.get(n).kind == kind]


def check_names(names_):
    """The metric names as a list; KdError naming every unknown one and the known ones."""
    names_ = [name for name in names_ if name]
    unknown = [name for name in names_ if name not in METRICS.names()]
    if unknown:
        raise KdError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS.names())}")
    if not names_:
        raise KdError(f"no metric given; known: {', '.join(METRICS.names())}")
    twice = sorted({name for name in names_ if names_.count(name) > 1})
    if twice:
        raise KdError(f"metric(s) {', '.join(twice)} asked for twice")
    return names_


def columns(names_):
    """Score-file columns of per-utterance metrics ``names_`` (ratio metrics bring their counts)."""
    return [column for name in names_ for column in METRICS.get(name).columns]


def ratio_columns(columns_):
    """``{metric: (errors column, length column)}`` for the ratio metrics among ``columns_``."""
    out = {}
    for column in columns_:
        if column in METRICS.names():
            counts = METRICS.get(column).counts
            if counts and all(c in columns_ for c in counts):
                out[column] = counts
    return out


def count_columns(columns_):
    """The count columns (summed, not averaged, in a summary) among ``columns_``."""
    return {c for pair in ratio_columns(columns_).values() for c in pair}


def label(column):
    """RESULTS.md heading of a metric (the column name itself for an unknown one)."""
    return METRICS.get(column).label if column in METRICS.names() else column


def families(names_):
    """``[(family function, [names])]`` in first-appearance order: one call per family."""
    groups = {}
    for name in names_:
        groups.setdefault(METRICS.get(name).family, []).append(name)
    return [(_load(family), members) for family, members in groups.items()]


def _load(family):
    module, _, function = family.partition(":")
    return getattr(importlib.import_module(module), function)
