"""Cost of contrastive speaker KD (Serre et al.) and of the speaker encoders.

(1) Training steps of TinyECAPA on 3 s crops, through the core's call_model / total_loss, Adam step
    included: a plain student step (no chunks, supervised ``aam_softmax``) against the contrastive KD
    step (``chunk: 1.0``, ``contrastive_chunks`` on teacher embeddings looked up from a cache, as a
    recipe with cached teacher outputs runs it).  Goal: KD / plain <= 1.15.  For reference: the KD
    step with ``chunk_mode: split`` and with the teacher (resemblyzer) run live.
(2) Embedding time per second of audio at batch 1 (10 s clip), student against the teachers
    (resemblyzer's GE2E, ECAPA-TDNN C=1024), and their MACs per second of audio.

    OMP_NUM_THREADS=1 tools/venv/bin/python benchmarks/bench_speaker_kd.py [--batch 32] [--steps 10] [--threads 1]
"""

import argparse
import time

import torch

from kdspeech.distill.losses import build_loss_terms, loss_modules, total_loss
from kdspeech.models import build_model, count_parameters
from kdspeech.models.calling import call_model
from kdspeech.models.complexity import NOT_COUNTED, count_macs


def step_seconds(model, terms, batches, teacher_outs_of, repeats):
    params = list(model.parameters()) + list(loss_modules(terms).parameters())
    opt = torch.optim.Adam(params, 1e-3)
    model.train()

    def step(batch):
        out = call_model(model, batch)
        loss, _ = total_loss(terms, out, batch, teacher_outs_of(batch))
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(batches[0])                                   # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for batch in batches:
            step(batch)
        times.append((time.perf_counter() - t0) / len(batches))
    return min(times)


def embed_seconds_per_audio_second(model, seconds=10.0, repeats=5):
    wav = torch.randn(1, int(seconds * 16000)) * 0.1
    model.eval()
    with torch.no_grad():
        model(wav)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(wav)
            times.append(time.perf_counter() - t0)
    return min(times) / seconds


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=6, help="batches per timing")
    p.add_argument("--repeats", type=int, default=2, help="timings per setting (the fastest counts)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--speakers", type=int, default=100)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    batches = []
    for i in range(args.steps):
        g = torch.Generator().manual_seed(i)
        batches.append({"input": torch.randn(args.batch, 48000, generator=g) * 0.1,
                        "input_view2": torch.randn(args.batch, 48000, generator=g) * 0.1,
                        "target": torch.randint(0, args.speakers, (args.batch,), generator=g),
                        "key": [f"b{i}u{j}" for j in range(args.batch)]})
    cache = {k: torch.nn.functional.normalize(torch.randn(256), dim=0)
             for b in batches for k in b["key"]}               # teacher embeddings computed once

    def cached(batch):
        return {"kd": {"emb": torch.stack([cache[k] for k in batch["key"]])}}

    plain_terms = build_loss_terms([{"name": "aam_softmax", "num_classes": args.speakers, "emb_dim": 256}])
    kd_terms = build_loss_terms([{"name": "contrastive_chunks", "teacher": "kd"}])
    results = {}
    torch.manual_seed(0)
    results["plain (no chunks, aam_softmax)"] = step_seconds(
        build_model("tiny_ecapa", {"emb_dim": 256}), plain_terms, batches, lambda b: {}, args.repeats)
    torch.manual_seed(0)
    results["contrastive KD, cached teacher (pool)"] = step_seconds(
        build_model("tiny_ecapa", {"emb_dim": 256, "chunk": 1.0}), kd_terms, batches, cached, args.repeats)
    torch.manual_seed(0)
    results["contrastive KD, cached teacher (split)"] = step_seconds(
        build_model("tiny_ecapa", {"emb_dim": 256, "chunk": 1.0, "chunk_mode": "split"}), kd_terms,
        batches, cached, args.repeats)
    teacher = None
    try:
        from kdspeech.models.loaders import load_member
        teacher = load_member({"loader": "resemblyzer", "path": "builtin"})
    except Exception as err:  # noqa: BLE001 - the package is optional
        print(f"resemblyzer unavailable ({err}); live-teacher and resemblyzer figures skipped")
    if teacher is not None:
        def live(batch):
            with torch.no_grad():
                return {"kd": teacher(batch["input_view2"])}
        torch.manual_seed(0)
        results["contrastive KD, live resemblyzer"] = step_seconds(
            build_model("tiny_ecapa", {"emb_dim": 256, "chunk": 1.0}), kd_terms, batches, live, args.repeats)

    base = results["plain (no chunks, aam_softmax)"]
    print(f"TinyECAPA training step, batch {args.batch} x 3 s, {args.threads} thread(s):")
    for name, sec in results.items():
        print(f"  {name:42s} {sec * 1000:8.1f} ms/step  {sec / base:5.2f}x")
    ratio = results["contrastive KD, cached teacher (pool)"] / base
    print(f"  goal KD/plain <= 1.15: {'met' if ratio <= 1.15 else 'NOT met'} ({ratio:.2f}x)")

    encoders = {"tiny_ecapa (student)": build_model("tiny_ecapa", {}),
                "tiny_ecapa chunk 1 s (pool)": build_model("tiny_ecapa", {"chunk": 1.0}),
                "ecapa_tdnn C=1024 (taoruijie)": build_model("ecapa_tdnn", {})}
    if teacher is not None:
        encoders["resemblyzer GE2E"] = teacher
    print("Embedding one 10 s clip, batch 1:")
    student = None
    for name, model in encoders.items():
        sec = embed_seconds_per_audio_second(model)
        student = student or sec
        with torch.no_grad():
            macs = count_macs(model.eval(), {"wav": torch.randn(1, 16000) * 0.1})
        print(f"  {name:30s} {count_parameters(model):>11,d} params  {macs / 1e6:9.1f} MMAC/s of audio  "
              f"{sec * 1000:7.2f} ms per s of audio  ({sec / student:6.1f}x the student)")
    print(f"  (MACs: {NOT_COUNTED})")


if __name__ == "__main__":
    main()
