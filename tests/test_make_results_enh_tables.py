"""make_results_enh's paper tables: noise x SNR from per-utterance scores, validation curves by epoch."""

import json

import numpy as np
import pytest

from kdspeech.bin import make_results_enh
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError
from kdspeech.metrics.scores import summarize, write_scores, write_summary


def score_dir(path, rows, snr, noise):
    path.mkdir(parents=True)
    write_scores(path / "scores.tsv", ["stoi"], rows)
    write_summary(path, summarize(["stoi"], rows, {"snr": ("utt2snr", snr), "noise": ("utt2noise", noise)}))
    return path


def test_noise_snr_table_and_validation_curves(tmp_path):
    snr = {"a": "-5", "b": "-5", "c": "5", "d": "5"}
    noise = {"a": "babble", "b": "pink", "c": "babble", "d": "pink"}
    rows = {"a": [0.5], "b": [0.7], "c": [0.8], "d": [float("nan")]}
    scores = score_dir(tmp_path / "score", rows, snr, noise)
    data = tmp_path / "mix"
    data.mkdir()
    write_kv(data / "utt2snr", snr)
    write_kv(data / "utt2noise", noise)
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "history.json").write_text(json.dumps([
        {"epoch": 1, "train_loss": 2.0, "valid_loss": 1.0, "eval": {"stoi": 0.65}},
        {"epoch": 2, "train_loss": 1.0, "valid_loss": 0.5, "eval": {"stoi": 0.61, "pesq_wb": 1.3}}]))
    (exp / "config.yaml").write_text("trainer: {best: {key: valid.stoi, mode: max}}\n")
    out = tmp_path / "RESULTS.md"
    make_results_enh.main(["--system", f"s2={scores}", "--noise_snr", f"s2={data}", "--curves", f"s2={exp}",
                           "--out", str(out), "--plot_dir", str(tmp_path / "plots")])
    text = out.read_text()
    table = text[text.index("## s2: by noise type and input SNR"):]
    assert "| input SNR (dB) | babble | pink |" in table
    assert "| -5 | 0.500 | 0.700 |" in table
    assert "| 5 | 0.800 | - |" in table          # NaN score left out: no value in that cell
    assert "| mean | 0.650 | 0.700 |" in table    # mean over SNRs of the cell means
    assert "## Validation STOI during training" in text and "| 2 | 0.610 |" in text
    # best.pth was chosen by validation STOI: epoch 1, although epoch 2 has the lower loss
    assert "| s2 | valid.stoi (max) | epoch 1 | 0.650 | 2 |" in text
    assert (tmp_path / "plots" / "valid_stoi_by_epoch.png").exists()
    assert (tmp_path / "plots" / "valid_pesq_wb_by_epoch.png").exists()


def test_noise_snr_needs_a_known_system_and_complete_labels(tmp_path):
    rows = {"a": [0.5]}
    scores = score_dir(tmp_path / "score", rows, {"a": "0"}, {"a": "babble"})
    data = tmp_path / "mix"
    data.mkdir()
    write_kv(data / "utt2snr", {"a": "0"})
    write_kv(data / "utt2noise", {"b": "pink"})
    base = ["--system", f"s1={scores}", "--out", str(tmp_path / "R.md"), "--plot_dir", str(tmp_path / "p")]
    with pytest.raises(KdError, match="not one of the --system names"):
        make_results_enh.main(base + ["--noise_snr", f"s2={data}"])
    with pytest.raises(KdError, match="utterance a .*no SNR or noise type"):
        make_results_enh.main(base + ["--noise_snr", f"s1={data}"])


def test_systems_join_score_dirs_and_comparisons_are_paired_tests(tmp_path):
    from scipy.stats import wilcoxon

    utts = [f"u{i}" for i in range(8)]
    snr = {u: "0" for u in utts}
    noise = {u: "pink" for u in utts}
    noisy = {u: [0.5 + 0.01 * i] for i, u in enumerate(utts)}
    gains = [0.10, 0.02, 0.07, 0.05, 0.12, 0.01, 0.09, 0.04]
    enhanced = {u: [noisy[u][0] + g] for u, g in zip(utts, gains)}
    enhanced["u7"] = [float("nan")]            # an undefined score leaves u7 out of the pair
    a = score_dir(tmp_path / "a", enhanced, snr, noise)
    b = score_dir(tmp_path / "b", noisy, snr, noise)
    asr = tmp_path / "a_asr"                    # a second scoring stage of system a: WER
    asr.mkdir()
    wer = {u: [0.1 * i] for i, u in enumerate(utts)}  # fractions, as the score verb writes them
    write_scores(asr / "scores.tsv", ["wer"], wer)
    write_summary(asr, summarize(["wer"], wer, {"snr": ("utt2snr", snr)}))
    out = tmp_path / "RESULTS.md"
    make_results_enh.main(["--system", f"enh={a},{asr}", "--system", f"noisy={b}", "--compare", "enh:noisy",
                           "--out", str(out), "--plot_dir", str(tmp_path / "plots")])
    text = out.read_text()
    assert "| system | STOI | WER | utts |" in text
    stoi_mean = sum(enhanced[u][0] for u in utts[:7]) / 7
    assert f"| enh | {stoi_mean:.3f} | 0.350 | 8 |" in text    # STOI of the 7 defined scores; WER of all 8
    diffs = gains[:7]
    p = wilcoxon(diffs).pvalue
    row = next(line for line in text.splitlines() if line.startswith("| enh - noisy | STOI |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "7"
    assert cells[5].startswith(f"{sum(diffs) / 7:+.3f} [")
    low, high = (float(x) for x in cells[5].split("[")[1].rstrip("]").split(","))
    assert 0 < low < sum(diffs) / 7 < high
    assert cells[6] == "-" and cells[7] == f"{p:.3f}"   # one seed each: no per-seed column
    assert cells[8] == "confirmed"              # neither was trained here (no history.json): utterances judge
    (tmp_path / "history.json").write_text("[]")    # a's exp dir (tmp_path) now holds a training
    make_results_enh.main(["--system", f"enh={a},{asr}", "--system", f"noisy={b}", "--compare", "enh:noisy",
                           "--out", str(out), "--plot_dir", str(tmp_path / "plots")])
    row = next(line for line in out.read_text().splitlines() if line.startswith("| enh - noisy | STOI |"))
    assert row.rstrip().endswith("| one seed: not a verdict |")
    assert "| enh - noisy | WER |" not in text   # noisy has no WER: nothing to compare
    with pytest.raises(KdError, match="not one of the --system names"):
        make_results_enh.main(["--system", f"enh={a}", "--compare", "enh:other",
                               "--out", str(out), "--plot_dir", str(tmp_path / "plots")])


def test_a_system_trained_at_three_seeds_is_compared_over_its_seeds(tmp_path):
    from kdspeech.report.specs import is_extra_seed, seed_base, seed_group

    names = ["s2/test", "s2_seed3/test", "s2_seed2/test", "s2_seed2/other", "s20/test", "noisy/test"]
    assert seed_group("s2/test", names) == ["s2/test", "s2_seed2/test", "s2_seed3/test"]
    assert seed_group("s20/test", names) == ["s20/test"]
    assert is_extra_seed("s2_seed2/test", names) and not is_extra_seed("s2_seed2/other", names)
    assert seed_base("s2_seed3/test") == "s2/test" and seed_base("light_seed2") == "light"
    assert seed_base("s20/test") == "s20/test"

    utts = [f"u{i}" for i in range(30)]
    snr, noise = {u: "0" for u in utts}, {u: "pink" for u in utts}
    rng = np.random.default_rng(0)
    noisy = {u: [float(rng.normal(1.5, 0.3))] for u in utts}
    args = ["--system", f"noisy={score_dir(tmp_path / 'noisy', noisy, snr, noise)}"]
    for name, gain in (("enh", 0.2), ("enh_seed2", -0.1), ("enh_seed3", 0.05)):   # the seeds disagree
        values = {u: [noisy[u][0] + gain + float(rng.normal(0, 0.01))] for u in utts}
        args += ["--system", f"{name}={score_dir(tmp_path / name / 'score', values, snr, noise)}"]
        (tmp_path / name / "history.json").write_text("[]")
    out = tmp_path / "RESULTS.md"
    make_results_enh.main(args + ["--compare", "enh:noisy", "--compare", "enh_seed2:noisy",
                                  "--out", str(out), "--plot_dir", str(tmp_path / "plots")])
    rows = [line for line in out.read_text().splitlines() if " - noisy" in line and line.startswith("| enh")]
    assert len(rows) == 1 and rows[0].startswith("| enh - noisy (3 seeds) | STOI | 30 |")   # one row for the seeds
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert np.allclose([float(d) for d in cells[6].split(" / ")], [0.2, -0.1, 0.05], atol=0.01)
    assert cells[8] == "not shown"       # the pooled utterances alone would confirm +0.05


def test_run_to_run_spread_is_the_largest_seed_range_of_any_system():
    from kdspeech.report.seed_spread import seed_spread_section, seed_spreads

    overall = {"s2": {"pesq_wb": 1.30, "si_sdr": 0.8}, "s2_seed2": {"pesq_wb": 1.34, "si_sdr": 0.5},
               "s2_seed3": {"pesq_wb": 1.31, "si_sdr": 0.9}, "s1": {"pesq_wb": 1.2, "si_sdr": 0.1},
               "s1_seed2": {"pesq_wb": 1.21, "si_sdr": float("nan")}, "noisy": {"pesq_wb": 1.0, "si_sdr": 0.0}}
    spreads, systems = seed_spreads(overall, ["pesq_wb", "si_sdr"], label=str.upper)
    assert spreads == pytest.approx({"PESQ_WB": 0.04, "SI_SDR": 0.4})
    assert systems == ["s2 (3 seeds)", "s1 (2 seeds)"]
    heading, text = seed_spread_section(overall, ["pesq_wb"])
    assert heading == "Run-to-run spread" and "| pesq_wb | 0.04 |" in text
    assert seed_spread_section({"a": {"m": 1.0}, "noisy": {"m": 0.0}}, ["m"]) is None


def test_a_baseline_trained_once_leaves_a_three_seed_system_without_a_verdict(tmp_path):
    utts = [f"u{i}" for i in range(30)]
    snr, noise = {u: "0" for u in utts}, {u: "pink" for u in utts}
    rng = np.random.default_rng(0)
    base = {u: [float(rng.normal(1.5, 0.3))] for u in utts}
    args = ["--system", f"crn={score_dir(tmp_path / 'crn' / 'score', base, snr, noise)}"]
    (tmp_path / "crn" / "history.json").write_text("[]")          # trained here, once
    for name in ("enh", "enh_seed2", "enh_seed3"):                   # far better at every seed
        values = {u: [base[u][0] + 0.5 + float(rng.normal(0, 0.01))] for u in utts}
        args += ["--system", f"{name}={score_dir(tmp_path / name / 'score', values, snr, noise)}"]
        (tmp_path / name / "history.json").write_text("[]")
    out = tmp_path / "RESULTS.md"
    make_results_enh.main(args + ["--compare", "enh:crn", "--out", str(out), "--plot_dir", str(tmp_path / "p")])
    row = next(line for line in out.read_text().splitlines() if line.startswith("| enh - crn"))
    assert row.startswith("| enh - crn (1 and 3 seeds) | STOI |")
    assert row.rstrip().endswith("| one seed: not a verdict |")
