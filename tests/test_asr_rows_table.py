"""kdspeech.bin.asr_rows_table: corpus rates of each row (mean and range over training seeds), each row
against the baseline row paired on the same utterances with the seed rule's verdict, a missing score
dir named."""

import json

import pytest

from kdspeech.bin import asr_rows_table
from kdspeech.errors import KdError
from kdspeech.metrics.scores import write_scores

COLUMNS = ["wer", "wer_errors", "wer_words", "cer", "cer_errors", "cer_chars"]
UTTS = [f"spk{i % 10}-u{i:02d}" for i in range(40)]


def write_row(exp, row, errors, words=2, chars=10):
    out = exp / "rows" / row / "score_asr_test"
    out.mkdir(parents=True)
    rows = {u: [e / words, e, words, e / chars, e, chars] for u, e in zip(UTTS, errors)}
    write_scores(out / "scores.tsv", COLUMNS, rows)
    (out / "summary.json").write_text(json.dumps({"metrics": ["wer", "cer"], "n": len(UTTS), "overall": {}}))


def test_rows_at_three_seeds_are_compared_with_the_baseline(tmp_path):
    exp = tmp_path / "exp"
    for k, name in enumerate(["base", "base_seed2", "base_seed3"]):
        write_row(exp, name, [1 + (i + k) % 2 for i in range(40)])                 # ~1.5 errors of 2 words
    for k, name in enumerate(["better", "better_seed2", "better_seed3"]):
        write_row(exp, name, [(i + k) % 2 for i in range(40)])                     # one error fewer each
    for k, name in enumerate(["same", "same_seed2", "same_seed3"]):
        write_row(exp, name, [1 + (i + k + 1) % 2 for i in range(40)])
    text = asr_rows_table.table(exp, ["base", "better", "same"], ["test"], seeds=["1", "2", "3"])
    assert "| base | 75.00 (75.00-75.00) | 15.00 (15.00-15.00) |" in text
    assert "| better | 25.00 (25.00-25.00) |" in text
    assert "Each trained row at 3 seeds (1 2 3)" in text
    wer = text.split("## WER against base, test")[1].split("##")[0]
    better = next(line for line in wer.splitlines() if line.startswith("| better |"))
    assert "-50.00 [-50.00, -50.00]" in better and "-50.00 / -50.00 / -50.00" in better and "| confirmed |" in better
    same = next(line for line in wer.splitlines() if line.startswith("| same |"))
    assert "+0.00" in same and "| not shown |" in same


def test_the_papers_orderings_hold_reverse_or_are_not_separable(tmp_path):
    exp = tmp_path / "exp"
    for row, errors in (("mct_noisy", lambda i, k: 1 + (i + k) % 2), ("proposed", lambda i, k: (i + k) % 2),
                        ("mct_all", lambda i, k: 2), ("joint", lambda i, k: 1 + (i + k + 1) % 2)):
        for k, name in enumerate([row, f"{row}_seed2", f"{row}_seed3"]):
            write_row(exp, name, [errors(i, k) for i in range(40)])
    paper = tmp_path / "paper.tsv"
    paper.write_text("# source: Table 1, Avg.\nrow\twer\tcer\nmct_noisy\t23.06\t12.98\nproposed\t20.39\t11.38\n"
                     "mct_all\t22.71\t12.88\njoint\t22.49\t12.46\nabsent\t1\t1\n")
    text = asr_rows_table.table(exp, ["mct_noisy", "proposed", "mct_all", "joint", "extra"][:4], ["test"],
                                seeds=["1", "2", "3"], baseline="mct_noisy", paper=asr_rows_table.read_paper(paper))
    section = text.split("## The paper's orderings, test")[1]
    assert "Table 1, Avg." in section

    def line(a, b, m="WER"):
        return next(l for l in section.splitlines() if l.startswith(f"| {a} | {b} | {m} |"))
    assert line("proposed", "mct_noisy").endswith("| confirmed | holds |") and "| -2.67 |" in line("proposed", "mct_noisy")
    assert line("mct_all", "mct_noisy").endswith("| confirmed | reversed |")      # paper lower, ours higher
    assert "not separable" in line("joint", "mct_noisy")                         # the same rates
    assert line("proposed", "joint").endswith("| holds |")                       # the paper's best against the rest
    assert line("proposed", "mct_all", "CER").endswith("| holds |")
    with_extra = asr_rows_table.table(exp, ["mct_noisy", "proposed"], ["test"], seeds=["1", "2", "3"],
                                      paper=("", {"wer": {"mct_noisy": 1.0}}))
    assert "Not in the paper's table: proposed." in with_extra
    paper.write_text("row\twer\nproposed\tlow\n")
    with pytest.raises(KdError, match="line 2: wer of proposed is not a number"):
        asr_rows_table.read_paper(paper)


def test_one_seed_is_not_a_verdict_and_speakers_group_the_bootstrap(tmp_path):
    exp = tmp_path / "exp"
    write_row(exp, "mct_noisy", [2] * 40)
    write_row(exp, "proposed", [i % 3 for i in range(40)])
    data = tmp_path / "test"
    data.mkdir()
    (data / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in sorted(UTTS)))
    text = asr_rows_table.table(exp, ["mct_noisy", "proposed"], ["test"], baseline="mct_noisy", set_dirs=[data])
    assert "| proposed | 100.00 | 48.75 |" in text and "one seed: not a verdict" in text
    with pytest.raises(KdError, match="--baseline x is not one of the rows"):
        asr_rows_table.table(exp, ["mct_noisy", "proposed"], ["test"], baseline="x")


def test_a_missing_row_names_its_file_and_stage(tmp_path):
    write_row(tmp_path / "exp", "a", [1] * 40)
    with pytest.raises(KdError, match="enh_asr.sh stage 5") as err:
        asr_rows_table.table(tmp_path / "exp", ["a", "b"], ["test"])
    assert "rows/b/score_asr_test" in str(err.value)


def test_loss_curves_draw_the_histories_and_name_a_missing_one(tmp_path):
    exp = tmp_path / "exp"
    for rec, scale in (("joint_aso", 40.0), ("proposed", 4.0)):
        (exp / rec).mkdir(parents=True)
        (exp / rec / "history.json").write_text(json.dumps([{"epoch": e, "train_loss": scale / e} for e in (1, 2, 3)]))
    out = tmp_path / "results" / "training_loss.png"
    line = asr_rows_table.loss_curves(exp, ["joint_aso", "proposed"], ["proposed"], out)
    assert out.stat().st_size > 0 and "(training_loss.png)" in line
    with pytest.raises(KdError, match="stage 4") as err:
        asr_rows_table.loss_curves(exp, ["joint_aso", "joint_grad"], [], out)
    assert "joint_grad/history.json" in str(err.value)


def test_cost_table_averages_the_seeds_and_names_a_missing_record(tmp_path):
    """Time per epoch is the median over the seeds' epochs: one epoch slowed 10x by other work on the
    machine does not move it (the mean would be 360 s)."""
    exp = tmp_path / "exp"
    for name, params, seconds in (("mct", 3_600_000, (60.0, 60.0)), ("mct_seed2", 3_600_000, (120.0, 1200.0))):
        (exp / name).mkdir(parents=True)
        (exp / name / "env.json").write_text(json.dumps({"num_parameters": params}))
        (exp / name / "history.json").write_text(json.dumps([{"epoch": e + 1, "seconds": t} for e, t in enumerate(seconds)]))
    assert "| mct | 3.60 | 2 | 3.0 | 90.0 |" in asr_rows_table.cost_table(exp, ["mct"], ["1", "2"])
    with pytest.raises(KdError, match="stage 4") as err:
        asr_rows_table.cost_table(exp, ["mct"], ["1", "2", "3"])
    assert "mct_seed3/env.json" in str(err.value)


def test_quality_section_when_every_row_has_quality_scores(tmp_path):
    exp = tmp_path / "exp"
    for row, base in (("mct_noisy", 0.70), ("proposed", 0.80)):
        out = exp / "rows" / row / "score_test"
        out.mkdir(parents=True)
        write_scores(out / "scores.tsv", ["stoi"], {u: [base + 0.002 * (i % 2)] for i, u in enumerate(UTTS)})
    text = asr_rows_table.quality_section(exp, ["mct_noisy", "proposed"], "test", ["1"], "mct_noisy")
    assert "| mct_noisy | 0.701 |" in text and "| proposed | 0.801 |" in text
    assert "| proposed | +0.100 [+0.100, +0.100] | - |" in text and "one seed: not a verdict" in text
    assert asr_rows_table.quality_section(exp, ["mct_noisy", "proposed"], "other", ["1"], "mct_noisy") == ""
