"""Paper-scale data path: loader workers with on-the-fly mixing, length buckets, gradient accumulation.

One run prints every ratio:

1. loader throughput on real files (``$KDSPEECH_CORPORA``, default ../shared/corpora): on-the-fly
   personalized-enhancement mixtures (``OnTheFlyPseDataset``: LibriSpeech targets and interferers,
   NOISEX-92 and nonspeech noises, real RIRs, ``--seconds`` crops) through the trainer's own loader
   (``kdspeech.train.loading``), examples per second of a second epoch (persistent workers already
   up) with 0, 1 and 2 workers, and the CPU seconds per example of the process and its workers, from
   which the rate on 2 free cores is estimated (min(workers, 2) / CPU per example, against 1 / CPU per
   example without workers: what wall-clock time shows on an idle machine, and cannot on a busy one);
   the batches are checked equal across the worker counts;
2. padded fraction of the batch frames on real variable-length data (the ASR corpora: AN4,
   SpeechBrain's and LJ Speech's clips; the speaker data: LibriSpeech whole utterances): batches of
   ``batch_size`` random examples, random examples packed to ``batch_seconds``, and duration buckets
   (``kdspeech.train.buckets``), mean over ``--epochs`` epochs;
3. accumulation overhead: the trainer's epoch with ``accum_grad: 4`` x batch 2 against batch 8
   (the same examples, the same updates), seconds per update.

Times are wall-clock, the best of ``--repeats`` interleaved repeats; on a machine shared with other
jobs they are indicative only.  It prints figures; it asserts nothing but the equal batches.

    tools/venv/bin/python benchmarks/bench_scale.py [--items 96] [--seconds 4] [--batch 8] [--repeats 2]

Measured (defaults, ``OMP_NUM_THREADS=1``, torch 2.11.0, a 2-core CPU shared with a recipe run and
other tests: load average 7 on 2 cores, this process got about a third of a core, so every wall-clock
figure is indicative only; two runs):

* loader on a quiet machine (2026-12-07, the recipe runs paused, nothing else running; the load average
  still decaying from them): 0 workers 116.5 examples/s, 1 worker 116.3 (1.00x), **2 workers 217.7
  (1.87x; aim >= 1.7x met)**, CPU per example 8.6 / 8.8 / 8.9 ms; accumulation 4 x 2 against batch 8
  +3.1 % per update, against 4 updates of batch 2 -0.7 %.  Earlier, on the loaded machine:
* loader, 4-s on-the-fly PSE mixtures of real files, batch 8: 0 workers 58-59 examples/s, 1 worker
  50-56 (0.86-0.94x), 2 workers 39-61 (0.67-1.02x): no gain on cores that are already busy.  CPU per
  example 8.4-8.7 ms in the training process, 9.0-9.5 ms with 1 worker, 9.5-10.5 ms with 2 (1.04-1.25x:
  the transfer of batches between processes); by CPU time, 2 workers on 2 free cores would load
  1.6-1.8x as fast as the training process alone (aim: >= 1.7x; not measured on an idle machine);
* padded fraction of batch frames: ASR clips (93, 0.7-10.0 s, batch_seconds 41): random batches of 9
  57.4 %, random examples packed to 41 s 51.6 %, duration buckets 15.4 % (10 buckets), 6.9 % (20, the
  default), 4.1 % (30); LibriSpeech whole utterances (351, 1.6-22.8 s, batch_seconds 91): random 27.3 %,
  packed 29.1 %, buckets 6.2 % (10), 3.3 % (20), 2.5 % (30) (aim: <= 10 %);
* accumulation, waveunet (4 layers, 8 channels), 16384 samples: accum_grad 4 x batch 2 against batch 8
  -0.1 % and -23 % per update, against 4 updates of batch 2 +0.2 % and -12 %: within the noise of this
  machine, no overhead of accumulation itself shows (aim: <= 3 %).
"""

import argparse
import copy
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from kdspeech.data.datadir import write_kv
from kdspeech.distill.losses import build_loss_terms
from kdspeech.models import build_model
from kdspeech.tasks.pse_data import OnTheFlyPseDataset
from kdspeech.train.buckets import BucketBatches, pack, padded_fraction
from kdspeech.train.distributed import DistInfo
from kdspeech.train.loading import epoch_loader, fixed_batches, make_loader
from kdspeech.train.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("KDSPEECH_CORPORA", REPO.parent / "shared" / "corpora"))
SMALL = {"num_layers": 4, "base_channels": 8, "growth": 8, "num_decimations": 4}


def _dir(root, files, speaker=None):
    root.mkdir(parents=True, exist_ok=True)
    scp = {f"{speaker(f) if speaker else 'x'}-{f.stem}": str(f) for f in files}
    write_kv(root / "wav.scp", scp)
    if speaker:
        write_kv(root / "utt2spk", {u: u.split("-")[0] for u in scp})
    return root


def pse_dataset(tmp, seconds):
    """On-the-fly mixtures of real files: LibriSpeech targets/interferers, real noises and RIRs."""
    speech = sorted((CORPORA / "librispeech/LibriSpeech").rglob("*.flac"))
    sources = _dir(tmp / "sources", speech, speaker=lambda f: f.stem.split("-")[0])
    noises = _dir(tmp / "noises", sorted((CORPORA / "noise").rglob("*.flac")))
    rirs = _dir(tmp / "rirs", sorted((CORPORA / "rirs").rglob("*.flac")))
    speakers = sorted({f.stem.split("-")[0] for f in speech})
    np.savez(tmp / "emb.npz", keys=np.array(speakers),
             emb=np.random.default_rng(0).standard_normal((len(speakers), 16)).astype(np.float32))
    return OnTheFlyPseDataset(sources, {"noises": str(noises), "rirs": str(rirs), "interferers": None},
                              segment=int(seconds * 16000), sr=16000, seed=1, enroll_emb=tmp / "emb.npz")


def _cpu(pids):
    """CPU seconds of this process and of the processes ``pids`` (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = time.process_time()
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def loader_rate(dataset, workers, batch, repeats):
    """Examples per wall-clock second and CPU seconds per example (this process and its workers)
    of epoch 2 (epoch 1 starts the workers), and the epoch's batches."""
    best, cpu, batches = 0.0, float("inf"), None
    for _ in range(repeats):
        loader = make_loader(dataset, fixed_batches(dataset, batch, True, 1, DistInfo()),
                             {"num_workers": workers}, "cpu", 1)
        for _ in epoch_loader(loader, 1):
            pass
        pids = [w.pid for w in getattr(loader._iterator, "_workers", [])]
        t0, c0 = time.perf_counter(), _cpu(pids)
        batches = [b["input"] for b in epoch_loader(loader, 2)]
        best = max(best, len(dataset) / (time.perf_counter() - t0))
        cpu = min(cpu, (_cpu(pids) - c0) / len(dataset))
        del loader
    return best, cpu, batches


def durations(files):
    return np.array([sf.info(str(f)).duration for f in files])


def padding(seconds, batch_size, batch_seconds, epochs, buckets=(10, 20, 30)):
    """Mean padded fractions: random batches of batch_size, random packed to batch_seconds, and
    ``{num_buckets: (fraction, batches per epoch)}`` of duration buckets."""
    fixed, packed, bucketed = [], [], {n: [] for n in buckets}
    samplers = {n: BucketBatches(seconds, batch_seconds, num_buckets=n, seed=1) for n in buckets}
    for epoch in range(1, epochs + 1):
        order = np.random.default_rng([1, epoch]).permutation(len(seconds))
        fixed.append(padded_fraction([order[i:i + batch_size] for i in range(0, len(order), batch_size)], seconds))
        packed.append(padded_fraction(pack(order, seconds, batch_seconds), seconds))
        for n, sampler in samplers.items():
            sampler.set_epoch(epoch)
            bucketed[n].append(padded_fraction(list(sampler), seconds))
    return np.mean(fixed), np.mean(packed), {n: (np.mean(v), len(samplers[n])) for n, v in bucketed.items()}


class Clips(torch.utils.data.Dataset):
    def __init__(self, n, samples):
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(n, samples, generator=g) * 0.1, torch.randn(n, samples, generator=g) * 0.1

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input": self.x[i], "target": self.y[i], "key": str(i)}


def seconds_per_update(model, data, batch, accum, tmp):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    trainer = Trainer(model, opt, torch.optim.lr_scheduler.ConstantLR(opt), build_loss_terms([{"name": "mse_target"}]),
                      data, data, tmp, batch_size=batch,
                      conf={"tensorboard": False, "log_interval": 10 ** 9, "accum_grad": accum})
    t0 = time.perf_counter()
    trainer.train_epoch(1)
    return (time.perf_counter() - t0) / (len(data) // (batch * accum))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=96, help="on-the-fly mixtures per loader epoch")
    p.add_argument("--seconds", type=float, default=4.0, help="seconds per mixture")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--workers", default="0,1,2")
    p.add_argument("--epochs", type=int, default=5, help="epochs of the padding figures")
    p.add_argument("--updates", type=int, default=8, help="optimiser updates of the accumulation figure")
    p.add_argument("--segment", type=int, default=16384, help="samples per example of the accumulation figure")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    with tempfile.TemporaryDirectory() as tmp:
        dataset = pse_dataset(Path(tmp), args.seconds)
        dataset.length = args.items
        rates, reference = {}, None
        for workers in [int(w) for w in args.workers.split(",")]:
            rates[workers], cpu, batches = loader_rate(dataset, workers, args.batch, args.repeats)
            reference = reference or batches
            assert all(torch.equal(a, b) for a, b in zip(reference, batches)), f"{workers} workers: other batches"
            if workers == min(rates):
                cpu0 = cpu
            print(f"loader, on-the-fly PSE mixtures of {args.seconds:g} s, {workers} worker(s): "
                  f"{rates[workers]:.1f} examples/s ({rates[workers] / rates[min(rates)]:.2f}x of "
                  f"{min(rates)} workers; batches equal); CPU {1e3 * cpu:.1f} ms/example "
                  f"({cpu / cpu0:.2f}x), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; on 2 "
                  f"free cores by CPU time: {min(max(workers, 1), 2) * cpu0 / cpu:.2f}x", flush=True)

    asr = sorted((CORPORA / "asr").rglob("*.flac"))
    spk = sorted((CORPORA / "librispeech/LibriSpeech").rglob("*.flac"))
    for name, files in (("asr (AN4, SpeechBrain, LJ Speech)", asr), ("spk (LibriSpeech whole utterances)", spk)):
        seconds = durations(files)
        batch_seconds = float(np.ceil(4 * seconds.max()))
        batch_size = max(1, int(round(batch_seconds / seconds.mean() / 2)))
        fixed, packed, bucketed = padding(seconds, batch_size, batch_seconds, args.epochs)
        buckets = ", ".join(f"{n} buckets {f:.1%} ({count} batches)" for n, (f, count) in bucketed.items())
        print(f"padding, {name}: {len(seconds)} utterances {seconds.min():.1f}-{seconds.max():.1f} s; padded "
              f"fraction of batch frames: random batches of {batch_size} {fixed:.1%}, random packed to "
              f"{batch_seconds:g} s {packed:.1%}; duration buckets of {batch_seconds:g} s: {buckets}", flush=True)

    torch.manual_seed(0)
    base = build_model("waveunet", SMALL)
    data = Clips(args.updates * 8, args.segment)
    one, accum, small = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        seconds_per_update(copy.deepcopy(base), Clips(8, args.segment), 8, 1, tmp)   # warm-up
        for _ in range(args.repeats):
            one.append(seconds_per_update(copy.deepcopy(base), data, 8, 1, tmp))
            accum.append(seconds_per_update(copy.deepcopy(base), data, 2, 4, tmp))
            small.append(4 * seconds_per_update(copy.deepcopy(base), data, 2, 1, tmp))
    print(f"accumulation: accum_grad 4 x batch 2 {min(accum):.3f} s/update, batch 8 {min(one):.3f} s/update: "
          f"{min(accum) / min(one) - 1:+.1%}; against 4 updates of batch 2 without accumulation "
          f"({min(small):.3f} s, the same forward/backward work): {min(accum) / min(small) - 1:+.1%}", flush=True)
    print("bench_scale: done")


if __name__ == "__main__":
    main()
