"""Class logits of a trained classifier for every utterance of a data dir (scoring and teachers).

    python -m kdspeech.bin.infer_cls --model exp/fold1/ft_1000 --data data/fold1/test \\
        --feats dump/feats/1000 --out exp/fold1/ft_1000/logits_test_1000.npz [--batch_size 64] \\
        [--score_dir exp/fold1/ft_1000/score_1000]

The output ``.npz`` holds ``keys`` (utterance ids) and ``logits`` ``[N, classes]``: scored by
``kdspeech.bin.score_cls`` and read back as a precomputed teacher (teacher set ``precomputed:``),
since a frozen teacher on cached features always gives the same outputs.
"""

import argparse

import numpy as np
import torch

from kdspeech.atomic import atomic_path
from kdspeech.cli import run_main
from kdspeech.models.calling import call_model, primary
from kdspeech.tasks.classification import ClassificationDataset
from kdspeech.train.checkpoint import load_model
from kdspeech.train.distributed import pick_device


def infer(model, dataset, batch_size=64, device="cpu"):
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    keys, logits = [], []
    with torch.no_grad():
        for batch in loader:
            batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
            logits.append(primary(call_model(model, batch)).float().cpu().numpy())
            keys += list(batch["key"])
    return keys, np.concatenate(logits)


def save_logits(path, keys, logits):
    with atomic_path(path) as tmp:
        np.savez(tmp, keys=np.array(keys), logits=logits.astype(np.float32))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="exp dir (best.pth) or model file")
    p.add_argument("--data", required=True, help="data dir (wav.scp, utt2label, classes.txt)")
    p.add_argument("--feats", required=True, help="feature dump of the input view")
    p.add_argument("--out", required=True, help="output .npz")
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--num_threads", type=int, default=1)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where the model runs (auto: a GPU when one is visible)")
    p.add_argument("--score_dir", help="also score the logits here (kdspeech.bin.score_cls in the same process)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.num_threads)
    device = pick_device(args.device)
    model = load_model(args.model, device=device)
    dataset = ClassificationDataset(args.data, feats=args.feats, train=False)
    keys, logits = infer(model, dataset, args.batch_size, device)
    save_logits(args.out, keys, logits)
    print(f"{len(keys)} utterances -> {args.out}")
    if args.score_dir:
        from kdspeech.bin import score_cls
        score_cls.main(["--logits", args.out, "--data", args.data, "--out_dir", args.score_dir])
    return 0


if __name__ == "__main__":
    run_main(main)
