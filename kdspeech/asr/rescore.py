"""Decoding a hybrid CTC/attention recogniser: attention rescoring of the CTC prefix beam search's n-best.

Follows WeNet's "attention rescoring" (Yao et al. 2021, "WeNet: production oriented streaming and
non-streaming end-to-end speech recognition toolkit"; ``wenet/transformer/asr_model.py``): the CTC
prefix beam search (``kdspeech.asr.ctc_decode.nbest``) gives the ``beam`` best labellings with their
CTC log-probabilities, the attention decoder scores each complete hypothesis in one teacher-forced
pass (log P(tokens + <eos>), ``AttentionDecoder.score``), and the hypothesis with the best

    score = ctc_weight * log P_ctc + (1 - ctc_weight) * log P_att

is the output (a tie goes to the one the CTC search ranked higher).  Why this and not ESPnet's joint
CTC/attention beam search (the decoder extends prefixes token by token, with the CTC prefix score of
each extension): the rescoring decodes in one decoder pass per utterance instead of one per output
token and step of the beam, and keeps the CTC search as the source of hypotheses (so the same
search serves a model with and without a decoder); it is how WeNet decodes its non-streaming
models.  The weighting is ESPnet's interpolation (``ctc_weight`` 0.3 as in its
decoding and training configs) rather than WeNet's ``att + ctc_weight * ctc``; the two rank
alike for ``w' = w / (1 - w)``.

    ids = attention_rescoring(model.decoder, out["enc_out"][:1, :n], torch.tensor([n]), log_probs[:n],
                              beam=10, ctc_weight=0.3)

``decoding`` options (the ``trained:`` backend's and the asr task's ``data.valid_decoding``):
``method`` ``ctc`` (CTC alone: greedy for beam 1, the prefix beam search otherwise), ``rescore``
(attention rescoring; a model without a decoder is a KdError) or ``auto`` (rescore when the model has
a decoder); ``beam`` (default 1 for CTC, 10 for rescoring, WeNet's default); ``ctc_weight`` (0.3).
"""

import torch

from kdspeech.asr.ctc_decode import decode, nbest
from kdspeech.errors import KdError

METHODS = ("auto", "ctc", "rescore")
RESCORE_BEAM = 10


def choose(scores_ctc, scores_att, ctc_weight):
    """Index of the best hypothesis by ``ctc_weight * ctc + (1 - ctc_weight) * att`` (first on a tie)."""
    w = float(ctc_weight)
    total = [w * c + (1.0 - w) * a for c, a in zip(scores_ctc, scores_att)]
    return max(range(len(total)), key=lambda i: (total[i], -i))


def attention_rescoring(decoder, enc_out, enc_len, log_probs, beam=RESCORE_BEAM, ctc_weight=0.3):
    """Token ids of one utterance: the CTC n-best (``log_probs [T, vocab]``) rescored by ``decoder``
    over the encoder output ``enc_out [1, T, d]`` of ``enc_len [1]`` frames (see the module)."""
    hyps = nbest(log_probs, beam)
    if len(hyps) == 1:
        return list(hyps[0][0])
    with torch.no_grad():
        att = decoder.score(enc_out, enc_len, [h for h, _ in hyps]).tolist()
    return list(hyps[choose([c for _, c in hyps], att, ctc_weight)][0])


def decoding_options(method="auto", beam=None, ctc_weight=0.3, model=None, what="decoding"):
    """``(method, beam, ctc_weight)`` resolved for ``model``: ``ctc`` or ``rescore`` (see the module)."""
    if method not in METHODS:
        raise KdError(f"{what}: method must be one of {', '.join(METHODS)}, not {method!r}")
    has_decoder = getattr(model, "decoder", None) is not None
    if method == "rescore" and model is not None and not has_decoder:
        raise KdError(f"{what}: method rescore needs a model with an attention decoder "
                      f"({type(model).__name__} has none: conformer_ctc's decoder option)")
    if method == "auto":
        method = "rescore" if has_decoder else "ctc"
    if beam is None:
        beam = RESCORE_BEAM if method == "rescore" else 1
    if int(beam) < 1:
        raise KdError(f"{what}: beam must be >= 1, not {beam}")
    if not 0.0 <= float(ctc_weight) <= 1.0:
        raise KdError(f"{what}: ctc_weight must be in [0, 1], not {ctc_weight}")
    return method, int(beam), float(ctc_weight)


def decode_output(model, out, method="ctc", beam=1, ctc_weight=0.3, index=0):
    """Token ids of utterance ``index`` of a forward's outputs (``log_probs``, ``enc_len`` and, for
    rescoring, ``enc_out``) decoded by ``method`` (resolved by ``decoding_options``)."""
    n = int(out["enc_len"][index])
    log_probs = out["log_probs"][index, :n].detach().float().cpu().numpy()
    if method != "rescore":
        return decode(log_probs, beam)
    enc = out["enc_out"][index:index + 1, :n]
    return attention_rescoring(model.decoder, enc, torch.tensor([n], device=enc.device), log_probs, beam,
                               ctc_weight)
