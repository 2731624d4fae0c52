"""make_results_enh: rows side by side are figures of the same utterances (a teacher scored on its SNR
range sits beside the whole-set systems restricted to its utterances), and WER is a corpus rate (total
errors / total reference words) in every table: overall, noise x SNR, pooled test sets, paired tests."""

import numpy as np
import pytest

from kdspeech.bin import make_results_enh
from kdspeech.data.datadir import write_kv
from kdspeech.metrics.scores import summarize, write_scores, write_summary
from kdspeech.report.enh_paper import pooled_systems

COLUMNS = ["stoi", "wer", "wer_errors", "wer_words"]
SNR = {f"u{i}": "-5" if i <= 4 else "5" for i in range(1, 9)}
NOISE = {f"u{i}": "babble" if i in (1, 2, 5, 6) else "pink" for i in range(1, 9)}
WORDS = {f"u{i}": w for i, w in zip(range(1, 9), (10, 1, 10, 1, 10, 1, 10, 1))}


def score_dir(path, stoi, errors):
    """A score dir of the utterances of ``stoi`` ({utt: value}) with WER counts ``errors``."""
    rows = {u: [stoi[u], errors[u] / WORDS[u], errors[u], WORDS[u]] for u in stoi}
    path.mkdir(parents=True)
    write_scores(path / "scores.tsv", COLUMNS, rows)
    utts = sorted(rows)
    groups = {"snr": ("utt2snr", {u: SNR[u] for u in utts}), "noise": ("utt2noise", {u: NOISE[u] for u in utts})}
    write_summary(path, summarize(COLUMNS, rows, groups))
    return path


def table_rows(text, heading, table=0):
    """The rows (header first) of the ``table``-th table of the section ``heading``."""
    part = text[text.index(f"## {heading}\n"):]
    part = part[:part.find("\n## ", 3)] if "\n## " in part[3:] else part
    tables = [t for t in part.split("\n\n") if t.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in tables[table].splitlines()
            if line.startswith("| ")]


def test_a_teacher_on_its_snr_range_sits_beside_the_others_on_the_same_utterances(tmp_path):
    utts = sorted(SNR)
    # the low-SNR half is hard: the noisy input's STOI there is 0.3, elsewhere 0.9
    noisy = {u: 0.3 if SNR[u] == "-5" else 0.9 for u in utts}
    noisy_dir = score_dir(tmp_path / "noisy", noisy, {u: WORDS[u] // 2 for u in utts})
    student = score_dir(tmp_path / "s2", {u: noisy[u] + 0.05 for u in utts}, {u: 1 for u in utts})
    low = [u for u in utts if SNR[u] == "-5"]
    teacher = score_dir(tmp_path / "teacher_1", {u: noisy[u] + 0.1 for u in low}, {u: 0 for u in low})
    mix = tmp_path / "mix"
    write_kv(mix / "utt2snr", SNR)
    write_kv(mix / "utt2noise", NOISE)
    out = tmp_path / "RESULTS.md"
    make_results_enh.main(["--system", f"noisy/test={noisy_dir}", "--system", f"s2/test={student}",
                           "--system", f"teacher_1/test={teacher}", "--compare", "s2/test:noisy/test",
                           "--noise_snr", f"s2/test={mix}", "--out", str(out), "--plot_dir", str(tmp_path / "plots")])
    text = out.read_text()

    overall = table_rows(text, "Overall")
    assert [r[0] for r in overall[1:]] == ["noisy/test", "s2/test"]    # no teacher among the whole-set rows
    # the whole set's noisy STOI (0.6) would sit above the teacher's 0.4; on the teacher's utterances it is 0.3
    subset = table_rows(text, "Overall", 1)
    assert subset[0] == ["utterances of (n)", "system", "STOI", "WER"]
    assert subset[1][:3] == ["teacher_1/test (4)", "teacher_1/test", "0.400"]
    assert subset[2][:3] == ["teacher_1/test (4)", "noisy/test", "0.300"]
    assert subset[3][:3] == ["teacher_1/test (4)", "s2/test", "0.350"]
    assert subset[2][3] == f"{(5 + 0 + 5 + 0) / 22:.3f}"               # noisy's WER on those 4 utterances
    by_noise = table_rows(text, "STOI by noise type")
    assert by_noise[0] == ["noise type", "noisy/test", "s2/test"]   # the teacher scored half of each noise type
    by_snr = table_rows(text, "STOI by input SNR")
    assert by_snr[0] == ["input SNR (dB)", "noisy/test", "s2/test", "teacher_1/test"]
    assert by_snr[1] == ["-5", "0.300", "0.350", "0.400"] and by_snr[2][3] == "-"

    # WER: corpus rates, in the overall table, the noise x SNR table and the paired test
    wer_noisy = sum(WORDS[u] // 2 for u in utts) / sum(WORDS.values())
    assert overall[1][2] == f"{wer_noisy:.3f}" and overall[2][2] == f"{8 / 44:.3f}"
    assert np.mean([1 / WORDS[u] for u in utts]) > 0.5          # the mean of ratios would say 0.550
    noise_snr = text[text.index("## s2/test: by noise type and input SNR"):]
    wer_table = noise_snr[noise_snr.index("WER\n"):]
    assert f"| -5 | {2 / 11:.3f} | {2 / 11:.3f} |" in wer_table    # a mean of ratios: (0.1 + 1) / 2 = 0.55
    assert f"| all | {4 / 22:.3f} | {4 / 22:.3f} |" in wer_table
    paired_row = next(r for r in table_rows(text, "Paired comparisons") if r[1] == "WER")
    assert paired_row[3] == f"{wer_noisy:.3f}" and paired_row[4] == f"{8 / 44:.3f}"
    assert paired_row[5].startswith(f"{8 / 44 - wer_noisy:+.3f} [")


def test_test_sets_pooled_for_a_paper_add_errors_and_words():
    part = {"overall": {"wer": 0.5, "wer_errors": 5, "wer_words": 10, "stoi": 0.8, "n": 2}}
    other = {"overall": {"wer": 0.0, "wer_errors": 0, "wer_words": 90, "stoi": 0.6, "n": 2}}
    pooled, parts = pooled_systems({"m/seen": part, "m/unseen": other}, {"all": ["seen", "unseen"]},
                                   {"m/all (paper)": {}})
    overall = pooled["m/all"]["overall"]
    assert parts == {"m/all": ["m/seen", "m/unseen"]}
    assert overall["wer"] == pytest.approx(5 / 100) and overall["wer_words"] == 100   # not (0.5 + 0.0) / 2
    assert overall["stoi"] == pytest.approx(0.7) and overall["n"] == 4
