"""A run's RESULTS.md against the committed one (kdspeech.results_compare, kdspeech.bin.compare_results),
the run-to-run spread section, and the copy of a run's results over the committed ones."""

import pytest

from kdspeech.bin.compare_results import main as compare_main
from kdspeech.results import SPREAD_HEADING, markdown_table, spread_section, update_committed, write_results
from kdspeech.results_compare import compare_texts, parse_number, parse_tables, read_spreads

ENV = {"date": "2026-01-01T00:00:00", "git": "abc1234", "python": "3.11.7", "command": "run.sh"}


def results_text(tmp_path, name, sections):
    path = tmp_path / name
    write_results(path, "recipe", sections, env=ENV)
    return path.read_text()


def overall(pesq_s2, stoi_s2="0.810"):
    return ("Overall", markdown_table(["system", "PESQ-WB", "STOI", "utts"],
                                      [["noisy", "1.128", "0.829", 40], ["s2", pesq_s2, stoi_s2, 40]]))


BY_SNR = ("PESQ-WB by input SNR", markdown_table(["input SNR (dB)", "noisy", "s2"],
                                                 [[-5, "1.026", "1.030"], [0, "1.035", "1.050"]]))
NOISE_SNR = ("s2: by noise type and input SNR",
             "PESQ-WB\n\n" + markdown_table(["input SNR (dB)", "babble"], [[0, "1.03"]])
             + "\nSTOI\n\n" + markdown_table(["input SNR (dB)", "babble"], [[0, "0.70"]]))


def test_tables_are_found_under_their_heading_with_captions_and_outside_code_blocks():
    text = ("# T\n\n```sh\n| not | a table |\n|---|---|\n```\n\n## A\n\n| x | y |\n|---|---:|\n| a\\|b | 1 |\n\n"
            "PESQ-WB\n\n| x | y |\n|---|---|\n| c | 2 |\n\n## A\n\n| x | y |\n|---|---|\n| d | 3 |\n")
    tables = parse_tables(text)
    assert [(t.heading, t.heading_index, t.position, t.caption) for t in tables] == [
        ("A", 0, 0, ""), ("A", 0, 1, "PESQ-WB"), ("A", 1, 0, "")]
    assert tables[0].rows == [["a|b", "1"]]
    assert [t.title for t in tables] == ["A", "A: PESQ-WB", "A (#2)"]


def test_numbers_are_read_with_units_bold_and_intervals():
    assert parse_number("1.234") == (1.234, 3)
    assert parse_number("**-0.50**") == (-0.5, 2)
    assert parse_number("12.5 %") == (12.5, 1)
    assert parse_number("-0.011 [-0.018, -0.005]") == (-0.011, 3)
    assert parse_number("\u22122") == (-2.0, 0)
    for text in ("-", "", "noisy/test", "exp/s1/score_test", "nan"):
        assert parse_number(text) is None, text


def test_spread_section_round_trips_and_rejects_bad_spreads(tmp_path):
    heading, text = spread_section({"PESQ-WB": 0.05, "SI-SDR (dB)": 0.4}, "Largest difference over seeds 1-3.")
    assert heading == SPREAD_HEADING
    assert text.startswith("Largest difference over seeds 1-3.\n\n| metric | spread |\n|---|---:|\n")
    assert read_spreads(parse_tables(results_text(tmp_path, "R.md", [(heading, text)]))) == {
        "PESQ-WB": 0.05, "SI-SDR (dB)": 0.4}
    for bad in ({}, {"PESQ-WB": -1}, {"PESQ-WB": float("nan")}):
        with pytest.raises(ValueError):
            spread_section(bad, "")


def test_each_cell_is_identical_reproduced_differs_or_has_no_stated_spread(tmp_path):
    spread = spread_section({"PESQ-WB": 0.05}, "Largest difference over 3 seeds.")
    reference = results_text(tmp_path, "ref.md", [overall("1.100"), BY_SNR, NOISE_SNR, spread])
    by_snr_ours = ("PESQ-WB by input SNR", markdown_table(["input SNR (dB)", "noisy", "s2"],
                                                          [[-5, "1.026", "1.200"], [5, "1.081", "1.090"]]))
    ours = results_text(tmp_path, "ours.md", [overall("1.140", stoi_s2="0.790"), by_snr_ours, NOISE_SNR,
                                              ("Only ours", "| a |\n|---|\n| 1 |\n")])
    report = compare_texts(ours, reference)
    cells = {(t.title, c.row, c.column): (c.difference, c.verdict) for t in report.tables for c in t.cells}
    assert cells[("Overall", "s2", "PESQ-WB")] == ("+0.040", "reproduced")        # within 0.05 (column)
    assert cells[("Overall", "s2", "STOI")] == ("-0.020", "no stated spread")
    assert cells[("Overall", "noisy", "PESQ-WB")] == ("", "identical")
    assert cells[("Overall", "s2", "utts")] == ("", "identical")
    assert cells[("PESQ-WB by input SNR", "-5", "s2")] == ("+0.170", "differs")   # the metric of the heading
    assert cells[("s2: by noise type and input SNR: PESQ-WB", "0", "babble")][1] == "identical"
    by_snr = next(t for t in report.tables if t.title == "PESQ-WB by input SNR")
    assert by_snr.only_ours == ["row 5"] and by_snr.only_reference == ["row 0"]
    sides = {t.title: t.side for t in report.tables}
    assert sides["Only ours"] == "ours"
    assert sides[f"{SPREAD_HEADING}: Largest difference over 3 seeds."] == "reference"
    summary = report.summary()
    for table in parse_tables(reference) + parse_tables(ours):
        assert f"| {table.title} |" in summary, table.title
    assert "run-to-run spread stated by the reference: PESQ-WB 0.05" in summary
    assert "PESQ-WB by input SNR | -5 | s2: ours 1.200, reference 1.030, difference +0.170: differs" in summary
    assert "## Overall\n\n| row | column | ours | reference | difference | verdict |" in report.markdown()
    assert "| s2 | STOI | 0.790 | 0.810 | -0.020 | no stated spread |" in report.markdown()


def test_rows_are_keyed_by_as_many_first_cells_as_needed_and_the_metric_cell_finds_its_spread():
    def paired(diff):
        return "## Paired comparisons\n\n" + markdown_table(
            ["comparison (A - B)", "metric", "A - B [95 % CI]", "p (Wilcoxon)"],
            [["s2 - s1", "PESQ-WB", f"{diff} [-0.010, +0.050]", "0.125"],
             ["s2 - s1", "STOI", "+0.002 [-0.001, +0.004]", "0.250"]])
    spread = "\n## Run-to-run spread\n\n| metric | spread |\n|---|---:|\n| PESQ-WB | 0.01 |\n"
    report = compare_texts(paired("+0.030"), paired("+0.010") + spread)
    cells = {(c.row, c.column): (c.ours, c.verdict) for c in report.tables[0].cells}
    assert cells == {("s2 - s1 / PESQ-WB", "A - B [95 % CI]"): ("+0.030 [-0.010, +0.050]", "differs"),
                     ("s2 - s1 / STOI", "A - B [95 % CI]"): ("+0.002 [-0.001, +0.004]", "identical"),
                     ("s2 - s1 / PESQ-WB", "p (Wilcoxon)"): ("0.125", "identical"),
                     ("s2 - s1 / STOI", "p (Wilcoxon)"): ("0.250", "identical")}


def test_mean_std_cells_are_compared_by_their_means_against_the_reference_std():
    """A "mean ± std" cell (ESC-50's Table 1: over folds and seeds) is a number, and where no spread
    is stated for its metric the reference's std is the spread its re-run should fall within."""
    assert parse_number("41.1 ± 6.9") == (41.1, 1) and parse_number("**2.7 ± 0.8 %**") == (2.7, 1)
    assert parse_number("1.5 +- 0.2") == (1.5, 1) and parse_number("± 0.2") is None

    def table(a, b):
        return "## Table 1: macro accuracy (%)\n\n" + markdown_table(["system", "1 kHz", "2 kHz"], [["CSSD", a, b]])
    cells = {c.column: (c.difference, c.verdict) for c in
             compare_texts(table("16.6 ± 3.2", "30.0 ± 1.0"), table("18.2 ± 5.7", "25.0 ± 2.0")).tables[0].cells}
    assert cells == {"1 kHz": ("-1.6", "reproduced"), "2 kHz": ("+5.0", "differs")}
    # A stated spread for the metric wins over the cell's own std.
    spread = "\n## Run-to-run spread\n\n| metric | spread |\n|---|---:|\n| macro accuracy | 1.0 |\n"
    report = compare_texts(table("16.6 ± 3.2", "25.5 ± 1.0"), table("18.2 ± 5.7", "25.0 ± 2.0") + spread)
    assert [c.verdict for c in report.tables[0].cells] == ["differs", "reproduced"]


def test_missing_cells_and_text_differences_are_named():
    def table(a, b):
        return "## T\n\n" + markdown_table(["system", "EER (%)", "verdict"], [["s2", a, b]])
    cells = {c.column: c.verdict for c in compare_texts(table("-", "better"), table("3.2", "worse")).tables[0].cells}
    assert cells == {"EER (%)": "missing in ours", "verdict": "text differs"}


def test_compare_verb_writes_the_comparison_and_updates_the_committed_copy_on_request(tmp_path, monkeypatch,
                                                                                      capsys):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "exp" / "results"
    (run / "results").mkdir(parents=True)
    (run / "RESULTS.md").write_text(results_text(tmp_path, "ours.md", [overall("1.140")]))
    (run / "results" / "plot.png").write_bytes(b"png")
    (run / "results" / ".done").write_text("stamp")
    out = tmp_path / "exp" / "compare" / "compare.md"

    # No committed results yet: said, not an error.
    assert compare_main(["--ours", str(run / "RESULTS.md"), "--reference", "RESULTS.md", "--out", str(out)]) == 0
    assert "no committed results at `RESULTS.md`" in capsys.readouterr().out
    assert not (tmp_path / "RESULTS.md").exists()

    (tmp_path / "RESULTS.md").write_text(results_text(tmp_path, "ref.md", [overall("1.100")]))
    assert compare_main(["--ours", str(run / "RESULTS.md"), "--reference", "RESULTS.md", "--out", str(out),
                         "--update", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "| Overall | 5 | 0 | 0 | 1 | 0 | - |" in printed, printed
    assert "| s2 | PESQ-WB | 1.140 | 1.100 | +0.040 | no stated spread |" in out.read_text()
    # The committed copy is now the run's, plots included; stamps stay in exp/.
    assert (tmp_path / "RESULTS.md").read_text() == (run / "RESULTS.md").read_text()
    assert (tmp_path / "results" / "plot.png").read_bytes() == b"png"
    assert not (tmp_path / "results" / ".done").exists()
    assert update_committed(run, tmp_path / "copy") == ["RESULTS.md", "results/plot.png"]
