"""The score verb: parallel jobs, merge and grouped summary, resume after a kill, input errors,
metrics of every kind (intrusive, DNSMOS, WER/CER through pocketsphinx, trials), a cheap merge."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kdspeech.bin.score import main
from kdspeech.data.audio import save_audio
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError

SR = 16000
METRICS = "pesq_wb,stoi,si_sdr"
UTTS = {  # utt -> (snr, noise type)
    "u1": (0, "white"), "u2": (10, "white"), "u3": (0, "pink"), "u4": (10, "pink"),
}


def speechlike(n, seed):
    """Noise bursts under a syllable-rate envelope: enough 'speech' for PESQ's detector."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    x = rng.standard_normal(n) * np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None)
    return 0.3 * x / np.abs(x).max()


@pytest.fixture
def mix_dir(tmp_path):
    """A mixture data dir (wav.scp noisy, spk1.scp clean, utt2snr, utt2noise) of 1.2 s utterances."""
    root = tmp_path / "mix_test"
    wav, spk1, snr, noise = {}, {}, {}, {}
    for i, (utt, (snr_db, kind)) in enumerate(UTTS.items()):
        clean = speechlike(int(1.2 * SR), seed=i)
        n = np.random.default_rng(100 + i).standard_normal(len(clean))
        n *= np.sqrt(np.sum(clean ** 2) / np.sum(n ** 2) / 10 ** (snr_db / 10))
        save_audio(root / "audio" / f"{utt}_clean.wav", clean, SR)
        save_audio(root / "audio" / f"{utt}_mix.wav", clean + n, SR)
        spk1[utt] = str(root / "audio" / f"{utt}_clean.wav")
        wav[utt] = str(root / "audio" / f"{utt}_mix.wav")
        snr[utt], noise[utt] = str(snr_db), kind
    for name, mapping in [("wav.scp", wav), ("spk1.scp", spk1), ("utt2snr", snr), ("utt2noise", noise)]:
        write_kv(root / name, mapping)
    return root


def run(*args):
    return subprocess.run([sys.executable, "-m", "kdspeech.bin.score", *map(str, args)],
                          capture_output=True, text=True)


def job_args(mix_dir, out_dir, job, nj=2):
    return ["--ref_scp", mix_dir / "spk1.scp", "--est_scp", mix_dir / "wav.scp", "--out_dir", out_dir,
            "--metrics", METRICS, "--job", job, "--nj", nj]


def merge_args(mix_dir, out_dir, nj=2):
    return ["--merge", "--nj", nj, "--est_scp", mix_dir / "wav.scp", "--out_dir", out_dir,
            "--data", mix_dir]  # metrics: those of the job files


def read_tsv(path):
    lines = path.read_text().splitlines()
    return lines[0], {line.split("\t")[0]: line.split("\t")[1:] for line in lines[1:]}


def test_two_jobs_merge_and_summary_by_snr_and_noise(mix_dir, tmp_path):
    out = tmp_path / "score"
    procs = [subprocess.Popen([sys.executable, "-m", "kdspeech.bin.score",
                               *map(str, job_args(mix_dir, out, job))],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for job in (1, 2)]
    for proc in procs:
        _, err = proc.communicate()
        assert proc.returncode == 0, err
    assert set(read_tsv(out / "split" / "scores.1.tsv")[1]) == {"u1", "u2"}
    assert set(read_tsv(out / "split" / "scores.2.tsv")[1]) == {"u3", "u4"}

    result = run(*merge_args(mix_dir, out))
    assert result.returncode == 0, result.stderr
    header, rows = read_tsv(out / "scores.tsv")
    assert header == "utt\tpesq_wb\tstoi\tsi_sdr"
    assert list(rows) == ["u1", "u2", "u3", "u4"]
    for utt, (snr_db, _) in UTTS.items():  # the noisy mixture's SI-SDR is its SNR
        assert float(rows[utt][2]) == pytest.approx(snr_db, abs=0.5)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 4 and summary["overall"]["n"] == 4
    assert list(summary["snr"]) == ["0", "10"]
    assert summary["snr"]["0"]["n"] == 2 and summary["snr"]["0"]["si_sdr"] == pytest.approx(0, abs=0.5)
    assert summary["snr"]["10"]["si_sdr"] == pytest.approx(10, abs=0.5)
    for metric in ("pesq_wb", "stoi"):
        assert summary["snr"]["10"][metric] > summary["snr"]["0"][metric]
    assert sorted(summary["noise"]) == ["pink", "white"]
    mean_si_sdr = np.mean([float(r[2]) for r in rows.values()])
    assert summary["overall"]["si_sdr"] == pytest.approx(mean_si_sdr, abs=1e-5)
    text = (out / "summary.txt").read_text()
    assert "overall" in text and "snr=10" in text and "noise=pink" in text


def test_resume_keeps_finished_lines_and_redoes_the_partial_one(mix_dir, tmp_path):
    out = tmp_path / "score"
    (out / "split").mkdir(parents=True)
    job_file = out / "split" / "scores.1.tsv"
    # u1 finished (a sentinel no real scoring gives), u2 cut off mid-line by a kill
    job_file.write_text("utt\tpesq_wb\tstoi\tsi_sdr\nu1\t9.500000\t0.123456\t77.000000\nu2\t1.23")
    main([str(a) for a in job_args(mix_dir, out, 1)])  # in-process: the subprocess path is tested above
    lines = job_file.read_text().splitlines()
    assert lines[:2] == ["utt\tpesq_wb\tstoi\tsi_sdr", "u1\t9.500000\t0.123456\t77.000000"]
    assert len(lines) == 3
    utt, pesq, stoi, si_sdr = lines[2].split("\t")
    assert utt == "u2" and float(si_sdr) == pytest.approx(10, abs=0.5) and 1.0 < float(pesq) < 4.6

    # a finished job is not rescored at all: the file is unchanged by a rerun
    before = job_file.read_text()
    main([str(a) for a in job_args(mix_dir, out, 1)])
    assert job_file.read_text() == before

    main([str(a) for a in job_args(mix_dir, out, 2)])
    main([str(a) for a in merge_args(mix_dir, out)])
    assert read_tsv(out / "scores.tsv")[1]["u1"] == ["9.500000", "0.123456", "77.000000"]


def test_estimate_without_reference_is_an_error_naming_the_utt(mix_dir, tmp_path):
    est = tmp_path / "est.scp"
    est.write_text((mix_dir / "wav.scp").read_text() + f"u9 {mix_dir / 'audio' / 'u1_mix.wav'}\n")
    result = run("--ref_scp", mix_dir / "spk1.scp", "--est_scp", est, "--out_dir", tmp_path / "s")
    assert result.returncode == 1
    assert "ERROR" in result.stderr and "u9" in result.stderr
    assert str(mix_dir / "spk1.scp") in result.stderr and str(est) in result.stderr


def test_length_mismatch_names_utt_and_both_lengths(mix_dir, tmp_path):
    short = tmp_path / "short.wav"
    save_audio(short, speechlike(int(1.2 * SR) - 5, seed=0), SR)
    est = tmp_path / "est.scp"
    write_kv(est, {"u1": str(short)})
    with pytest.raises(KdError, match=r"u1.*19200 samples.*19195"):
        main(["--ref_scp", str(mix_dir / "spk1.scp"), "--est_scp", str(est),
              "--out_dir", str(tmp_path / "s")])


def test_merge_reports_unscored_utterances_and_their_job(mix_dir, tmp_path):
    out = tmp_path / "score"
    main([str(a) for a in job_args(mix_dir, out, 1)] + ["--metrics", "si_sdr"])
    with pytest.raises(KdError, match="job 2 of 2 has not run"):
        main([str(a) for a in merge_args(mix_dir, out)] + ["--metrics", "si_sdr"])
    job2 = out / "split" / "scores.2.tsv"
    job2.write_text("utt\tsi_sdr\nu3\t1.0\n")
    with pytest.raises(KdError, match=r"1 utterance\(s\).*not scored \(e.g. u4\); rerun job\(s\) 2 of 2"):
        main([str(a) for a in merge_args(mix_dir, out)] + ["--metrics", "si_sdr"])
    job2.write_text("utt\tstoi\nu3\t0.5\nu4\t0.5\n")
    with pytest.raises(KdError, match="scores.2.tsv:1: written for metrics stoi, this run asks for si_sdr"):
        main([str(a) for a in merge_args(mix_dir, out)])  # metrics taken from job 1's file


def test_job_file_from_other_metrics_or_split_is_refused(mix_dir, tmp_path):
    out = tmp_path / "score"
    (out / "split").mkdir(parents=True)
    job_file = out / "split" / "scores.1.tsv"
    job_file.write_text("utt\tstoi\nu1\t0.5\n")
    with pytest.raises(KdError, match="written for metrics stoi"):
        main([str(a) for a in job_args(mix_dir, out, 1)])
    job_file.write_text("utt\tpesq_wb\tstoi\tsi_sdr\nu4\t1\t0.5\t3\n")
    with pytest.raises(KdError, match="outside job 1 of 2"):
        main([str(a) for a in job_args(mix_dir, out, 1)])
    assert os.path.exists(job_file)


def test_resume_after_kill_inside_the_header_or_a_character(tmp_path):
    from kdspeech.metrics.scores import open_for_resume

    path = tmp_path / "scores.1.tsv"
    path.write_text("utt\tsi_s")  # killed while writing the header
    handle, done = open_for_resume(path, ["si_sdr"])
    handle.close()
    assert done == {} and path.read_text() == "utt\tsi_sdr\n"
    path.write_bytes("utt\tsi_sdr\nu1\t1.000000\nü".encode()[:-1])  # half of a 2-byte character
    handle, done = open_for_resume(path, ["si_sdr"])
    handle.close()
    assert done == {"u1": [1.0]} and path.read_text() == "utt\tsi_sdr\nu1\t1.000000\n"


def test_silent_estimate_scores_nan_and_is_left_out_of_the_means(mix_dir, tmp_path):
    silent = tmp_path / "silent.wav"
    save_audio(silent, np.zeros(int(1.2 * SR)), SR)
    est = dict(line.split(" ", 1) for line in (mix_dir / "wav.scp").read_text().splitlines())
    est["u1"] = str(silent)
    write_kv(tmp_path / "est.scp", est)
    out = tmp_path / "score"
    common = ["--est_scp", str(tmp_path / "est.scp"), "--out_dir", str(out), "--metrics", "pesq_wb,si_sdr"]
    main(["--ref_scp", str(mix_dir / "spk1.scp"), *common])
    main(["--merge", *common])
    _, rows = read_tsv(out / "scores.tsv")
    assert rows["u1"] == ["nan", "nan"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["nan"] == {"pesq_wb": ["u1"], "si_sdr": ["u1"]}
    others = [float(rows[u][0]) for u in ("u2", "u3", "u4")]
    assert summary["overall"]["pesq_wb"] == pytest.approx(np.mean(others), abs=1e-5)
    assert "undefined (NaN" in (out / "summary.txt").read_text()


def test_score_enh_is_an_alias_of_score(mix_dir, tmp_path):
    out = tmp_path / "score"
    args = ["--ref_scp", mix_dir / "spk1.scp", "--est_scp", mix_dir / "wav.scp", "--out_dir", out,
            "--metrics", "si_sdr"]
    result = subprocess.run([sys.executable, "-m", "kdspeech.bin.score_enh", *map(str, args)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    main([str(a) for a in ["--merge", "--est_scp", mix_dir / "wav.scp", "--out_dir", out]])
    _, rows = read_tsv(out / "scores.tsv")
    assert float(rows["u2"][0]) == pytest.approx(10, abs=0.5)


def test_intrusive_metric_without_ref_scp_is_an_error(mix_dir, tmp_path):
    with pytest.raises(KdError, match="--ref_scp is required by the intrusive metric\\(s\\) pesq_wb"):
        main(["--est_scp", str(mix_dir / "wav.scp"), "--out_dir", str(tmp_path / "s"),
              "--metrics", "dnsmos_ovrl,pesq_wb"])


def test_merge_loads_no_metric_library(mix_dir, tmp_path):
    # the merge used to import PESQ, pystoi and scipy (most of its time): now it reads text only
    out = tmp_path / "score"
    main([str(a) for a in job_args(mix_dir, out, 1, nj=1)] + ["--metrics", "si_sdr"])
    code = ("import sys; from kdspeech.bin.score import main; "
            f"main(['--merge', '--est_scp', {str(mix_dir / 'wav.scp')!r}, '--out_dir', {str(out)!r}, "
            f"'--data', {str(mix_dir)!r}]); "
            "print(sorted({'pesq', 'pystoi', 'scipy', 'numpy', 'soundfile', 'torch', 'jiwer', "
            "'onnxruntime'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert json.loads((out / "summary.json").read_text())["n"] == 4


def test_dnsmos_needs_no_reference(mix_dir, tmp_path):
    pytest.importorskip("speechmos")
    out = tmp_path / "score"
    est = tmp_path / "est.scp"
    write_kv(est, {u: p for u, p in (l.split(" ", 1) for l in (mix_dir / "wav.scp").read_text().splitlines())
                   if u in ("u1", "u2")})
    main(["--est_scp", str(est), "--out_dir", str(out), "--metrics", "dnsmos_bak,dnsmos_p808"])
    main(["--merge", "--est_scp", str(est), "--out_dir", str(out)])
    header, rows = read_tsv(out / "scores.tsv")
    assert header == "utt\tdnsmos_bak\tdnsmos_p808"
    # u1 is at 0 dB SNR, u2 at 10 dB: less background noise rates higher
    assert 1.0 <= float(rows["u1"][0]) < float(rows["u2"][0]) <= 5.0


@pytest.fixture
def speech_dir(corpora, tmp_path):
    """Three real utterances of the SpeechBrain test sentences with their transcripts."""
    src = corpora / "asr" / "speechbrain"
    text = dict(line.split(" ", 1) for line in (src / "text").read_text().splitlines())
    wavs = dict(line.split(" ", 1) for line in (src / "wav.list").read_text().splitlines())
    utts = ["spk1_snt1", "spk2_snt3", "spk2_snt4"]
    root = tmp_path / "speech"
    write_kv(root / "wav.scp", {u: str(src / wavs[u]) for u in utts})
    write_kv(root / "text", {u: text[u] for u in utts})
    write_kv(root / "train_text", text)  # all 12 sentences: the "training text" of the LM
    return root


def test_wer_cer_jobs_pool_counts_and_keep_hypotheses(speech_dir, tmp_path):
    pytest.importorskip("pocketsphinx")
    out = tmp_path / "asr"
    common = ["--est_scp", str(speech_dir / "wav.scp"), "--out_dir", str(out), "--metrics", "wer,cer",
              "--text", str(speech_dir / "text"), "--nj", "2"]
    for job in (1, 2):
        main([*common, "--job", str(job)])
    main(["--merge", *common])
    header, rows = read_tsv(out / "scores.tsv")
    assert header == "utt\twer\twer_errors\twer_words\tcer\tcer_errors\tcer_chars"
    errors = sum(float(r[1]) for r in rows.values())
    words = sum(float(r[2]) for r in rows.values())
    assert words == 7 + 8 + 7  # the three reference transcripts
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["wer"] == pytest.approx(errors / words)  # pooled, not a mean of ratios
    assert summary["overall"]["wer_words"] == words
    assert summary["overall"]["wer"] != pytest.approx(np.mean([float(r[0]) for r in rows.values()]))
    hyps = dict(line.split(" ", 1) for line in (out / "hyp.txt").read_text().splitlines())
    assert list(hyps) == ["spk1_snt1", "spk2_snt3", "spk2_snt4"]
    assert hyps["spk1_snt1"] == "the child almost heard the small dog"  # corpora README's decode
    assert float(rows["spk1_snt1"][1]) == 1  # hurt -> heard


def test_wer_with_a_language_model_from_training_text_resumes(speech_dir, tmp_path):
    pytest.importorskip("pocketsphinx")
    out = tmp_path / "asr"
    common = ["--est_scp", str(speech_dir / "wav.scp"), "--out_dir", str(out), "--metrics", "wer",
              "--text", str(speech_dir / "text"), "--asr_lm_text", str(speech_dir / "train_text")]
    (out / "split").mkdir(parents=True)
    # killed after spk1_snt1 (a sentinel score) and while writing the next hypothesis
    (out / "split" / "scores.1.tsv").write_text("utt\twer\twer_errors\twer_words\n"
                                                "spk1_snt1\t0.500000\t7.000000\t14.000000\n")
    (out / "split" / "hyp.1.txt").write_text("spk1_snt1 sentinel words\nspk2_snt3 tear a thi")
    main(common)
    main(["--merge", *common])
    assert (out / "asr_lm" / "lm.arpa").exists()
    _, rows = read_tsv(out / "scores.tsv")
    assert rows["spk1_snt1"] == ["0.500000", "7.000000", "14.000000"]  # not rescored
    assert rows["spk2_snt3"][:2] == ["0.000000", "0.000000"]  # the in-domain LM gets these right
    assert rows["spk2_snt4"][:2] == ["0.000000", "0.000000"]
    hyps = (out / "hyp.txt").read_text().splitlines()
    assert hyps == ["spk1_snt1 sentinel words", "spk2_snt3 tear a thin sheet from the yellow pad",
                    "spk2_snt4 mend the coat before you go out"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["wer"] == pytest.approx(7 / (14 + 8 + 7))


def test_trial_metrics_alone_and_at_merge(mix_dir, tmp_path):
    trials, scores = tmp_path / "trials", tmp_path / "scores"
    trials.write_text("e1 t1 target\ne1 t2 nontarget\ne2 t3 target\ne2 t4 nontarget\n")
    scores.write_text("e1 t1 0.9\ne1 t2 0.6\ne2 t3 0.4\ne2 t4 0.1\n")
    out = tmp_path / "spk"
    main(["--metrics", "eer,min_dcf", "--trials", str(trials), "--trial_scores", str(scores),
          "--out_dir", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"]["eer"] == pytest.approx(0.5)  # see tests/test_trials.py
    assert summary["trials"]["n_target"] == 2 and summary["trials"]["n_nontarget"] == 2
    assert "eer 0.5000" in (out / "summary.txt").read_text()
    # with per-utterance metrics: the trials are summarised by the merge
    out = tmp_path / "both"
    main([str(a) for a in job_args(mix_dir, out, 1, nj=1)] + ["--metrics", "si_sdr"])
    main(["--merge", "--est_scp", str(mix_dir / "wav.scp"), "--out_dir", str(out), "--metrics",
          "si_sdr,eer", "--trials", str(trials), "--trial_scores", str(scores)])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"] == ["si_sdr"] and summary["trials"]["metrics"] == ["eer"]
