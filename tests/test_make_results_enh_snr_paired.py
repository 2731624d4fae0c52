"""make_results_enh --compare_snr: A against B at each input SNR, each side over its seeds."""

import numpy as np
import pytest

from kdspeech.bin import make_results_enh
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError
from kdspeech.metrics.scores import summarize, write_scores, write_summary


def score_dir(path, values, snr):
    path.mkdir(parents=True)
    rows = {u: [v] for u, v in values.items()}
    write_scores(path / "scores.tsv", ["si_sdr"], rows)
    write_summary(path, summarize(["si_sdr"], rows, {"snr": ("utt2snr", snr)}))
    return str(path)


def _seed_runs(tmp_path, a_at_5db, rng):
    """Score dirs of A and B at as many seeds as ``a_at_5db`` has (A's gain at 5 dB per seed; at -5 dB it is
    +2 at every seed) and the args naming them; B is a noisy copy of one base per seed."""
    utts = [f"u{i:02d}" for i in range(40)]
    snr = {u: ("-5" if i < 20 else "5") for i, u in enumerate(utts)}
    base = {u: float(rng.normal(0, 3)) for u in utts}
    data = tmp_path / "mix"
    data.mkdir()
    write_kv(data / "utt2snr", snr)
    args, a_names, b_names = [], [], []
    for k, gain in enumerate(a_at_5db, 1):
        a = {u: base[u] + (2.0 if snr[u] == "-5" else gain) + rng.normal(0, 0.1) for u in utts}
        b = {u: base[u] + rng.normal(0, 0.1) for u in utts}
        for name, values in ((f"a{k}", a), (f"b{k}", b)):
            args += ["--system", f"{name}={score_dir(tmp_path / name, values, snr)}"]
        a_names.append(f"a{k}")
        b_names.append(f"b{k}")
    return args + ["--compare_snr", f"{'+'.join(a_names)}:{'+'.join(b_names)}={data}"], a_names, b_names


def _rows(tmp_path, args, a_names, b_names):
    out = tmp_path / "RESULTS.md"
    make_results_enh.main(args + ["--out", str(out), "--plot_dir", str(tmp_path / "plots")])
    text = out.read_text()
    section = text[text.index(f"## {' + '.join(a_names)} against {' + '.join(b_names)} by input SNR"):]
    return {line.split("|")[2].strip(): line for line in section.splitlines() if line.startswith("| SI-SDR")}


def test_seed_resampled_comparison_by_snr_gives_a_verdict_per_snr(tmp_path):
    # A: +2 dB at -5 dB at every seed; at 5 dB +1, -1 and +0.1 at seeds 1-3 (the seeds disagree)
    rows = _rows(tmp_path, *_seed_runs(tmp_path, [1.0, -1.0, 0.1], np.random.default_rng(0)))
    assert set(rows) == {"-5", "5", "all"}
    assert "| 20 |" in rows["-5"] and rows["-5"].rstrip().endswith("| A better |")
    assert "+2.0" in rows["-5"]
    assert rows["5"].rstrip().endswith("| not shown |")      # the seeds disagree
    assert "+1.0" in rows["5"].split("|")[7] and "-1.0" in rows["5"].split("|")[7]   # the per-seed column
    assert "| 40 |" in rows["all"] and rows["all"].rstrip().endswith("| A better |")


def test_two_seeds_are_not_a_verdict_however_clear(tmp_path):
    (tmp_path / "history.json").write_text("[]")   # the score dirs' exp dir holds trainings
    rows = _rows(tmp_path, *_seed_runs(tmp_path, [2.0, 2.0], np.random.default_rng(1)))
    assert all(row.rstrip().endswith("| 2 seeds: not a verdict |") for row in rows.values())


def test_compare_snr_names_known_systems_on_distinct_sides(tmp_path):
    scores = score_dir(tmp_path / "s", {"a": 1.0}, {"a": "0"})
    base = ["--system", f"x={scores}", "--system", f"y={scores}", "--out", str(tmp_path / "R.md"),
            "--plot_dir", str(tmp_path / "p")]
    with pytest.raises(KdError, match="z is not one of the --system names"):
        make_results_enh.main(base + ["--compare_snr", f"x+z:y={tmp_path}"])
    with pytest.raises(KdError, match="on both sides"):
        make_results_enh.main(base + ["--compare_snr", f"x:x+y={tmp_path}"])
    with pytest.raises(KdError, match="expected A"):
        make_results_enh.main(base + ["--compare_snr", "x:y"])
