"""Transcript metrics: word and character error rates of a decoded estimate (jiwer alignments).

Both texts are normalised the same way before alignment (``kdspeech.asr.text_norm``: lower case,
punctuation to spaces, numbers and spelled letters written out as words).  CER aligns the characters
of the normalised strings, single spaces between words included.

Per utterance the family reports the error count (substitutions + deletions + insertions) and the
reference length in words / characters next to the ratio, so that a corpus figure is
``sum(errors) / sum(reference length)`` (``corpus_rate``) as in Kaldi's and ESPnet's scoring, not
the mean of per-utterance ratios.  An utterance with an empty reference has an undefined (NaN)
ratio; its insertions still count in the corpus figure.
"""

import logging

log = logging.getLogger(__name__)

_DEFAULT_ASR = {}


def normalize(text):
    """The one text normaliser of WER/CER (``kdspeech.asr.text_norm``: case, punctuation, numbers,
    spelled letters), applied to references and hypotheses alike."""
    from kdspeech.asr.text_norm import normalize as normalize_text
    return normalize_text(text)


def word_errors(reference, hypothesis):
    """``(errors, reference words)`` after normalisation."""
    import jiwer

    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return len(hyp.split()), 0
    if not hyp:
        return len(ref.split()), len(ref.split())
    out = jiwer.process_words(ref, hyp)
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


def char_errors(reference, hypothesis):
    """``(errors, reference characters)`` after normalisation (spaces between words count)."""
    import jiwer

    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return len(hyp), 0
    if not hyp:
        return len(ref), len(ref)
    out = jiwer.process_characters(ref, hyp)
    return out.substitutions + out.deletions + out.insertions, len(ref)


def ratio(errors, length):
    return errors / length if length else float("nan")


def corpus_rate(errors, lengths):
    """``sum(errors) / sum(lengths)`` (NaN for an empty reference set)."""
    total = float(sum(lengths))
    return float(sum(errors)) / total if total else float("nan")


def default_asr():
    """The default backend, built once per process."""
    if "asr" not in _DEFAULT_ASR:
        from kdspeech.asr import build_backend

        _DEFAULT_ASR["asr"] = build_backend()
    return _DEFAULT_ASR["asr"]


def score_family(names, utt):
    """Registry family: one decode of ``utt.est`` (kept in ``utt.hyp``) for both WER and CER."""
    if utt.hyp is None:
        asr = utt.asr if utt.asr is not None else default_asr()
        utt.hyp = asr.transcribe(utt.est, utt.sr)
    values = {}
    if "wer" in names:
        errors, words = word_errors(utt.text, utt.hyp)
        values.update(wer=ratio(errors, words), wer_errors=errors, wer_words=words)
    if "cer" in names:
        errors, chars = char_errors(utt.text, utt.hyp)
        values.update(cer=ratio(errors, chars), cer_errors=errors, cer_chars=chars)
    return values
