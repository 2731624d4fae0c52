"""Every benchmark script still runs (tiny sizes): they are not in the other tests' import graph, so an
API change could break one unseen (bench_snr_kd's teacher hook did, when models came to be called by
keyword).  Figures are not checked here; the benchmarks print them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "bench_snr_kd.py": ["--steps", "1", "--batch", "4", "--segment", "2048", "--repeats", "1"],
    "bench_cls_kd.py": ["--clips", "8", "--frames", "101", "--batch", "4", "--repeats", "1"],
    "bench_trainer.py": ["--steps", "2", "--batch", "2", "--segment", "4096", "--repeats", "1"],
    "bench_kd_asr.py": ["--seconds", "0.5", "--steps", "1", "--batch", "2", "--segment", "8000", "--repeats", "1"],
    "bench_speaker_kd.py": ["--batch", "4", "--steps", "1", "--repeats", "1", "--speakers", "4"],
    "bench_pse_refine.py": ["--seconds", "1", "--repeats", "1"],
    "bench_deterministic.py": ["--steps", "1", "--repeats", "1", "--batch", "2", "--seconds", "1",
                               "--models", "waveunet,tiny_ecapa,cnn14"],
    "bench_asr_conformer_ctc.py": ["--batch", "2", "--steps", "1", "--num_utts", "2", "--beam", "2"],
    "bench_gpu_step.py": ["--device", "cpu", "--configs", "esc50/cls:train_mobilenetv2", "--steps", "1", "--batch",
                          "2", "--seconds", "0.5", "--precisions", "fp32,bf16", "--workers", "0"],
    "bench_precision.py": ["--seconds", "0.5", "--steps", "1", "--repeats", "1", "--models", "waveunet,dccrn"],
    "bench_scale.py": ["--items", "8", "--batch", "4", "--seconds", "1", "--workers", "0,1", "--epochs", "1",
                       "--updates", "1", "--segment", "2048", "--repeats", "1"],
    "bench_streaming.py": ["--models", "crn,waveunet", "--conf", "crn.channels=[8,16]", "crn.lstm_layers=1",
                           "crn.lstm_hidden=32", "--seconds", "0.3", "--repeats", "1"],
}
EXPECTED = {  # a line each prints once it has measured
    "bench_snr_kd.py": "routing: ",
    "bench_cls_kd.py": "BASD/CSSD, precomputed teacher",
    "bench_trainer.py": "dict-output teacher, 2 terms",
    "bench_kd_asr.py": "precomputed teacher outputs",
    "bench_speaker_kd.py": "resemblyzer GE2E",
    "bench_pse_refine.py": "oracle similarity",
    "bench_deterministic.py": "deterministic mode: done",
    "bench_asr_conformer_ctc.py": "decoding, beam 2",
    "bench_gpu_step.py": "bench_gpu_step: done",
    "bench_precision.py": "fails under bf16 (and not under fp32): none",
    "bench_scale.py": "bench_scale: done",
    "bench_streaming.py": "bench_streaming: done",
}


@pytest.mark.parametrize("script", sorted(TINY))
def test_benchmark_runs_at_a_tiny_size(script):
    extra = [["--loss", "mse"], ["--loss", "si_snr"]] if script == "bench_snr_kd.py" else [[]]
    for args in extra:
        out = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *TINY[script], *args],
                             capture_output=True, text=True, timeout=600, cwd=REPO,
                             env=dict(os.environ, OMP_NUM_THREADS="1"))
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
        assert EXPECTED[script] in out.stdout, out.stdout[-2000:]


def test_the_espnet_comparison_runs_where_espnet_is_installed():
    """bench_espnet_conformer needs ESPnet, which is no dependency of kdspeech (its docstring says how to
    install it apart, e.g. PYTHONPATH=/tmp/espnet_site): run where it imports, else skipped."""
    pytest.importorskip("espnet2.asr.encoder.conformer_encoder")
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_espnet_conformer.py"), "--batch", "2",
                          "--steps", "1"], capture_output=True, text=True, timeout=600, cwd=REPO,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert "ratio kdspeech / ESPnet" in out.stdout, out.stdout[-2000:]


def test_every_benchmark_with_options_is_covered():
    """The scripts that take sizes are run above; the others time corpora or recipes (minutes), or need a
    package kdspeech does not install (ESPnet)."""
    slow = {"bench_foundation.py", "bench_recipe_load.py", "bench_resample_mix.py", "bench_scoring.py",
            "bench_asr_scoring.py"}
    apart = {"bench_espnet_conformer.py"}
    scripts = {p.name for p in (REPO / "benchmarks").glob("bench_*.py")}
    assert scripts == set(TINY) | slow | apart
