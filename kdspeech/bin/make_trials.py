"""Make a speaker-verification trial list from a data dir's utt2spk.

    python -m kdspeech.bin.make_trials --data data/test --out data/test/trials \\
        --num_target 500 --num_nontarget 5000 --seed 1 [--train_data data/train data/valid]

Writes ``<enrol utt> <test utt> target|nontarget`` lines (Kaldi layout, read by
``kdspeech.metrics.trials.read_trial_list``): a target trial is two distinct utterances of one
speaker, a non-target trial two utterances of different speakers.  Each unordered pair appears at
most once, the utterance first in byte order enrolling; lines are sorted.  ``--num_target`` and
``--num_nontarget`` pairs are drawn uniformly without replacement from all such pairs with
``--seed`` (``all``: every pair, no draw), so the list is a function of the data dir and the seed.
Asking for more pairs than exist is an error saying how many there are.  ``--train_data``: data dirs
the models were trained (or selected) on; a speaker of ``--data`` that is also in one of them is an
error naming the speakers (verification trials must be of unseen speakers).  The counts of target and
non-target trials are logged.
"""

import argparse
import logging

import numpy as np

from kdspeech.atomic import atomic_write_text
from kdspeech.cli import count_or_all, run_main
from kdspeech.data.datadir import DataDir
from kdspeech.errors import KdError

log = logging.getLogger("kdspeech.make_trials")


def sample_pairs(low, high, count, rng, what):
    """Pairs ``(i, j)`` with ``low[i] <= j < high[i]``: all of them (``count == 'all'``), or ``count``
    drawn uniformly without replacement, in index order."""
    sizes = np.maximum(high - low, 0).astype(np.int64)
    ends = np.cumsum(sizes)
    total = int(ends[-1]) if len(ends) else 0
    if count == "all":
        index = np.arange(total, dtype=np.int64)
    elif count > total:
        raise KdError(f"{count} {what} trials asked for, but the data dir has only {total} {what} pairs")
    else:
        index = np.sort(rng.choice(total, size=count, replace=False))
    first = np.searchsorted(ends, index, side="right")
    second = low[first] + index - (ends[first] - sizes[first])
    return first, second


def make_trials(utt2spk, num_target, num_nontarget, seed):
    """``[(enrol, test, 'target'|'nontarget')]`` sorted, from ``{utt: speaker}`` (see the module notes)."""
    utts = sorted(utt2spk, key=lambda u: (utt2spk[u], u))          # grouped by speaker
    speakers = [utt2spk[u] for u in utts]
    n = len(utts)
    group_end = np.empty(n, dtype=np.int64)
    end = n
    for i in range(n - 1, -1, -1):
        if i < n - 1 and speakers[i] != speakers[i + 1]:
            end = i + 1
        group_end[i] = end
    position = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    trials = []
    # partners of utterance i after it in this order: the rest of its speaker's group (targets), or
    # every utterance of the later speakers (non-targets); each unordered pair once
    for label, low, high, count in (("target", position + 1, group_end, num_target),
                                    ("nontarget", group_end, np.full(n, n, dtype=np.int64), num_nontarget)):
        first, second = sample_pairs(low, high, count, rng, label.replace("nontarget", "non-target"))
        trials += [(*sorted((utts[a], utts[b])), label) for a, b in zip(first.tolist(), second.tolist())]
    if not any(label == "target" for _, _, label in trials):
        raise KdError("no target trials: no speaker has two utterances")
    if not any(label == "nontarget" for _, _, label in trials):
        raise KdError("no non-target trials: the data dir has one speaker")
    return sorted(trials)


def check_disjoint(speakers, data, train_dirs):
    """A speaker of ``data`` that is also in a ``train_dirs`` dir is an error naming them."""
    for train in train_dirs:
        source = DataDir(train)
        common = sorted(set(speakers) & set(source.read("utt2spk").values()))
        if common:
            shown = ", ".join(common[:5]) + (f" and {len(common) - 5} more" if len(common) > 5 else "")
            raise KdError(f"{len(common)} speaker(s) of {data} are also in the training data {train}: {shown} "
                          "(verification trials need unseen speakers)", path=source.file("utt2spk"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="data dir whose utt2spk gives the utterances and speakers")
    p.add_argument("--out", required=True, help="trial list to write, e.g. <data>/trials")
    p.add_argument("--num_target", type=count_or_all, required=True, help="target trials to draw, or 'all'")
    p.add_argument("--num_nontarget", type=count_or_all, required=True, help="non-target trials to draw, or 'all'")
    p.add_argument("--seed", type=int, default=1, help="seed of the draws (default: 1)")
    p.add_argument("--train_data", nargs="+", action="extend", default=[], metavar="DIR",
                   help="training data dirs whose speakers must not be in --data")
    args = p.parse_args(argv)
    data = DataDir(args.data)
    utt2spk = data.read("utt2spk")
    check_disjoint(set(utt2spk.values()), args.data, args.train_data)
    trials = make_trials(utt2spk, args.num_target, args.num_nontarget, args.seed)
    atomic_write_text(args.out, "".join(f"{e} {t} {label}\n" for e, t, label in trials))
    targets = sum(label == "target" for _, _, label in trials)
    log.info("%s: %d trials, %d target and %d non-target, over %d speakers and %d utterances of %s", args.out,
             len(trials), targets, len(trials) - targets, len(set(utt2spk.values())), len(utt2spk), args.data)
    return 0


if __name__ == "__main__":
    run_main(main)
