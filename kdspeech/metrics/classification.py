"""Classification scores from reference and predicted class indices.

Macro-averaged class accuracy (the mean of per-class recalls, the ESC-50 / TAU figure), plain
accuracy, macro F1 (mean over classes of 2PR/(P+R), a class never predicted nor present excluded) and
per-class accuracy.  Classes absent from the references are left out of the macro averages.
"""

import numpy as np


def confusion(ref, hyp, num_classes):
    """``[num_classes, num_classes]`` counts, rows = reference, columns = prediction."""
    ref, hyp = np.asarray(ref, int), np.asarray(hyp, int)
    m = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(m, (ref, hyp), 1)
    return m


def per_class_accuracy(ref, hyp, num_classes):
    """Recall of each class (NaN for a class with no reference example)."""
    m = confusion(ref, hyp, num_classes)
    support = m.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(m) / np.maximum(support, 1), np.nan)


def macro_accuracy(ref, hyp, num_classes):
    return float(np.nanmean(per_class_accuracy(ref, hyp, num_classes)))


def accuracy(ref, hyp):
    ref, hyp = np.asarray(ref), np.asarray(hyp)
    return float((ref == hyp).mean()) if len(ref) else float("nan")


def macro_f1(ref, hyp, num_classes):
    """Mean F1 over the classes present in the references (sklearn's ``average='macro'`` over them)."""
    m = confusion(ref, hyp, num_classes)
    tp = np.diag(m).astype(float)
    pred, support = m.sum(0), m.sum(1)
    present = support > 0
    denom = pred + support
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return float(f1[present].mean()) if present.any() else float("nan")


def summarize(ref, hyp, num_classes):
    return {"macro_accuracy": macro_accuracy(ref, hyp, num_classes), "accuracy": accuracy(ref, hyp),
            "macro_f1": macro_f1(ref, hyp, num_classes), "num_utts": int(len(ref))}
