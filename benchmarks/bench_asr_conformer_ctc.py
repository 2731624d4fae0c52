"""Conformer-CTC speed: training step (s/step) and decoding real-time factor, at a config's size.

One training step is forward + CTC loss + backward + Adam on a batch of real AN4 utterances of the
shared corpora (``--batch`` of them, 1-6 s each, padded; SpecAugment and dropout on); decoding is
``kdspeech.asr.trained``'s path (one utterance at a time, eval mode) with greedy and prefix beam search,
RTF = decoding seconds / audio seconds.  The model is untrained (speed does not depend on the weights;
the beam search's does a little: an untrained model's flat distribution is its slowest case).  Prints
figures, asserts nothing.

    tools/venv/bin/python benchmarks/bench_asr_conformer_ctc.py [--batch 8] [--steps 5] [--num_utts 10]
        [--beam 10] [--device cpu] [--config egs/TEMPLATE/asr/conf/train_asr_conformer_ctc.yaml]

``--config`` defaults to the CPU config (egs/TEMPLATE/asr/conf/cpu/).

Figures (2-core CPU shared with a recipe run and test runs, load average 3.7-7, so +-50 %; torch 2.11,
2 threads; 8 AN4 utterances, 19.9 s of audio, per step; 10 utterances, 21.9 s, decoded):

    config                   parameters  s/step (batch 8)  RTF greedy, new lengths / seen  RTF beam 10  search alone
    d 144, 6 blocks (*)      3.61 M      1.4 - 2.8         0.21 / 0.15                     0.04 - 0.11  0.003 - 0.007
    paper (d 256, 12 blocks) 20.91 M     26.3              0.17 / 0.09                     0.09         0.004

(*) cpu/ before 2026-12-08; cpu/ is now d 96, 3 blocks (0.94 M), not yet timed here.

The prefix beam search costs < 0.01 x real time; the encoder's forward pass is the decoding time.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def an4_batch(batch):
    """``(src, wavs, utts, tokens, padded batch)``: the shared corpora's AN4 utterances (sorted ids), their
    character token list, and the first ``batch`` of them as a training batch of ``kdspeech.tasks.asr``."""
    from kdspeech.asr.tokens import encode, token_list_from_texts
    from kdspeech.tasks.asr import pad_batch

    corpora = Path(os.environ.get("KDSPEECH_CORPORA") or REPO.parent / "shared" / "corpora")
    src = corpora / "asr" / "an4"
    texts = dict(line.split(maxsplit=1) for line in (src / "text").read_text().splitlines())
    wavs = dict(line.split() for line in (src / "wav.list").read_text().splitlines())
    utts = sorted(u for u in texts if u in wavs)
    tokens = token_list_from_texts(texts.values())
    items = []
    for u in utts[:batch]:
        x, _ = sf.read(src / wavs[u], dtype="float32")
        ids = encode(texts[u], tokens)
        items.append({"input": torch.from_numpy(x), "input_len": torch.tensor(len(x)), "key": u,
                      "target": torch.tensor(ids), "target_len": torch.tensor(len(ids))})
    return src, wavs, utts, tokens, pad_batch(items)


def main():
    from kdspeech.asr.ctc_decode import decode
    from kdspeech.config import read_yaml
    from kdspeech.distill.losses import build_loss_terms
    from kdspeech.models import build_model, count_parameters

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "egs/TEMPLATE/asr/conf/cpu/train_asr_conformer_ctc.yaml"))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--num_utts", type=int, default=10)
    p.add_argument("--beam", type=int, default=10)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    src, wavs, utts, tokens, batch = an4_batch(args.batch)
    conf = read_yaml(args.config)
    model_conf = {**conf["model"]["conf"], "tokens": tokens}
    device = torch.device(args.device)
    model = build_model(conf["model"]["name"], model_conf).to(device)
    print(f"{args.config}: {count_parameters(model) / 1e6:.2f} M parameters, {torch.get_num_threads()} threads, "
          f"device {device}")

    batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
    (_, _, ctc), = build_loss_terms(conf["loss"])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    times = []
    for _ in range(args.steps + 1 if args.steps else 0):   # the first is a warm-up
        t0 = time.perf_counter()
        loss = ctc(model(batch["input"], batch["input_len"]), batch, {})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    audio = float(batch["input_len"].sum()) / 16000
    if args.steps:
        step = sorted(times[1:])[len(times[1:]) // 2]
        print(f"training step: {step:.3f} s/step (median of {args.steps}), batch {len(batch['key'])} utterances, "
              f"{audio:.1f} s of audio")

    model.eval()
    clips = [sf.read(src / wavs[u], dtype="float32")[0] for u in utts[:args.num_utts]]
    seconds = sum(len(x) for x in clips) / 16000
    # The first pass meets every input length for the first time (oneDNN builds its convolution
    # primitives per shape), as a scoring job does; the second and third meet them again.
    for run, beam in (("new lengths", 1), ("lengths seen", 1), ("lengths seen", args.beam)):
        t0, search = time.perf_counter(), 0.0
        with torch.no_grad():
            for x in clips:
                out = model(torch.from_numpy(x)[None].to(device))
                lp = out["log_probs"][0, :int(out["enc_len"][0])].cpu().numpy()
                t1 = time.perf_counter()
                decode(lp, beam)
                search += time.perf_counter() - t1
        total = time.perf_counter() - t0
        print(f"decoding, beam {beam}, {run}: RTF {total / seconds:.4f} ({len(clips)} utterances, "
              f"{seconds:.1f} s; of which the search {search / seconds:.4f})")


if __name__ == "__main__":
    main()
