"""RESULTS.md writer, PNG plots and make_results_enh from score summaries."""

import json
import math
import os

import pytest
import yaml

from kdspeech.bin.make_results_enh import main as make_results
from kdspeech.errors import KdError
from kdspeech.plot import plot_differences_by_snr, plot_learning_curves, plot_metric_by_snr, snr_panels
from kdspeech.results import markdown_table, write_results

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    with open(path, "rb") as handle:
        return handle.read(8) == PNG_SIGNATURE and os.path.getsize(path) > 1000


def test_markdown_table_formats_floats_and_aligns_numeric_columns():
    table = markdown_table(["system", "PESQ", "utts"], [["noisy", 1.23456, 4], ["a|b", math.nan, None]])
    assert table == (
        "| system | PESQ | utts |\n"
        "|---|---:|---:|\n"
        "| noisy | 1.235 | 4 |\n"
        "| a\\|b | - | - |\n"
    )
    assert "| 1.2 |" in markdown_table(["x"], [[1.23456]], floatfmt=".1f")


def test_markdown_table_rejects_ragged_rows():
    with pytest.raises(ValueError, match="row 0 has 1 cells, the header has 2"):
        markdown_table(["a", "b"], [[1]])


def test_write_results_starts_with_environment_block(tmp_path):
    path = tmp_path / "RESULTS.md"
    env = {"date": "2025-01-01T00:00:00", "git": "abc1234", "python": "3.11.7", "torch": "2.11.0",
           "command": "run.sh --stage 5"}
    write_results(path, "My recipe", [("Overall", "| a |\n|---|\n| 1 |\n")], env=env)
    text = path.read_text()
    assert text.startswith("# My recipe\n\n## Environments\n")
    assert "- date: `2025-01-01T00:00:00`" in text and "- git: `abc1234`" in text
    assert "- torch version: `2.11.0`" in text
    assert "```sh\nrun.sh --stage 5\n```" in text
    assert text.index("## Environments") < text.index("## Overall\n\n| a |")
    assert os.listdir(tmp_path) == ["RESULTS.md"]  # no temporary file left behind


def test_write_results_default_env_and_command_override(tmp_path):
    path = tmp_path / "RESULTS.md"
    write_results(path, "T", [], command="egs/x/run.sh --stage 7")
    text = path.read_text()
    for key in ("- date: `", "- git: `", "- python: `", "- numpy version: `"):
        assert key in text
    assert "```sh\negs/x/run.sh --stage 7\n```" in text


def test_plots_are_valid_pngs(tmp_path):
    systems = {"noisy": {"-5": 1.1, "0": 1.4, "5": 1.9}, "student": {-5: 1.6, 0: 2.1, 5: math.nan}}
    snr_png = plot_metric_by_snr(systems, "PESQ", tmp_path / "p" / "a.png")
    curves = {"train": [(1, 0.9), (2, 0.5), (3, 0.4)], "valid": [(1, 1.0), (3, 0.7)]}
    curve_png = plot_learning_curves(curves, "loss", tmp_path / "b.png")
    assert is_png(snr_png) and is_png(curve_png)
    assert sorted(os.listdir(tmp_path / "p")) == ["a.png"]


def test_snr_panels_split_test_sets_and_subtract_the_reference(tmp_path):
    systems = {"noisy/seen": {"-5": 1.0, "5": 2.0}, "s2/seen": {"-5": 1.5, "5": 2.25, "15": 3.0},
               "s2/unseen": {"-5": 1.2}, "alone": {"0": 4.0}}
    assert snr_panels(systems) == {"seen": {"noisy": [(-5.0, 1.0), (5.0, 2.0)],
                                            "s2": [(-5.0, 1.5), (5.0, 2.25), (15.0, 3.0)]},
                                   "unseen": {"s2": [(-5.0, 1.2)]}, "": {"alone": [(0.0, 4.0)]}}
    relative = snr_panels(systems, reference="noisy")
    # differences at the SNRs the reference has; a panel without the reference is left as it is
    assert relative["seen"] == {"noisy": [(-5.0, 0.0), (5.0, 0.0)], "s2": [(-5.0, 0.5), (5.0, 0.25)]}
    assert relative["unseen"] == {"s2": [(-5.0, 1.2)]}
    png = plot_metric_by_snr(systems, "PESQ", tmp_path / "r.png", reference="noisy")
    diff = plot_differences_by_snr({"seen": [(-5, 0.1, 0.0, 0.2), (5, float("nan"), 0, 0)]}, "d",
                                   tmp_path / "d.png")
    assert is_png(png) and is_png(diff)


def fake_summary(score_dir, offset):
    """A score_enh summary.json whose numbers grow with ``offset``."""
    def stats(base, n):
        return {"pesq_wb": 1.0 + base + offset, "stoi": 0.7 + base / 10,
                "si_sdr": 5.0 * base + offset, "n": n}
    summary = {"metrics": ["pesq_wb", "stoi", "si_sdr"], "n": 4, "overall": stats(0.5, 4),
               "snr": {"0": stats(0.0, 2), "10": stats(1.0, 2)},
               "noise": {"babble": stats(0.2, 2), "white": stats(0.8, 2)}}
    os.makedirs(score_dir, exist_ok=True)
    with open(os.path.join(score_dir, "summary.json"), "w") as handle:
        json.dump(summary, handle)


def test_make_results_enh_tables_plots_and_paper_numbers(tmp_path):
    fake_summary(tmp_path / "exp" / "noisy", 0.0)
    fake_summary(tmp_path / "exp" / "student", 1.0)
    paper = tmp_path / "paper.yaml"
    paper.write_text(yaml.safe_dump({"source": "Doe et al., Table 2", "systems": {
        "student": {"overall": {"pesq_wb": 2.75, "si_sdr": 12.5}, "snr": {10: {"pesq_wb": 3.25}}}}}))
    out = tmp_path / "egs" / "RESULTS.md"
    make_results(["--system", f"noisy={tmp_path / 'exp' / 'noisy'}",
                  "--system", f"student={tmp_path / 'exp' / 'student'}",
                  "--out", str(out), "--plot_dir", str(tmp_path / "egs" / "images"),
                  "--title", "toy enh", "--paper", str(paper)])
    text = out.read_text()
    assert text.startswith("# toy enh\n\n## Environments\n")
    assert "| system | PESQ-WB | STOI | SI-SDR (dB) | utts |" in text
    assert "| noisy | 1.500 | 0.750 | 2.500 | 4 |" in text
    assert "| student | 2.500 | 0.750 | 3.500 | 4 |\n| student (paper) | 2.750 | - | 12.500 | - |" in text
    assert "| input SNR (dB) | noisy | student | student (paper) |" in text
    assert "| 10 | 2.000 | 3.000 | 3.250 |" in text  # PESQ-WB at 10 dB
    assert "| noise type | noisy | student |\n" in text  # no paper numbers by noise: no column
    assert "| babble | 1.200 | 2.200 |\n" in text
    assert "Doe et al., Table 2" in text
    for metric in ("pesq_wb", "stoi", "si_sdr"):
        assert f"](images/{metric}_by_snr.png)" in text
        assert is_png(tmp_path / "egs" / "images" / f"{metric}_by_snr.png")


def test_make_results_enh_needs_summaries(tmp_path):
    outputs = ["--out", str(tmp_path / "R.md"), "--plot_dir", str(tmp_path)]
    with pytest.raises(KdError, match="no summary.json"):
        make_results(["--system", f"a={tmp_path}", *outputs])
    with pytest.raises(KdError, match="expected name=score_dir"):
        make_results(["--system", "noequals", *outputs])


def test_make_results_cls_writes_paired_comparisons_and_includes_deploy_md(tmp_path):
    from kdspeech.bin import make_results_cls

    exp = tmp_path / "exp"
    correct = {"init_16k": [1, 1, 1, 0], "ft_1000": [1, 0, 0, 0], "basd_1000": [1, 1, 0, 0],
               "cssd_1000": [1, 1, 1, 0]}
    for fold in ("1", "2"):
        for model, marks in correct.items():
            for rate in ((16000, 1000) if model == "init_16k" else (1000,)):
                d = exp / f"fold{fold}" / model / f"score_{rate}"
                d.mkdir(parents=True)
                acc = sum(marks) / len(marks)
                (d / "summary.json").write_text(json.dumps(
                    {"macro_accuracy": acc, "accuracy": acc, "macro_f1": acc, "num_utts": 4}))
                (d / "scores.tsv").write_text("utt\treference\tprediction\tcorrect\n" + "".join(
                    f"u{i}\tdog\t{'dog' if m else 'cat'}\t{m}\n" for i, m in enumerate(marks)))
        (exp / f"fold{fold}" / "init_16k" / "config.yaml").write_text("model: {name: mobilenetv2}\n")
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "deploy.json").write_text(json.dumps({"duration_s": 5, "num_threads": 1, "models": []}))
    (deploy / "deploy.md").write_text("| model | RTF |\n|---|---:|\n| cssd | 0.01 |\n")
    out = tmp_path / "RESULTS.md"
    make_results_cls.main(["--exp", str(exp), "--folds", "1 2", "--rates", "1000", "--out", str(out),
                           "--plot_dir", str(tmp_path / "plots"), "--deploy", str(deploy / "deploy.json")])
    text = out.read_text()
    section = text[text.index("## Paired comparisons per clip"):]
    # CSSD right on 3 of 4 clips per fold, fine-tuned on 1: +50 points over 8 clips, 4 discordant
    # clips all in CSSD's favour: exact Wilcoxon p = 2 / 2^4
    assert "| 1 kHz | cssd - ft | 8 | 25.000 | 75.000 | +50.0 [" in section
    assert "| 0.125 |" in section
    assert "| cssd | 0.01 |" in text and "## Deployment: one 5 s clip" in text
