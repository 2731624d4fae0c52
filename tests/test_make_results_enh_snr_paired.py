"""make_results_enh --compare_snr: A against B at each input SNR, each side pooled over its seeds."""

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


def test_seed_pooled_comparison_by_snr_gives_a_verdict_per_snr(tmp_path):
    rng = np.random.default_rng(0)
    utts = [f"u{i:02d}" for i in range(40)]
    snr = {u: ("-5" if i < 20 else "5") for i, u in enumerate(utts)}
    base = {u: float(rng.normal(0, 3)) for u in utts}
    # B: base; A: +2 dB at -5 dB on both seeds, at 5 dB +1 on seed 1 and -1 on seed 2 (mean 0 + noise)
    b1 = {u: base[u] + rng.normal(0, 0.1) for u in utts}
    b2 = {u: base[u] + rng.normal(0, 0.1) for u in utts}
    a1 = {u: base[u] + (2.0 if snr[u] == "-5" else 1.0) + rng.normal(0, 0.1) for u in utts}
    a2 = {u: base[u] + (2.0 if snr[u] == "-5" else -1.0) + rng.normal(0, 0.1) for u in utts}
    data = tmp_path / "mix"
    data.mkdir()
    write_kv(data / "utt2snr", snr)
    args = []
    for name, values in {"a1": a1, "a2": a2, "b1": b1, "b2": b2}.items():
        args += ["--system", f"{name}={score_dir(tmp_path / name, values, snr)}"]
    out = tmp_path / "RESULTS.md"
    make_results_enh.main(args + ["--compare_snr", f"a1+a2:b1+b2={data}", "--out", str(out),
                                  "--plot_dir", str(tmp_path / "plots")])
    text = out.read_text()
    section = text[text.index("## a1 + a2 against b1 + b2 by input SNR"):]
    rows = {line.split("|")[2].strip(): line for line in section.splitlines() if line.startswith("| SI-SDR")}
    assert set(rows) == {"-5", "5", "all"}
    assert "| 20 |" in rows["-5"] and rows["-5"].rstrip().endswith("| A better |")
    assert "+2.0" in rows["-5"]
    assert rows["5"].rstrip().endswith("| not shown |")      # the seeds disagree: pooled mean ~0
    assert "| 40 |" in rows["all"] and rows["all"].rstrip().endswith("| A better |")


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
