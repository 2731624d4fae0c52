"""Small classification fixtures: a feature dump and fold data dirs with no audio decoding needed."""

import numpy as np

from kdspeech.data.datadir import write_kv


def make_cls_setup(root, num_utts=8, classes=("dog", "rain"), frames=51, mels=64, rates=(16000, 1000), seed=0):
    """``root/data/{train,valid,test}`` (+ classes.txt) and ``root/dump/feats/<rate>`` for every rate.

    Features are class-dependent noise, so a model can learn them; wav.scp points at a dummy file."""
    rng = np.random.default_rng(seed)
    utts = [f"{classes[i % len(classes)]}-{i:03d}" for i in range(num_utts)]
    dummy = root / "dummy.wav"
    dummy.parent.mkdir(parents=True, exist_ok=True)
    dummy.write_bytes(b"")
    labels = {u: u.split("-")[0] for u in utts}
    for rate in rates:
        d = root / "dump" / "feats" / str(rate)
        d.mkdir(parents=True)
        feats = rng.standard_normal((num_utts, frames, mels)).astype(np.float32)
        for i, u in enumerate(utts):
            feats[i, :, : 8 + 8 * classes.index(labels[u])] += 2.0
        np.save(d / "feats.npy", feats)
        (d / "utts.txt").write_text("".join(u + "\n" for u in utts))
    parts = {"train": utts[: num_utts // 2], "valid": utts[num_utts // 2: 3 * num_utts // 4],
             "test": utts[3 * num_utts // 4:]}
    for part, members in parts.items():
        d = root / "data" / part
        write_kv(d / "wav.scp", {u: str(dummy) for u in members})
        write_kv(d / "utt2label", {u: labels[u] for u in members})
        (d / "classes.txt").write_text("".join(c + "\n" for c in sorted(classes)))
    return root
