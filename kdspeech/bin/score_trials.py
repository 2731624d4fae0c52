"""Cosine scores of a trial list from two embedding tables (enrolment side and test side).

    python -m kdspeech.bin.score_trials --trials dump/raw/test/trials \\
        --enroll exp/teacher/emb_test/emb.npz --test exp/student/emb_test/emb.npz --out exp/x/scores

``--enroll`` embeds the first utterance of each trial, ``--test`` the second (the same file for a
symmetric protocol; the teacher's for enrolment and the student's for verification in the
asymmetric one, which needs equal dimensions).  Writes ``<enroll> <test> <score>`` lines in trial
order, the input of ``python -m kdspeech.bin.score --trials ... --trial_scores ...`` (EER, MinDCF).
A trial naming an utterance that has no embedding is an error naming the trial file and line.
"""

import argparse
import logging

import numpy as np

from kdspeech.atomic import atomic_path
from kdspeech.cli import run_main
from kdspeech.errors import KdError
from kdspeech.metrics.trials import read_trial_list

log = logging.getLogger("kdspeech.score_trials")


def read_embeddings(path):
    try:
        z = np.load(path)
        keys, emb = [str(k) for k in z["keys"]], np.asarray(z["emb"], np.float64)
    except (OSError, KeyError, ValueError) as err:
        raise KdError(f"not an embedding table with keys and emb ({err})", path=path) from None
    if emb.ndim != 2 or len(keys) != len(emb):
        raise KdError(f"expected {len(keys)} embeddings [N, d], got {emb.shape}", path=path)
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return dict(zip(keys, emb))


def trial_scores(trials_path, enroll, test, enroll_path="enroll", test_path="test"):
    """``[(enroll utt, test utt, cosine)]`` of every trial of ``trials_path``."""
    trials = read_trial_list(trials_path)
    a, b = next(iter(enroll.values())), next(iter(test.values()))
    if a.shape != b.shape:
        raise KdError(f"enrolment embeddings are {a.shape[0]}-d ({enroll_path}) and test embeddings "
                      f"{b.shape[0]}-d ({test_path}): cross-model trials need one embedding space")
    out = []
    for e, t, _, number in trials:
        for utt, table, path in ((e, enroll, enroll_path), (t, test, test_path)):
            if utt not in table:
                raise KdError(f"trial '{e} {t}' names utterance '{utt}', which has no embedding in "
                              f"{path} (no audio for it in the data dir?)", path=trials_path, line=number)
        out.append((e, t, float(enroll[e] @ test[t])))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", required=True)
    p.add_argument("--enroll", required=True, help=".npz embeddings of the enrolment side")
    p.add_argument("--test", required=True, help=".npz embeddings of the test side")
    p.add_argument("--out", required=True, help="output scores file")
    args = p.parse_args(argv)
    scores = trial_scores(args.trials, read_embeddings(args.enroll), read_embeddings(args.test),
                          args.enroll, args.test)
    with atomic_path(args.out) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.writelines(f"{e} {t} {s:.6f}\n" for e, t, s in scores)
    log.info("%d trials scored -> %s", len(scores), args.out)
    return 0


if __name__ == "__main__":
    run_main(main)
