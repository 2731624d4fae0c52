"""The SNR-based teachers-student paper's numbers (egs/librispeech/enh/conf/paper_results.yaml, Hao et
al. Tables 1-3) and how make_results_enh puts them beside ours: pooled test sets, paper columns in the
SNR and noise x SNR tables, and the list of what cannot be compared."""

from pathlib import Path

import pytest

from kdspeech.bin import make_results_enh
from kdspeech.data.datadir import write_kv
from kdspeech.metrics.scores import summarize, write_scores, write_summary

PAPER = Path(__file__).resolve().parents[1] / "egs" / "librispeech" / "enh" / "conf" / "paper_results.yaml"


def test_paper_file_holds_tables_1_to_3_consistently():
    source, paper, pools, notes = make_results_enh.load_paper(PAPER)
    assert "arXiv:2005.14441" in source and pools == {"test_all": ["test_seen", "test_unseen"]}
    assert (PAPER.parent.parent.parent.parent / "timit" / "enh" / "conf" / "paper_results.yaml").resolve() == PAPER
    table3 = {name: paper[f"{name}/test_all (paper)"]["overall"] for name in
              ("noisy", "baseline_wavenet_denoise", "baseline_psm_blstm", "baseline_crn", "student_s2")}
    assert [t["pesq_wb"] for t in table3.values()] == [1.661, 1.948, 2.020, 2.161, 2.304]
    assert [t["stoi"] for t in table3.values()] == [0.660, 0.711, 0.719, 0.723, 0.744]
    # Table 3 is the mean of Table 2's nine SNR columns (to the rounding of the printed numbers)
    for name in ("noisy", "student_s2"):
        by_snr = paper[f"{name}/test_all (paper)"]["snr"]
        assert list(by_snr) == ["-20", "-15", "-10", "-5", "0", "5", "10", "15", "20"]
        for metric in ("pesq_wb", "stoi"):
            mean = sum(v[metric] for v in by_snr.values()) / 9
            assert mean == pytest.approx(table3[name][metric], abs=1.5e-3)
    # Table 1: five seen noises, four unseen, nine SNRs each; its noise means are Table 2 within 0.006
    seen = paper["student_s2/test_seen (paper)"]["noise_snr"]["stoi"]
    unseen = paper["student_s2/test_unseen (paper)"]["noise_snr"]["stoi"]
    assert sorted(seen) == ["babble", "destroyerengine", "destroyerops", "factory1", "speech_shaped"]
    assert sorted(unseen) == ["bus", "cafe", "pedestrian", "street"]
    assert seen["babble"]["-20"] == 0.336 and unseen["street"]["15"] == 0.927
    for snr, stats in paper["student_s2/test_all (paper)"]["snr"].items():
        mean = (sum(v[snr] for v in seen.values()) + sum(v[snr] for v in unseen.values())) / 9
        assert mean == pytest.approx(stats["stoi"], abs=0.0065)
    # teachers only on their own ranges (Table 2's dashes are absent)
    assert list(paper["teacher_4/test_all (paper)"]["snr"]) == ["10", "15", "20"]
    assert any("raw P.862" in n for n in notes) and any("T4" in n for n in notes)


def score_dir(path, rows, snr, noise):
    path.mkdir(parents=True)
    write_scores(path / "scores.tsv", ["pesq_wb", "stoi"], rows)
    write_summary(path, summarize(["pesq_wb", "stoi"], rows,
                                  {"snr": ("utt2snr", snr), "noise": ("utt2noise", noise)}))
    return path


def test_paper_numbers_sit_beside_the_matching_cells_of_ours(tmp_path):
    # test_seen: 3 utterances (babble and m109 at -20 dB, babble at 20 dB); test_unseen: 1 (bus, -20 dB)
    seen_snr, seen_noise = {"a": "-20", "b": "-20", "c": "20"}, {"a": "babble", "b": "m109", "c": "babble"}
    unseen_snr, unseen_noise = {"d": "-20"}, {"d": "bus"}
    args = []
    for model, offset in (("noisy", 0.0), ("student_s2", 1.0)):
        seen = score_dir(tmp_path / model / "seen", {"a": [1.0 + offset, 0.30], "b": [2.0 + offset, 0.40],
                                                     "c": [3.0 + offset, 0.90]}, seen_snr, seen_noise)
        unseen = score_dir(tmp_path / model / "unseen", {"d": [5.0 + offset, 0.50]}, unseen_snr, unseen_noise)
        args += ["--system", f"{model}/test_seen={seen}", "--system", f"{model}/test_unseen={unseen}"]
    mix = tmp_path / "mix_seen"
    mix.mkdir()
    write_kv(mix / "utt2snr", seen_snr)
    write_kv(mix / "utt2noise", seen_noise)
    out = tmp_path / "RESULTS.md"
    make_results_enh.main(args + ["--noise_snr", f"student_s2/test_seen={mix}", "--paper", str(PAPER),
                                  "--out", str(out), "--plot_dir", str(tmp_path / "plots")])
    text = out.read_text()
    # pooled over both test sets, weighted by utterances: S2 PESQ (2 + 3 + 4 + 6) / 4 = 3.75,
    # STOI (0.3 + 0.4 + 0.9 + 0.5) / 4 = 0.525; Table 3's S2 right under it
    assert ("| student_s2/test_all | 3.750 | 0.525 | 4 |\n"
            "| student_s2/test_all (paper) | 2.304 | 0.744 | - |") in text
    assert "mean of student_s2/test_seen and student_s2/test_unseen weighted by their utterances" in text
    # by SNR: -20 dB pools 3 utterances (S2 PESQ (2 + 3 + 6) / 3), Table 2's S2 beside it
    snr = text[text.index("## PESQ-WB by input SNR"):]
    header = snr.splitlines()[2]
    columns = [c.strip() for c in header.strip("|").split("|")]
    i, j = columns.index("student_s2/test_all"), columns.index("student_s2/test_all (paper)")
    assert j == i + 1
    row = [c.strip() for c in next(l for l in snr.splitlines() if l.startswith("| -20 |")).strip("|").split("|")]
    assert row[i] == "3.667" and row[j] == "1.172"
    # Table 1 beside our noise x SNR table: babble then babble (paper); m109 has no paper column
    table = text[text.index("## student_s2/test_seen: by noise type and input SNR"):]
    assert "| input SNR (dB) | babble | babble (paper) | m109 |" in table
    assert "| -20 | 0.300 | 0.336 | 0.400 |" in table            # STOI: ours, Table 1's S2 babble -20 dB
    assert "| 20 | 0.900 | 0.941 | - |" in table
    # what cannot be compared is listed, with the file's notes
    paper = text[text.index("## Paper numbers"):]
    assert "`baseline_crn/test_all`: no system of ours" in paper
    assert "`teacher_1/test_all`: no system of ours" in paper
    assert "`noisy/test_seen`: the paper's noise x SNR numbers have no noise x SNR table of ours" in paper
    assert ("`student_s2/test_seen` STOI by noise type and SNR: no column of ours for the paper's "
            "destroyerengine, destroyerops, factory1, speech_shaped") in paper
    assert "raw P.862" in paper


def test_paper_alone_when_no_system_of_ours(tmp_path):
    """A recipe whose corpus is not here (egs/timit/enh): the paper's Tables 1-3 alone, no empty tables."""
    out = tmp_path / "RESULTS.md"
    note = tmp_path / "note.md"
    note.write_text("Nothing has been run here yet.\n")
    make_results_enh.main(["--paper", str(PAPER), "--note", str(note), "--out", str(out),
                           "--plot_dir", str(tmp_path / "plots")])
    text = out.read_text()
    assert "## Systems" not in text and "no system of ours" not in text
    assert "## About this file\n\nNothing has been run here yet." in text and "About this run" not in text
    assert "| noisy/test_all (paper) | 1.661 | 0.660 | - |" in text                       # Table 3
    by_snr = text[text.index("## STOI by input SNR"):]
    assert "| 10 | 0.831 | - | - | 0.918 | 0.964 | 0.901 | 0.903 |" in by_snr             # Table 2
    table1 = text[text.index("## student_s2/test_unseen (paper): STOI by noise type x SNR"):]
    assert table1.index("| -20 |") < table1.index("| 15 |")                               # SNRs in order
    assert "| SNR (dB) | pedestrian | bus | cafe | street |" in table1
    assert "| 15 | 0.924 | 0.924 | 0.929 | 0.927 |" in table1
    assert not (tmp_path / "plots").exists() or not list((tmp_path / "plots").glob("*.png"))
    with pytest.raises(make_results_enh.KdError, match="at least one --system"):
        make_results_enh.main(["--out", str(out), "--plot_dir", str(tmp_path / "plots")])


def test_committed_timit_results_are_the_paper_file():
    text = (PAPER.parents[3] / "timit" / "enh" / "RESULTS.md").read_text()
    assert "## About this file\n\n**Nothing has been run here yet**" in text
    assert "| student_s2/test_all (paper) | 2.304 | 0.744 | - |" in text
