"""Score class logits against a data dir's labels: per-utterance TSV and a summary.

    python -m kdspeech.bin.score_cls --logits exp/x/logits_test.npz --data data/fold1/test --out_dir exp/x/score_test

Writes ``scores.tsv`` (utt, reference, prediction, correct) and ``summary.json`` (macro-averaged class
accuracy, accuracy, macro F1, per-class accuracy by class name, number of utterances).  Every
utterance of the data dir must have logits, with as many columns as the class list has classes.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from kdspeech.cli import run_main
from kdspeech.data.datadir import DataDir
from kdspeech.errors import KdError
from kdspeech.metrics.classification import per_class_accuracy, summarize
from kdspeech.atomic import atomic_write_text
from kdspeech.tasks.classification import read_classes


def load_logits(path):
    try:
        z = np.load(path)
        return dict(zip([str(k) for k in z["keys"]], z["logits"]))
    except (OSError, KeyError, ValueError) as err:
        raise KdError(f"not a logits file ({err})", path=path) from None


def score(logits, data_dir, classes_file=None):
    data = DataDir(data_dir)
    classes = read_classes(classes_file or Path(data_dir) / "classes.txt")
    index = {c: i for i, c in enumerate(classes)}
    labels = data.read("utt2label")
    ref, hyp, rows = [], [], []
    for utt in data.utts:
        if utt not in logits:
            raise KdError(f"utterance {utt} has no logits", path=data_dir)
        if len(logits[utt]) != len(classes):
            raise KdError(f"utterance {utt}: {len(logits[utt])} logits for {len(classes)} classes", path=data_dir)
        r, h = index[labels[utt]], int(np.argmax(logits[utt]))
        ref.append(r)
        hyp.append(h)
        rows.append(f"{utt}\t{classes[r]}\t{classes[h]}\t{int(r == h)}\n")
    summary = summarize(ref, hyp, len(classes))
    pca = per_class_accuracy(ref, hyp, len(classes))
    summary["per_class_accuracy"] = {c: (None if np.isnan(a) else float(a)) for c, a in zip(classes, pca)}
    return summary, "utt\treference\tprediction\tcorrect\n" + "".join(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logits", required=True, help=".npz of kdspeech.bin.infer_cls")
    p.add_argument("--data", required=True, help="data dir with utt2label and classes.txt")
    p.add_argument("--out_dir", required=True)
    args = p.parse_args(argv)
    summary, tsv = score(load_logits(args.logits), args.data)
    out = Path(args.out_dir)
    atomic_write_text(out / "scores.tsv", tsv)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    print(f"macro accuracy {summary['macro_accuracy']:.4f}, accuracy {summary['accuracy']:.4f}, "
          f"macro F1 {summary['macro_f1']:.4f} ({summary['num_utts']} utterances)")
    return 0


if __name__ == "__main__":
    run_main(main)
