"""CTC decoding of one utterance's log-probabilities ``[T, vocab]`` (blank = id 0): greedy and prefix
beam search.

``greedy``: the most probable token of every frame, repeats merged, blanks dropped.  ``beam_search``:
the CTC prefix beam search (Hannun et al. 2014, without a language model): every prefix keeps the
probability of its alignments ending in a blank and in its last token, so the paths that collapse to one
labelling are summed instead of competing; ``beam`` prefixes survive each frame, and only the
``beam`` most probable tokens of a frame (plus the blank) extend them.  It finds the labelling whose
summed probability is highest where greedy decoding keeps only the best single path (two frames of
P(blank) 0.6, P(a) 0.4: greedy says nothing, probability 0.36; "a" has 0.64).  ``nbest``: the
prefixes that survive the last frame with their probabilities, the n-best list that attention
rescoring reorders (``kdspeech.asr.rescore``).

Why not torchaudio's ``ctc_decoder`` or pyctcdecode with KenLM: torchaudio's needs the
``flashlight-text`` package (not installed here, and torchaudio 2.9+ deprecates its decoders), and an
n-gram LM over characters gains little; this search has no dependency, no state outside the call, and
decodes each utterance alone, so a hypothesis never depends on what was decoded before it.
"""

import math

import numpy as np

NEG_INF = -math.inf


def greedy(log_probs):
    """Token ids of the best path: argmax per frame, repeats merged, blanks (0) dropped."""
    best = np.asarray(log_probs).argmax(-1)
    out, prev = [], None
    for token in best.tolist():
        if token != prev and token != 0:
            out.append(token)
        prev = token
    return out


def _add(a, b):
    """log(exp(a) + exp(b))."""
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + math.log1p(math.exp(low - high))


def beam_search(log_probs, beam=10):
    """Token ids of the most probable labelling found by the CTC prefix beam search (see the module)."""
    lp = np.asarray(log_probs, dtype=np.float64)
    if beam <= 1:
        return greedy(lp)
    return list(nbest(lp, beam)[0][0])


def nbest(log_probs, beam=10):
    """The ``beam`` prefixes the CTC prefix beam search keeps after the last frame, best first, as
    ``[(token ids tuple, log P(labelling))]`` (the n-best list of attention rescoring,
    ``kdspeech.asr.rescore``); ties in probability: the lexicographically smaller ids first."""
    lp = np.asarray(log_probs, dtype=np.float64)
    beam = max(1, int(beam))
    beams = {(): (0.0, NEG_INF)}   # prefix -> (log P ending in blank, log P ending in its last token)
    for frame in lp:
        candidates = np.argsort(-frame, kind="stable")[:beam].tolist()
        if 0 not in candidates:
            candidates.append(0)
        nxt = {}
        for prefix, (p_b, p_nb) in beams.items():
            total = _add(p_b, p_nb)
            for token in candidates:
                p = float(frame[token])
                if token == 0:
                    b, nb = nxt.get(prefix, (NEG_INF, NEG_INF))
                    nxt[prefix] = (_add(b, total + p), nb)
                    continue
                longer = prefix + (token,)
                b, nb = nxt.get(longer, (NEG_INF, NEG_INF))
                if prefix and prefix[-1] == token:
                    # a repeat extends the prefix only across a blank; without one it stays the prefix
                    nxt[longer] = (b, _add(nb, p_b + p))
                    sb, snb = nxt.get(prefix, (NEG_INF, NEG_INF))
                    nxt[prefix] = (sb, _add(snb, p_nb + p))
                else:
                    nxt[longer] = (b, _add(nb, total + p))
        ranked = sorted(nxt.items(), key=lambda kv: (-_add(*kv[1]), kv[0]))
        beams = dict(ranked[:beam])
    ranked = sorted(beams.items(), key=lambda kv: (_add(*kv[1]), tuple(-t for t in kv[0])), reverse=True)
    return [(prefix, _add(*p)) for prefix, p in ranked]


def decode(log_probs, beam=1):
    """Greedy for ``beam`` 1, the prefix beam search otherwise."""
    return greedy(log_probs) if beam <= 1 else beam_search(log_probs, beam)
