"""Scoring throughput: kdspeech.bin.score with --nj 2 against two raw metric processes.

Builds noisy/clean pairs of real speech (the shortest LibriSpeech test-other utterances of the
shared corpora, NOISEX-92 noises at -5..10 dB SNR) in a temporary mixture dir, then scores the
noisy mixtures against the clean references four ways:

- raw, 1 process: one Python process that reads every pair with soundfile and calls the metric
  libraries directly (pesq, pystoi; SI-SDR in numpy; other metrics through kdspeech's functions);
- raw, 2 processes: the same on each half of the utterances, both at once;
- score --nj 1 and --nj 2: the score verb's jobs through the local job runner (utils/run.py, as a
  recipe runs them), then its --merge.

The goal of the issue: the --nj 2 speed-up of the score verb (jobs + merge) is at least 0.9x the
speed-up of the two raw processes over one, i.e. job set-up and the merge cost little.  Prints
figures, asserts nothing.

    tools/venv/bin/python benchmarks/bench_scoring.py [--num_utts 40] [--metrics pesq_wb,stoi,si_sdr]
"""

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SNRS = (-5, 0, 5, 10)
NOISES = ("babble", "factory1", "pink", "white", "volvo")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def corpora_path():
    path = Path(os.environ.get("KDSPEECH_CORPORA") or REPO.parent / "shared" / "corpora")
    if not path.is_dir():
        sys.exit(f"real corpora not found at {path}: set KDSPEECH_CORPORA")
    return path


def build_mixtures(corpora, root, num_utts):
    """A mixture data dir at ``root`` of ``num_utts`` utterances; returns total seconds of audio."""
    from kdspeech.data.audio import load_audio, save_audio
    from kdspeech.data.datadir import write_kv
    from kdspeech.data.mix import avoid_clipping, fit_length, mix_at_snr

    files = glob.glob(str(corpora / "librispeech" / "LibriSpeech" / "test-other" / "*" / "*" / "*.flac"))
    files = sorted(files, key=lambda p: (sf.info(p).frames, p))[:num_utts]
    noises = {name: load_audio(corpora / "noise" / "noisex92" / f"{name}.flac", sr=16000)[0]
              for name in NOISES}
    rng = np.random.default_rng(0)
    wav, spk1, utt2snr, utt2noise, seconds = {}, {}, {}, {}, 0.0
    for i, path in enumerate(files):
        utt = Path(path).stem
        clean, sr = load_audio(path, sr=16000, utt=utt)
        kind, snr = NOISES[i % len(NOISES)], SNRS[i % len(SNRS)]
        mix, noise = mix_at_snr(clean, fit_length(noises[kind], len(clean), rng=rng), snr)
        (mix, clean, noise), _ = avoid_clipping(mix, clean, noise)
        save_audio(root / "audio" / f"{utt}_mix.wav", mix, sr)
        save_audio(root / "audio" / f"{utt}_clean.wav", clean, sr)
        wav[utt] = str(root / "audio" / f"{utt}_mix.wav")
        spk1[utt] = str(root / "audio" / f"{utt}_clean.wav")
        utt2snr[utt], utt2noise[utt] = str(snr), kind
        seconds += len(clean) / sr
    outputs = {"wav.scp": wav, "spk1.scp": spk1, "utt2snr": utt2snr, "utt2noise": utt2noise}
    for name, mapping in outputs.items():
        write_kv(root / name, mapping)
    return seconds


# --- the raw baseline ----------------------------------------------------------------------------

def raw_worker(pairs_file, metrics):
    """Score the ``<clean> <noisy>`` lines of ``pairs_file`` with the libraries called directly."""
    import pesq
    from pystoi import stoi

    def si_sdr(ref, est):
        ref, est = ref - ref.mean(), est - est.mean()
        target = np.dot(est, ref) / np.dot(ref, ref) * ref
        return 10 * np.log10(np.dot(target, target) / np.dot(est - target, est - target))

    direct = {"pesq_wb": lambda r, e, sr: pesq.pesq(sr, r, e, "wb"),
              "pesq_nb": lambda r, e, sr: pesq.pesq(sr, r, e, "nb"),
              "stoi": lambda r, e, sr: stoi(r, e, sr),
              "estoi": lambda r, e, sr: stoi(r, e, sr, extended=True),
              "si_sdr": lambda r, e, sr: si_sdr(r, e)}
    for name in metrics:
        if name not in direct:  # no library to call directly: kdspeech's own function
            from kdspeech.metrics import compute

            direct[name] = lambda r, e, sr, name=name: compute([name], e, sr, ref=r)[name]
    total = 0.0
    for line in Path(pairs_file).read_text().splitlines():
        clean_path, noisy_path = line.split()
        ref, sr = sf.read(clean_path, dtype="float64")
        est, _ = sf.read(noisy_path, dtype="float64")
        total += sum(float(direct[name](ref, est, sr)) for name in metrics)
    print(f"checksum {total:.6f}")


def raw(mix_dir, work, nprocs, metrics):
    """Wall seconds of ``nprocs`` raw worker processes, each on a contiguous share of the utterances."""
    from kdspeech.data.datadir import read_kv, split_ids

    wav, spk1 = read_kv(mix_dir / "wav.scp"), read_kv(mix_dir / "spk1.scp")
    files = []
    for job in range(1, nprocs + 1):
        path = work / f"raw_pairs.{nprocs}.{job}"
        path.write_text("".join(f"{spk1[u]} {wav[u]}\n" for u in split_ids(sorted(wav), nprocs, job)))
        files.append(path)
    env = dict(os.environ, **ONE_THREAD)
    start = time.perf_counter()
    command = [sys.executable, __file__, "--metrics", ",".join(metrics), "--raw_worker"]
    procs = [subprocess.Popen([*command, str(f)], env=env, stdout=subprocess.DEVNULL) for f in files]
    for proc in procs:
        if proc.wait() != 0:
            sys.exit("a raw worker failed")
    return time.perf_counter() - start


# --- the score verb ----------------------------------------------------------------------------

def score(mix_dir, out_dir, nj, metrics):
    """Wall seconds ``(jobs, merge)`` of scoring with ``nj`` parallel jobs (utils/run.py), then merging."""
    common = ["--est_scp", str(mix_dir / "wav.scp"), "--out_dir", str(out_dir), "--metrics", metrics]
    env = dict(os.environ, **ONE_THREAD)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(REPO / "utils" / "run.py"), f"JOB=1:{nj}",
                    str(out_dir / "log" / "score.JOB.log"), sys.executable, "-m", "kdspeech.bin.score",
                    "--ref_scp", str(mix_dir / "spk1.scp"), *common, "--job", "JOB", "--nj", str(nj)],
                   check=True, env=env)
    jobs_done = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kdspeech.bin.score", "--merge", "--nj", str(nj),
                    "--data", str(mix_dir), *common], check=True, env=env, capture_output=True)
    return jobs_done - start, time.perf_counter() - jobs_done


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_utts", type=int, default=40)
    parser.add_argument("--metrics", default="pesq_wb,stoi,si_sdr")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each way; the fastest counts")
    parser.add_argument("--raw_worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    metrics = [m for m in args.metrics.split(",") if m]
    if args.raw_worker:
        return raw_worker(args.raw_worker, metrics)
    with tempfile.TemporaryDirectory(prefix="bench_scoring.") as tmp:
        work = Path(tmp)
        mix_dir = work / "mix_test"
        seconds = build_mixtures(corpora_path(), mix_dir, args.num_utts)
        print(f"{args.num_utts} utterances, {seconds:.1f} s of audio, metrics {args.metrics}, "
              f"{os.cpu_count()} CPU cores, 1 thread per process, best of {args.repeats}")
        raw_times = {n: min(raw(mix_dir, work, n, metrics) for _ in range(args.repeats)) for n in (1, 2)}
        ours = {}
        for nj in (1, 2):
            runs = [score(mix_dir, work / f"score_nj{nj}_{r}", nj, args.metrics) for r in range(args.repeats)]
            ours[nj] = min(runs, key=sum)
        merged = [(work / f"score_nj{nj}_0" / "scores.tsv").read_text() for nj in (1, 2)]
    n = args.num_utts
    for procs, t in raw_times.items():
        print(f"raw, {procs} process{'es' if procs > 1 else ''}: {t:6.2f} s ({n / t:5.2f} utt/s)")
    for nj, (jobs, merge) in ours.items():
        print(f"score --nj {nj}: jobs {jobs:6.2f} s, merge {merge:5.2f} s, total {jobs + merge:6.2f} s "
              f"({n / (jobs + merge):5.2f} utt/s)")
    raw_speedup = raw_times[1] / raw_times[2]
    our_speedup = sum(ours[1]) / sum(ours[2])
    print(f"speed-up of 2 over 1: raw {raw_speedup:.2f}x, score {our_speedup:.2f}x "
          f"-> {our_speedup / raw_speedup:.2f} of the raw speed-up (goal >= 0.9)")
    print(f"score --nj 2 throughput / raw 2 processes: {raw_times[2] / sum(ours[2]):.2f} "
          f"(identical scores.tsv for --nj 1 and 2: {merged[0] == merged[1]})")


if __name__ == "__main__":
    main()
