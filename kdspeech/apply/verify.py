"""``kdspeech verify``: speaker-verification scores of pairs of recordings with a speaker encoder.

    kdspeech verify --model spk.zip enroll.wav test.wav
    kdspeech verify --model spk.zip --trials pairs.txt [--out scores.txt]
    kdspeech verify --model spk.zip data/test [--out scores.txt]

A pair is two recordings: the two files given, each line ``<enroll> <test> [target|nontarget|1|0]``
of ``--trials`` (paths relative to the list's folder, no spaces in them), or the ``trials`` of a data
dir (utterance ids, ``kdspeech.metrics.trials.read_trial_list``).  Each recording is embedded once as
``kdspeech embed`` does; a pair's score is the cosine of its two embeddings (what the recipes'
``kdspeech.bin.score_trials`` computes).  Output: ``<enroll> <test> <score>`` lines on stdout or in
``--out`` (written atomically); when the pairs are labelled, the EER and MinDCF (P_target 0.01) of
``kdspeech.metrics.trials`` follow.  A recording that cannot be read is named in one error line, its
pairs are left out and counted, and the command exits with status 1.
"""

from pathlib import Path

import numpy as np

from kdspeech.errors import KdError

LABELS = {"target": 1, "1": 1, "nontarget": 0, "0": 0}


def add_arguments(p):
    from kdspeech.apply.embed import add_chunk_argument

    p.add_argument("--model", required=True,
                   help="packed model (.zip) or exp dir of a speaker encoder, or pretrained:resemblyzer, "
                   "pretrained:ecapa:<checkpoint>")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="two audio files (enrolment, test), or a data dir with trials")
    p.add_argument("--trials", help="file of '<enroll path> <test path> [label]' lines")
    p.add_argument("--out", "-o", help="scores file to write (default: print)")
    add_chunk_argument(p)


def read_path_pairs(path):
    """``[(enroll, test, label or None)]`` and the items of the files they name."""
    from kdspeech.apply.inputs import Item
    from kdspeech.data.stream_audio import AudioReader

    base = Path(path).resolve().parent
    pairs, items = [], {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise KdError(f"cannot read the trial list ({err})", path=path) from None
    for number, line in enumerate(lines, start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) not in (2, 3) or (len(fields) == 3 and fields[2] not in LABELS):
            raise KdError("expected '<enroll path> <test path> [target|nontarget]'", path=path, line=number)
        for name in fields[:2]:
            audio = str((base / name).resolve())
            items.setdefault(name, Item(name, f"{audio} ({path}:{number})",
                                        lambda sr, a=audio: AudioReader(a, sr)))
        pairs.append((fields[0], fields[1], LABELS[fields[2]] if len(fields) == 3 else None))
    if not pairs:
        raise KdError("no trials", path=path)
    return pairs, list(items.values())


def trials_and_items(args):
    from kdspeech.apply.inputs import collect

    if args.trials:
        if args.inputs:
            raise KdError("give --trials or inputs, not both")
        return read_path_pairs(args.trials)
    if len(args.inputs) == 1 and (Path(args.inputs[0]) / "trials").is_file():
        from kdspeech.metrics.trials import read_trial_list

        trials = read_trial_list(Path(args.inputs[0]) / "trials")
        return [(t.enroll, t.test, t.label) for t in trials], collect(args.inputs)
    if len(args.inputs) != 2:
        raise KdError("give two recordings (enrolment, test), a data dir with trials, or --trials FILE")
    items = collect(args.inputs)
    if len(items) != 2:
        raise KdError(f"two recordings expected, the inputs hold {len(items)}")
    return [(items[0].name, items[1].name, None)], items


def cosine(a, b):
    a = a / max(float(np.linalg.norm(a)), 1e-12)
    b = b / max(float(np.linalg.norm(b)), 1e-12)
    return float(a @ b)


def run(args, device):
    from kdspeech.apply.embed import embed_items
    from kdspeech.apply.model import open_model
    from kdspeech.apply.runner import say
    from kdspeech.atomic import atomic_write_text

    pairs, items = trials_and_items(args)
    model = open_model(args.model, "embed", device)
    embs, failures = embed_items(items, model, device, args.chunk, "embed")
    scored = [(e, t, lab, cosine(embs[e], embs[t])) for e, t, lab in pairs if e in embs and t in embs]
    text = "".join(f"{e} {t} {s:.6f}\n" for e, t, _, s in scored)
    if args.out:
        atomic_write_text(args.out, text)
        say(f"{len(scored)} of {len(pairs)} pairs scored -> {args.out}")
    else:
        print(text, end="", flush=True)
    if len(scored) < len(pairs):
        say(f"{len(pairs) - len(scored)} pairs left out: a recording of theirs failed (named above)")
    labels = [lab for _, _, lab, _ in scored]
    if scored and None not in labels and 0 < sum(labels) < len(labels):
        from kdspeech.metrics.trials import eer, min_dcf

        scores = np.array([s for *_, s in scored])
        say(f"EER {100 * eer(scores, np.array(labels)):.2f} %, MinDCF {min_dcf(scores, np.array(labels)):.4f} "
            f"({sum(labels)} target, {len(labels) - sum(labels)} non-target pairs)")
    return 1 if failures else 0
