"""kdspeech.bin.make_results_pse on a synthetic exp tree: Table I means, the paper's numbers beside
ours, p-values equal to kdspeech.metrics.paired's on the same scores, the light-similarity verdict,
the alpha-sweep PNG and the deployment rows."""

import json
from pathlib import Path

import numpy as np
import pytest

from kdspeech.bin.make_results_pse import main
from kdspeech.errors import KdError
from kdspeech.metrics import paired
from kdspeech.metrics.scores import summarize, write_scores, write_summary

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "egs/dns5/pse/conf/paper_results.yaml"
UTTS = [f"u{i:02d}" for i in range(30)]


def score_dir(path, values):
    """A score dir as kdspeech.bin.score --merge writes it: scores.tsv and summary.json."""
    metrics = list(values)
    rows = {u: [float(values[m][i]) for m in metrics] for i, u in enumerate(UTTS)}
    path.mkdir(parents=True)
    write_scores(path / "scores.tsv", metrics, rows)
    write_summary(path, summarize(metrics, rows))
    return path


def scores(rng, shift, intrusive=True):
    out = {"pdnsmos_sig": 3.6 + shift + 0.1 * rng.standard_normal(30),
           "pdnsmos_bak": 3.2 + 2 * shift + 0.1 * rng.standard_normal(30),
           "pdnsmos_ovrl": 2.9 + shift + 0.1 * rng.standard_normal(30)}
    if intrusive:
        out.update(pesq_wb=2.0 + shift + 0.2 * rng.standard_normal(30), stoi=0.85 + 0.01 * rng.standard_normal(30),
                   si_sdr=10 + shift + rng.standard_normal(30))
    return out


@pytest.fixture
def tree(tmp_path):
    rng = np.random.default_rng(0)
    data = {("pdfnet2", "synth"): scores(rng, 0.0), ("light_scaled", "synth"): scores(rng, 0.1),
            ("pdfnet2", "track1"): scores(rng, 0.0, False), ("light_scaled", "track1"): scores(rng, 0.0, False)}
    dirs = {key: score_dir(tmp_path / key[0] / f"score_{key[1]}", values) for key, values in data.items()}
    for alpha in (1, 2, 6, 10):
        score_dir(tmp_path / "light_scaled" / f"test_a{alpha}", scores(rng, 0.02 * alpha, False))
        score_dir(tmp_path / "light_scaled" / f"valid_a{alpha}", scores(rng, 0.02 * alpha, False))
    deploy = {"seconds": 1.0, "sr": 16000, "num_threads": 1, "repeats": 3, "cpu": "test cpu", "models": [
        {"model": "exp/pdfnet2", "parameters": 2_230_000, "macs_per_second": 3.3e8, "rtf": 0.02,
         "onnx_status": "ok", "onnx_max_abs_diff": 1e-6, "onnx_rtf": 0.01},
        {"model": "exp/light [enhancer]", "part": "enhancer", "parameters": 2_230_000, "macs_per_second": 3.3e8,
         "rtf": 0.02, "onnx_status": "ok", "onnx_max_abs_diff": 1e-6, "onnx_rtf": 0.01},
        {"model": "exp/light [enhancer+encoder]", "part": "enhancer+encoder", "parameters": 2_380_000,
         "macs_per_second": 3.7e8, "rtf": 0.025, "onnx_status": "ok", "onnx_max_abs_diff": 2e-6, "onnx_rtf": 0.012}]}
    (tmp_path / "deploy.json").write_text(json.dumps(deploy))
    return tmp_path, data, dirs


def run(tmp_path, dirs, *extra):
    out = tmp_path / "RESULTS.md"
    argv = ["--out", str(out), "--plot_dir", str(tmp_path / "images"), "--baseline", "pdfnet2",
            "--light", "light_scaled", "--paper", str(PAPER), "--deploy", str(tmp_path / "deploy.json"),
            "--deploy_row", "pdfnet2=exp/pdfnet2", "--deploy_row", "light_scaled=exp/light [enhancer+encoder]",
            "--encoders", "pdfnet2=ECAPA/-", "--encoders", "light_scaled=ECAPA/TinyECAPA", *extra]
    for (name, test_set), path in dirs.items():
        argv += ["--system", f"{name}:{test_set}={path}"]
    assert main(argv) == 0
    return out.read_text()


def table_row(md, first_cell):
    line = next(line for line in md.splitlines() if line.startswith(f"| {first_cell} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_results_tables_paper_numbers_and_paired_tests(tree):
    tmp_path, data, dirs = tree
    md = run(tmp_path, dirs)
    assert md.startswith("# Personalized speech enhancement") and "## Environments" in md
    assert "python -m kdspeech.bin.make_results_pse --out" in md
    header = table_row(md, "system")
    assert header[:6] == ["system", "reference", "on-the-fly", "synth PDNSMOS SIG", "synth PDNSMOS BAK",
                          "synth PDNSMOS OVRL"]
    assert "synth PESQ-WB" in header and "track1 PDNSMOS OVRL" in header and "track2 PDNSMOS SIG" in header
    assert "track1 PESQ-WB" not in header  # no clean reference on the blind tracks
    row = dict(zip(header, table_row(md, "light_scaled")))
    assert row["reference"] == "ECAPA" and row["on-the-fly"] == "TinyECAPA"
    for (test_set, metric) in (("synth", "pdnsmos_ovrl"), ("synth", "si_sdr"), ("track1", "pdnsmos_bak")):
        col = f"{test_set} {dict(pdnsmos_ovrl='PDNSMOS OVRL', si_sdr='SI-SDR (dB)', pdnsmos_bak='PDNSMOS BAK')[metric]}"
        assert row[col] == f"{np.mean(data[('light_scaled', test_set)][metric]):.2f}"
    assert row["params (M)"] == "2.38" and row["MACs (G/s)"] == "0.37" and row["track2 PDNSMOS SIG"] == "-"
    paper = dict(zip(header, table_row(md, "pDeepFilterNet2 + light similarity (alpha 6) (paper)")))
    assert (paper["track1 PDNSMOS OVRL"], paper["track2 PDNSMOS BAK"], paper["params (M)"]) == ("3.13", "3.19", "2.38")
    assert table_row(md, "E3Net (paper)")[-2:] == ["6.62", "11.08"]
    # paired tests: the same numbers as paired.compare on the same per-utterance scores
    for test_set, metric, name in (("synth", "pdnsmos_ovrl", "PDNSMOS OVRL"), ("synth", "pesq_wb", "PESQ-WB"),
                                   ("track1", "pdnsmos_sig", "PDNSMOS SIG")):
        expected = paired.compare(data[("light_scaled", test_set)][metric], data[("pdfnet2", test_set)][metric])
        line = next(line for line in md.splitlines()
                    if line.startswith(f"| light_scaled - pdfnet2 | {test_set} | {name} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[6] == paired.format_diff(expected) and cells[7] == paired.format_p(expected.p_value)
    synth = paired.compare(data[("light_scaled", "synth")]["pdnsmos_ovrl"], data[("pdfnet2", "synth")]["pdnsmos_ovrl"])
    assert synth.p_value < 0.05
    assert (f"On synthetic test set, light_scaled improved PDNSMOS OVRL over pdfnet2: {synth.mean_baseline:.3f} -> "
            f"{synth.mean_system:.3f} ({paired.format_diff(synth)}, Wilcoxon p {paired.format_p(synth.p_value)}, "
            f"30 utterances), one seed: not a verdict") in md
    # deployment rows from deploy.json
    assert table_row(md, "exp/light [enhancer+encoder]")[1:6] == ["enhancer+encoder", "2.38", "0.37", "0.025", "ok"]


def test_alpha_sweep_figure_and_table(tree):
    tmp_path, _, dirs = tree
    extra = []
    for alpha in (1, 2, 6, 10):
        extra += ["--alpha", f"{alpha}={tmp_path / 'light_scaled' / f'test_a{alpha}'}",
                  "--alpha_valid", f"{alpha}={tmp_path / 'light_scaled' / f'valid_a{alpha}'}"]
    md = run(tmp_path, dirs, *extra, "--alpha_chosen", "6")
    png = tmp_path / "images" / "fig3_sig_vs_bak_alpha.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![SIG vs BAK by alpha](images/fig3_sig_vs_bak_alpha.png)" in md
    summary = json.loads((tmp_path / "light_scaled/test_a6/summary.json").read_text())["overall"]
    row = table_row(md, "6 (chosen)")
    assert row[4] == f"{summary['pdnsmos_sig']:.3f}" and row[5] == f"{summary['pdnsmos_bak']:.3f}"


def test_alpha_is_chosen_on_the_validation_set_when_not_given(tree):
    tmp_path, _, dirs = tree
    extra, valid = [], {}
    for alpha in (1, 2, 6, 10):
        extra += ["--alpha", f"{alpha}={tmp_path / 'light_scaled' / f'test_a{alpha}'}",
                  "--alpha_valid", f"{alpha}={tmp_path / 'light_scaled' / f'valid_a{alpha}'}"]
        summary = json.loads((tmp_path / "light_scaled" / f"valid_a{alpha}" / "summary.json").read_text())
        valid[alpha] = summary["overall"]["pdnsmos_bak"]
    best = max(valid, key=valid.get)
    md = run(tmp_path, dirs, *extra, "--alpha_metric", "pdnsmos_bak")
    assert table_row(md, f"{best} (chosen)")
    assert f"chosen: {best}, the highest validation" in md
    assert sum(line.count("(chosen)") for line in md.splitlines()) == 1


def test_errors_name_the_problem(tree):
    tmp_path, _, dirs = tree
    with pytest.raises(KdError, match="--baseline pdfnet3 is not one of the --system names"):
        run(tmp_path, dirs, "--baseline", "pdfnet3")
    with pytest.raises(KdError, match="--deploy_row x=nope: no such row"):
        run(tmp_path, dirs, "--deploy_row", "x=nope")
    with pytest.raises(KdError, match="no summary.json"):
        run(tmp_path, dirs, "--alpha", f"3={tmp_path / 'missing'}")


def test_deploy_rows_default_to_the_systems_exp_dirs(tree):
    from kdspeech.report.pse_deploy import deploy_rows

    tmp_path, _, _ = tree
    rows, _, _ = deploy_rows(str(tmp_path / "deploy.json"), {}, ["pdfnet2", "light", "e3net"])
    assert rows["pdfnet2"]["parameters"] == 2_230_000
    assert rows["light"]["part"] == "enhancer+encoder"      # the whole system, encoder included
    assert "e3net" not in rows                               # not deployed: no row, no guess


def test_deployment_section_carries_the_streaming_table_when_the_models_were_streamed():
    from kdspeech.report.pse_deploy import deployment_section

    rows = [{"model": "exp/light [enhancer+encoder]", "part": "enhancer+encoder", "parameters": 2_380_000,
             "macs_per_second": 3.7e8, "rtf": 0.025, "onnx_status": "ok", "onnx_max_abs_diff": 2e-6, "onnx_rtf": 0.01}]
    report = {"seconds": 1.0, "sr": 16000, "num_threads": 1, "repeats": 3, "cpu": "test cpu", "models": rows}
    plain = deployment_section(rows, report)
    assert "Streaming" not in plain
    stream = {"model": "exp/light", "stream_status": "ok", "hop_ms": 10.0, "latency_ms": 50.0, "seconds": 3.0,
              "torch_hop_mean_ms": 5.5, "torch_hop_p99_ms": 8.9, "torch_rtf": 0.55, "onnx_hop_mean_ms": 1.5,
              "onnx_hop_p99_ms": 5.1, "onnx_rtf": 0.15, "state_bytes": 4096, "parameters": 325_457,
              "macs_per_second": 5.2e7, "onnx_max_abs_diff": 3.5e-7, "onnx_tolerance": 1e-4}
    cannot = {"model": "exp/pooled", "stream_status": "cannot stream", "stream_error": "exp/pooled: pools over the clip"}
    text = deployment_section(rows, {**report, "stream_warmup_hops": 5, "stream_onnx_rtol": 1e-4,
                                     "streaming": [stream, cannot]})
    assert text.startswith(plain)
    line = next(line for line in text.splitlines() if line.startswith("| exp/light |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1:4] == ["10", "50.00", "5.50 / 8.90"] and cells[-1] == "ok"
    assert "Cannot stream: exp/pooled: pools over the clip." in text
