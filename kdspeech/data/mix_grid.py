"""A balanced noise x SNR grid of mixtures: a fair test set has every noise at every SNR equally often.

    grid_sources(clean_utts, noise_ids, snrs, per_cell=None, rng)   # every utterance in every cell
    grid_sources(clean_utts, noise_ids, snrs, per_cell=3, rng)      # 3 utterances per cell

A cell is one noise recording (an id of the noise dir) at one SNR.  ``per_cell=None`` puts every clean
utterance in every cell (``utts x noises x SNRs`` mixtures).  ``per_cell=N`` gives each cell N
distinct clean utterances, chosen so that over the whole grid every utterance is used equally often
(+-1): each cell takes the N least-used utterances so far, ties broken by a fresh random order from
``rng`` (so the grid is a function of the seed).  Cells are visited noise by noise, SNR by SNR, in
the order given.  Used by ``kdspeech.bin.mix_data_dir --grid``.
"""

import numpy as np

from kdspeech.errors import KdError


def grid_sources(clean_utts, noise_ids, snrs, per_cell, rng):
    """``[(clean utt, noise id, snr)]``, cell by cell (see the module text)."""
    clean_utts, noise_ids = list(clean_utts), list(noise_ids)
    if not clean_utts or not noise_ids or not snrs:
        raise KdError("a grid needs clean utterances, noises and SNRs")
    if per_cell in (None, "all"):
        return [(u, n, s) for n in noise_ids for s in snrs for u in clean_utts]
    if per_cell > len(clean_utts):
        raise KdError(f"{per_cell} utterances per cell asked for, but the clean dir has {len(clean_utts)} "
                      "(a cell holds distinct utterances)")
    uses = np.zeros(len(clean_utts), dtype=np.int64)
    out = []
    for n in noise_ids:
        for s in snrs:
            order = rng.permutation(len(clean_utts))
            chosen = order[np.argsort(uses[order], kind="stable")[:per_cell]]
            uses[chosen] += 1
            out += [(clean_utts[i], n, s) for i in sorted(chosen)]
    return out
