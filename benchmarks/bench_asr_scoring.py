"""ASR scoring throughput: ``kdspeech.bin.score --metrics wer,cer`` with ``--nj 2`` against ``--nj 1``.

Decodes the transcribed AN4 utterances of the shared corpora (70, 1-6 s each) with an ASR backend of
the registry (``kdspeech.asr``: pocketsphinx, moonshine) through the score verb's jobs (the local job
runner, utils/run.py, one thread per job, as a recipe runs them) and its ``--merge``; prints the wall
time of each, the speed-up of two jobs over one and whether both give the same scores.tsv.  Model
loading is per job, so it counts.  Prints figures, asserts nothing.

    tools/venv/bin/python benchmarks/bench_asr_scoring.py [--backend pocketsphinx] [--num_utts 40]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def an4(corpora, out, num_utts):
    """wav.scp and text of the first ``num_utts`` transcribed AN4 utterances."""
    root = corpora / "asr" / "an4"
    text = dict(line.split(maxsplit=1) for line in (root / "text").read_text().splitlines())
    wav = [line.split() for line in (root / "wav.list").read_text().splitlines()]
    wav = [(utt, root / rel) for utt, rel in wav if utt in text][:num_utts]
    out.mkdir(parents=True)
    (out / "wav.scp").write_text("".join(f"{u} {p}\n" for u, p in sorted(wav)))
    (out / "text").write_text("".join(f"{u} {text[u]}\n" for u, _ in sorted(wav)))
    return len(wav)


def score(data, out_dir, nj, backend):
    """Wall seconds ``(jobs, merge)`` of decoding and scoring with ``nj`` jobs, then merging."""
    common = ["--est_scp", str(data / "wav.scp"), "--out_dir", str(out_dir), "--metrics", "wer,cer",
              "--text", str(data / "text"), "--asr_backend", backend]
    env = dict(os.environ, **ONE_THREAD)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(REPO / "utils" / "run.py"), f"JOB=1:{nj}",
                    str(out_dir / "log" / "score.JOB.log"), sys.executable, "-m", "kdspeech.bin.score",
                    *common, "--job", "JOB", "--nj", str(nj)], check=True, env=env)
    jobs_done = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kdspeech.bin.score", "--merge", "--nj", str(nj), *common],
                   check=True, env=env, capture_output=True)
    return jobs_done - start, time.perf_counter() - jobs_done


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="pocketsphinx")
    p.add_argument("--num_utts", type=int, default=40)
    p.add_argument("--corpora", default=os.environ.get("KDSPEECH_CORPORA", str(REPO.parent / "shared" / "corpora")))
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_asr_scoring.") as tmp:
        work = Path(tmp)
        n = an4(Path(args.corpora), work / "an4", args.num_utts)
        times = {nj: score(work / "an4", work / f"nj{nj}", nj, args.backend) for nj in (1, 2)}
        same = (work / "nj1" / "scores.tsv").read_text() == (work / "nj2" / "scores.tsv").read_text()
    print(f"{n} AN4 utterances, backend {args.backend}, {os.cpu_count()} CPU cores, 1 thread per job")
    for nj, (jobs, merge) in times.items():
        print(f"score --nj {nj}: jobs {jobs:6.2f} s, merge {merge:5.2f} s, total {jobs + merge:6.2f} s "
              f"({n / (jobs + merge):5.2f} utt/s)")
    print(f"speed-up of --nj 2 over --nj 1: {sum(times[1]) / sum(times[2]):.2f}x "
          f"(identical scores.tsv: {same})")


if __name__ == "__main__":
    main()
