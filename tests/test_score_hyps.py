"""Bad hypothesis and decode job files in the score verb: an utterance that is not in the transcripts
(or not in the job) is one error line naming the file, the line and the stage, before any decoding, and
a merge that fails writes nothing."""

import os
import subprocess
import sys

import pytest

from kdspeech.data.datadir import write_kv

STAGE = "7 (decode and score wer,cer)"
HEADER = "utt\twer\twer_errors\twer_words\n"


@pytest.fixture
def asr_dir(tmp_path):
    """Three utterances' estimates (never read: every case fails before decoding) and transcripts."""
    data = tmp_path / "data"
    utts = ["u1", "u2", "u3"]
    write_kv(data / "wav.scp", {u: str(data / f"{u}.wav") for u in utts})
    write_kv(data / "text", {u: "the cat sat" for u in utts})
    return data


def score(data, out, *args):
    env = {**os.environ, "KDSPEECH_STAGE": STAGE}
    return subprocess.run([sys.executable, "-m", "kdspeech.bin.score", "--est_scp", str(data / "wav.scp"),
                           "--text", str(data / "text"), "--out_dir", str(out), "--metrics", "wer",
                           "--nj", "1", *args], capture_output=True, text=True, env=env)


def one_error(proc, where, what):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"ERROR [stage {STAGE}] {where}: "), lines[0]
    assert what in lines[0], lines[0]


def test_merge_refuses_a_hypothesis_of_an_utterance_without_transcript(asr_dir, tmp_path):
    out = tmp_path / "score"
    split = out / "split"
    split.mkdir(parents=True)
    (split / "scores.1.tsv").write_text(HEADER + "".join(f"u{i}\t0.0\t0.0\t3.0\n" for i in (1, 2, 3)))
    hyp = split / "hyp.1.txt"
    hyp.write_text("u1 the cat sat\nu9 a dog\nu2 the cat sat\nu3 the cat sat\n")   # u9: another run's
    one_error(score(asr_dir, out, "--merge"), f"{hyp}:2", f"'u9' has no transcript in {asr_dir / 'text'}")
    assert sorted(os.listdir(out)) == ["split"]               # nothing half-written: no scores.tsv, hyp.txt
    # without --text the merge still refuses it: u9 is not an utterance of the estimates
    proc = subprocess.run([sys.executable, "-m", "kdspeech.bin.score", "--est_scp", str(asr_dir / "wav.scp"),
                           "--out_dir", str(out), "--nj", "1", "--merge"], capture_output=True, text=True)
    assert proc.returncode == 1 and f"{hyp}:2: utterance 'u9' is not one of job 1 of 1" in proc.stderr
    assert sorted(os.listdir(out)) == ["split"]
    # a scored utterance whose hypothesis is missing
    hyp.write_text("u1 the cat sat\nu3 the cat sat\n")
    one_error(score(asr_dir, out, "--merge"), str(hyp), "no hypothesis for utterance u2")
    hyp.write_text("u1 the cat sat\nu2 the cat\nu3 the cat sat\n")
    proc = score(asr_dir, out, "--merge")
    assert proc.returncode == 0, proc.stderr
    assert (out / "hyp.txt").read_text() == "u1 the cat sat\nu2 the cat\nu3 the cat sat\n"


def test_a_resumed_job_refuses_a_stray_hypothesis_before_decoding(asr_dir, tmp_path):
    out = tmp_path / "score"
    split = out / "split"
    split.mkdir(parents=True)
    (split / "scores.1.tsv").write_text(HEADER + "u1\t0.0\t0.0\t3.0\n")
    hyp = split / "hyp.1.txt"
    hyp.write_text("u1 the cat sat\nu0 a dog\n")
    one_error(score(asr_dir, out, "--job", "1"), f"{hyp}:2", "'u0' has no transcript")
    assert hyp.read_text() == "u1 the cat sat\nu0 a dog\n"    # untouched; no audio was read (none exists)


def test_an_estimate_without_transcript_names_its_line(asr_dir, tmp_path):
    write_kv(asr_dir / "text", {"u1": "the cat sat", "u3": "the cat sat"})
    proc = score(asr_dir, tmp_path / "score", "--job", "1")
    one_error(proc, f"{asr_dir / 'wav.scp'}:2", f"utterance u2 has no transcript in {asr_dir / 'text'}")
    assert not (tmp_path / "score").exists()
