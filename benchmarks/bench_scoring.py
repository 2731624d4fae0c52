"""Scoring throughput: utterances per second of score_enh with --nj 1 against --nj 2.

Builds noisy/clean pairs of real speech (the shortest LibriSpeech test-other utterances of the
shared corpora, NOISEX-92 noises at -5..10 dB SNR) in a temporary mixture dir, then scores the
noisy mixtures against the clean references: once as one job, once as two jobs in parallel through
the local job runner (utils/run.py, as a recipe does), each followed by the merge.  Prints figures.

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

from kdspeech.data.audio import load_audio, save_audio
from kdspeech.data.datadir import write_kv
from kdspeech.data.mix import avoid_clipping, fit_length, mix_at_snr

REPO = Path(__file__).resolve().parents[1]
SNRS = (-5, 0, 5, 10)
NOISES = ("babble", "factory1", "pink", "white", "volvo")


def corpora_path():
    path = Path(os.environ.get("KDSPEECH_CORPORA") or REPO.parent / "shared" / "corpora")
    if not path.is_dir():
        sys.exit(f"real corpora not found at {path}: set KDSPEECH_CORPORA")
    return path


def build_mixtures(corpora, root, num_utts):
    """A mixture data dir at ``root`` of ``num_utts`` utterances; returns total seconds of audio."""
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


def score(mix_dir, out_dir, nj, metrics):
    """Wall seconds ``(jobs, merge)`` of scoring with ``nj`` parallel jobs (utils/run.py), then merging."""
    common = ["--est_scp", str(mix_dir / "wav.scp"), "--out_dir", str(out_dir), "--metrics", metrics]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    start = time.perf_counter()
    subprocess.run([sys.executable, str(REPO / "utils" / "run.py"), f"JOB=1:{nj}",
                    str(out_dir / "log" / "score.JOB.log"), sys.executable, "-m", "kdspeech.bin.score_enh",
                    "--ref_scp", str(mix_dir / "spk1.scp"), *common, "--job", "JOB", "--nj", str(nj)],
                   check=True, env=env)
    jobs_done = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kdspeech.bin.score_enh", "--merge", "--nj", str(nj),
                    "--data", str(mix_dir), *common], check=True, env=env, capture_output=True)
    return jobs_done - start, time.perf_counter() - jobs_done


def best_of(repeats, mix_dir, work, nj, metrics):
    """The fastest of ``repeats`` fresh runs (each in a new, empty score dir)."""
    runs = [score(mix_dir, work / f"score_nj{nj}_{r}", nj, metrics) for r in range(repeats)]
    return min(runs, key=sum)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_utts", type=int, default=40)
    parser.add_argument("--metrics", default="pesq_wb,stoi,si_sdr")
    parser.add_argument("--repeats", type=int, default=3, help="runs per --nj; the fastest counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_scoring.") as tmp:
        work = Path(tmp)
        seconds = build_mixtures(corpora_path(), work / "mix_test", args.num_utts)
        print(f"{args.num_utts} utterances, {seconds:.1f} s of audio, metrics {args.metrics}, "
              f"{os.cpu_count()} CPU cores, best of {args.repeats}")
        times = {nj: best_of(args.repeats, work / "mix_test", work, nj, args.metrics) for nj in (1, 2)}
        merged = [(work / f"score_nj{nj}_0" / "scores.tsv").read_text() for nj in (1, 2)]
        same = merged[0] == merged[1]
    for nj, (jobs, merge) in times.items():
        print(f"--nj {nj}: jobs {jobs:6.2f} s ({args.num_utts / jobs:5.2f} utt/s), merge {merge:5.2f} s, "
              f"total {jobs + merge:6.2f} s ({args.num_utts / (jobs + merge):5.2f} utt/s)")
    print(f"speed-up nj2/nj1: jobs {times[1][0] / times[2][0]:.2f}x, "
          f"total {sum(times[1]) / sum(times[2]):.2f}x (identical scores.tsv: {same})")


if __name__ == "__main__":
    main()
