"""The paper's numbers of the classification recipes (egs/{esc50,tau2019mobile,user_data}/cls/conf/paper.yaml)
and how make_results_cls shows them beside ours: Table 1 per architecture, Table 2 classes, Table 3
(WER by rate per ASR backend, human WER, battery hours not measured), section 5.3, artifacts."""

import json
import re

import pytest
import yaml

import recipe_helpers as helpers
from test_cls_multi import results, section, write_exp

RECIPES = ("esc50", "tau2019mobile", "user_data")
PAPER_TXT = helpers.REPO.parent / "shared" / "papers" / "liang_lowrate_self_distillation.txt"
ARCH = {"CNN14": "cnn14", "ResNet38": "resnet38", "MBNetV2": "mobilenetv2"}


def paper(recipe):
    return yaml.safe_load((helpers.REPO / "egs" / recipe / "cls" / "conf" / "paper.yaml").read_text())


def test_three_paper_files_share_one_layout():
    papers = {r: paper(r) for r in RECIPES}
    keys = {r: sorted(p) for r, p in papers.items()}
    assert keys["esc50"] == keys["tau2019mobile"] == keys["user_data"]
    for r, p in papers.items():
        assert p["scale"] == "fraction" and set(p["table1"]) == {"cnn14", "resnet38", "mobilenetv2"}
        assert p["table3"] == papers["esc50"]["table3"]          # Table 3 is not corpus-specific
        assert set(p["section53"]["mobilenetv2"]) == {"basd2_1000", "cssdlow_2000"}
        for cells in p["table1"].values():
            assert all(0 < v < 1 and re.fullmatch(r"(init_16k|raw|ft|basd|cssd)_\d+", k) for k, v in cells.items())
    assert papers["esc50"]["metric"] == "macro_accuracy" and papers["user_data"]["metric"] == "macro_f1"
    assert papers["user_data"]["table1"]["resnet38"]["init_16k_16000"] == 0.695
    assert "raw_1000" not in papers["user_data"]["table1"]["cnn14"]   # not reported for the user data
    assert papers["tau2019mobile"]["section53"]["mobilenetv2"]["basd2_1000"] == 0.483
    assert set(papers["esc50"]["table2"]["classes"]) == {"coughing", "crying_baby", "snoring"}


@pytest.mark.skipif(not PAPER_TXT.exists(), reason="the paper's text is not in ../shared/papers")
def test_table1_matches_the_papers_text():
    """Every Table 1 row of the extracted text equals the YAML cells (ESC-50 | TAU | user columns)."""
    rate = None
    rows = 0
    for line in PAPER_TXT.read_text().splitlines():
        cells = line.strip().split("\t")
        if cells and cells[0] in ("2 kHz", "1 kHz"):
            rate, cells = int(cells[0][0]) * 1000, cells[1:]
        if rate is None or not cells or cells[0] not in ARCH:
            continue
        arch, nums = ARCH[cells[0]], [float(re.sub(r"</?b>", "", c)) for c in cells[1:]]
        assert len(nums) == 10
        for recipe, systems, values in (("esc50", ("raw", "ft", "basd", "cssd"), nums[0:4]),
                                        ("tau2019mobile", ("raw", "ft", "basd", "cssd"), nums[4:8]),
                                        ("user_data", ("ft", "cssd"), nums[8:10])):
            for s, v in zip(systems, values):
                assert paper(recipe)["table1"][arch][f"{s}_{rate}"] == v, (recipe, arch, s, rate)
        rows += 1
        if rows == 6:
            break
    assert rows == 6


def wer_json(path, backends=("pocketsphinx", "moonshine")):
    out = {"backends": {b: {"an4": {"16000": {"wer": 0.1 + i / 10, "num_utts": 7, "errors": 1, "words": 10},
                                    "2000": {"wer": 0.9, "num_utts": 7, "errors": 9, "words": 10},
                                    "1000": {"wer": 1.0, "num_utts": 7, "errors": 10, "words": 10}}}
                        for i, b in enumerate(backends)}, "rates": [16000, 2000, 1000]}
    path.write_text(json.dumps(out))
    return path


def test_results_show_the_paper_beside_ours(tmp_path):
    write_exp(tmp_path / "exp", archs=("cnn14", "mobilenetv2"), seeds=("1", "2"), folds=("1", "2"))
    conf = helpers.REPO / "egs" / "esc50" / "cls" / "conf" / "paper.yaml"
    text = results(tmp_path, "--paper", str(conf), "--ablations", "--privacy", str(wer_json(tmp_path / "wer.json")),
                   seeds="1 2", folds="1 2")
    cnn, mob = section(text, "Table 1: macro accuracy (%), cnn14"), section(text, "Table 1: macro accuracy (%), mobilenetv2")
    # each architecture's table carries that architecture's column of the paper (fractions shown in %)
    assert re.search(r"\| BASD \(teacher: fine-tuned low-rate model\) \| [\d.]+ ± [\d.]+ \| 50\.2 \| [\d.]+ ± [\d.]+ \| 70\.4 \|", cnn)
    assert re.search(r"\| BASD \(teacher: fine-tuned low-rate model\) \| [\d.]+ ± [\d.]+ \| 47\.9 \| [\d.]+ ± [\d.]+ \| 65\.2 \|", mob)
    assert "| 16 kHz model at 16 kHz (upper reference) |" in cnn and "| n/r |" in cnn
    # the ordering sentence also says whether the paper's own numbers follow it
    assert "Paper: does not hold (fine-tuned 45.1, BASD 50.2, CSSD 49.8)." in text   # CNN14 at 1 kHz
    assert "Paper: holds (fine-tuned 44.4, BASD 47.9, CSSD 48.5)." in text           # MobileNetV2 at 1 kHz
    # Table 2: the paper's classes found here (coughing), ours of the paper's architecture (mobilenetv2)
    t2 = section(text, "Table 2 classes of the paper")
    assert "Ours: mobilenetv2 pooled" in t2
    assert re.search(r"\| coughing \| 1 kHz \| [\d.]+ \| [\d.]+ \| [+-][\d.]+ \| 63 \| 78 \| \+15 \|", t2)
    assert re.search(r"\| coughing \| 2 kHz \| .* \| 78 \| 73 \| -5 \|", t2)
    assert "crying_baby" not in t2 and "snoring" not in t2
    # Table 3: each backend's WER beside the human WER; battery hours are the paper's only
    t3 = section(text, "Table 3")
    assert "| human listeners (paper: LibriSpeech, 3 clips per rate) | 5.4 | 55.6 | 96.5 | 9 |" in t3
    assert "| pocketsphinx: an4 | 10.0 | 90.0 | 100.0 | 7 |" in t3 and "| moonshine: an4 | 20.0 | 90.0 | 100.0 | 7 |" in t3
    assert "| paper (Apollo3 + SPH064 microphone) | 50.6 | 58.4 | 59.6 |" in t3
    assert "| ours | not measured | not measured | not measured |" in t3
    # section 5.3: the paper's MobileNetV2 numbers beside ours of every architecture
    s53 = section(text, "Section 5.3")
    assert re.search(r"\| BASD, second generation \| 1 kHz \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \| 22\.1 \|", s53)
    assert re.search(r"\| 1 kHz fine-tuned model as teacher \| 2 kHz \| .* \| 63\.5 \|", s53)
    assert re.search(r"\| CSSD \(16 kHz teacher\) \| 2 kHz \| .* \| 66\.1 \|", s53)
    # ... and its differences (MobileNetV2 only: the paper gives no other architecture's ablations)
    s53p = section(text, "Section 5.3: paired differences")
    assert re.search(r"\| mobilenetv2 \| 1 kHz \| basd2 - basd \| 4 \| .* \| -25\.8 \|", s53p)   # 22.1 - 47.9
    assert re.search(r"\| mobilenetv2 \| 2 kHz \| cssdlow - cssd \| 4 \| .* \| -2\.6 \|", s53p)  # 63.5 - 66.1
    assert re.search(r"\| mobilenetv2 \| 2 kHz \| cssdlow - ft \| 4 \| .* \| \+1\.2 \|", s53p)    # 63.5 - 62.3
    assert re.search(r"\| cnn14 \| 2 kHz \| cssdlow - ft \| 4 \| .* \| n/r \|", s53p)
    assert "CNN14 at 1 kHz: BASD (0.502) is above CSSD (0.498)" in section(text, "The paper's numbers: extraction")


def test_user_data_paper_and_classes_with_other_spelling(tmp_path):
    write_exp(tmp_path / "exp", archs=("mobilenetv2",), seeds=("1",), folds=("1", "2"))
    conf = helpers.REPO / "egs" / "user_data" / "cls" / "conf" / "paper.yaml"
    text = results(tmp_path, "--paper", str(conf), archs="mobilenetv2", seeds="1", folds="1 2")
    table1 = section(text, "Table 1")
    assert re.search(r"\| 16 kHz model at 16 kHz \(upper reference\) \| [\d.]+ ± [\d.]+ \| 73\.2 \|", table1)
    assert re.search(r"\| 16 kHz model, evaluated at the low rate \| [\d.]+ ± [\d.]+ \| n/r \|", table1)
    # "vacuum cleaning" of the paper is this corpus's vacuum_cleaning
    assert re.search(r"\| vacuum_cleaning \| 1 kHz \| .* \| 49 \| 47 \| -2 \|", section(text, "Table 2 classes"))


def test_tau_has_no_table2_classes_and_a_single_backend_wer_json_still_reads(tmp_path):
    write_exp(tmp_path / "exp", archs=("resnet38",), seeds=("1",), folds=("1", "2"))
    legacy = tmp_path / "wer.json"     # privacy_wer.py before --asr_backends: {source: {rate: ...}}
    legacy.write_text(json.dumps(json.loads(wer_json(tmp_path / "w.json", ("pocketsphinx",)).read_text())
                                 ["backends"]["pocketsphinx"]))
    conf = helpers.REPO / "egs" / "tau2019mobile" / "cls" / "conf" / "paper.yaml"
    text = results(tmp_path, "--paper", str(conf), "--privacy", str(legacy), archs="resnet38", seeds="1", folds="1 2")
    assert "Table 2 classes of the paper" not in text
    assert "| pocketsphinx: an4 | 10.0 | 90.0 | 100.0 | 7 |" in section(text, "Table 3")
    assert "ResNet38: BASD is below fine-tuning at both rates" in text


def test_paper_only_results_of_a_recipe_without_its_corpus(tmp_path):
    from kdspeech.bin import make_results_cls
    from kdspeech.errors import KdError

    conf = helpers.REPO / "egs" / "user_data" / "cls" / "conf" / "paper.yaml"
    out = tmp_path / "RESULTS.md"
    make_results_cls.main(["--paper_only", "The data is proprietary.", "--paper", str(conf),
                           "--rates", "1000 2000", "--out", str(out)])
    text = out.read_text()
    table1 = section(text, "Table 1 of the paper: macro F1 (%)")
    assert "The data is proprietary." in table1
    assert "| mobilenetv2 | 16 kHz model at 16 kHz (upper reference) | 73.2 | 73.2 |" in table1
    assert "| cnn14 | CSSD (teacher: 16 kHz model on 16 kHz audio) | 57.0 | 70.0 |" in table1
    assert "BASD (teacher" not in table1                         # not reported for the user data: no row
    assert "| vacuum cleaning | 2 kHz | 68 | 75 | +7 |" in section(text, "Table 2 of the paper")
    assert "| mobilenetv2 | 29.5 | 65.9 |" in section(text, "Section 5.3 of the paper")
    assert "| human WER (%), LibriSpeech, 3 clips per rate | 5.4 | 55.6 | 96.5 |" in section(text, "Table 3")
    assert "The user data is not public" in section(text, "The paper's numbers: extraction")
    with pytest.raises(KdError, match="--paper_only needs --paper"):
        make_results_cls.main(["--paper_only", "x", "--rates", "1000", "--out", str(out)])
    with pytest.raises(KdError, match="--exp, --folds, --plot_dir required"):
        make_results_cls.main(["--rates", "1000", "--out", str(out)])


@pytest.mark.parametrize("recipe", ["tau2019mobile", "user_data"])
def test_committed_paper_only_results_match_the_paper_files(recipe):
    """The RESULTS.md of the recipes whose corpus is not here hold their paper.yaml's Table 1, as printed."""
    text = (helpers.REPO / "egs" / recipe / "cls" / "RESULTS.md").read_text()
    assert "Nothing has been run here" in text
    for arch, cells in paper(recipe)["table1"].items():
        for key, value in cells.items():
            if key.startswith("cssd_"):
                rate = int(key.split("_")[1])
                row = re.search(rf"\| {arch} \| CSSD \(teacher: 16 kHz model on 16 kHz audio\) \| ([\d.]+) \| ([\d.]+) \|",
                                text)
                assert row and float(row.group(1 if rate == 1000 else 2)) == pytest.approx(100 * value, abs=0.05)
