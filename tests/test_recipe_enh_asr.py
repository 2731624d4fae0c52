"""egs/TEMPLATE/enh_asr/enh_asr.sh on a tiny recipe (four AN4 utterances mixed with babble, one update
per training): a front end trained on SI-SNR, the MCT-noisy and MCT-all recognisers (MCT-all's set:
noisy + enhanced + clean), the rows MCT-noisy, + standardize-SR and MCT-all decoded and scored, the
table written; the two recognisers train side by side (--train_jobs 2); a second run skips every stage,
whatever the job counts."""

import datetime
import shutil
import subprocess

import pytest
import yaml

import recipe_helpers as helpers
from conftest import corpora_path
from test_asr_approaches import ASR, FRONT, UTTS, noisy_dir

TOKENS = "data/token_list/char/tokens.txt"
CONFS = {
    "se.yaml": {"task": "enhancement", "data": {"segment": 8000}, "batch_size": 4, "num_workers": 0,
                "model": FRONT, "loss": [{"name": "si_snr"}], "optim": {"name": "adam", "lr": 1e-3},
                "trainer": {"max_epochs": 1, "tensorboard": False}},
    "asr.yaml": {"task": "asr", "data": {"token_list": TOKENS, "samples_per_frame": 1280}, "batch_size": 4,
                 "num_workers": 0, "model": {"name": "conformer_ctc", "conf": {**ASR["conf"], "tokens": TOKENS}},
                 "loss": [{"name": "ctc"}], "optim": {"name": "adam", "lr": 1e-3},
                 "trainer": {"max_epochs": 1, "tensorboard": False}},
}
LISTS = ["--frontends", "se conf/se.yaml data/noisy data/noisy -",
         "--mct_sets", "all data/noisy se",
         "--recognisers", "mct_noisy conf/asr.yaml data/noisy data/noisy -; mct_all conf/asr.yaml dump/asr/all data/noisy -",
         "--rows", "mct_noisy - mct_noisy; standardize_sr se mct_noisy; mct_all - mct_all",
         "--test_sets", "data/noisy", "--nj", "1"]


def test_enh_asr_template_trains_and_scores_the_approaches(tmp_path):
    corpora = corpora_path()
    if corpora is None:
        pytest.skip("real corpora not found: set KDSPEECH_CORPORA")
    root = tmp_path / "recipe"
    root.mkdir()
    for name in ("cmd.sh", "path.sh"):
        shutil.copy2(helpers.REPO / "egs" / "mini_espeak" / "enh" / name, root / name)
    (root / "enh_asr.sh").symlink_to(helpers.REPO / "egs" / "TEMPLATE" / "enh_asr" / "enh_asr.sh")
    (root / "utils").symlink_to(helpers.REPO / "utils")
    (root / "conf").mkdir()
    for name, conf in CONFS.items():
        (root / "conf" / name).write_text(yaml.safe_dump(conf))
    noisy_dir(corpora, root / "data" / "noisy")

    def run(*extra):
        return subprocess.run(["./enh_asr.sh", *LISTS, *extra], cwd=root, capture_output=True, text=True,
                              env=helpers.recipe_env(), timeout=600)

    proc = run("--train_jobs", "2")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    all_set = (root / "dump" / "asr" / "all" / "wav.scp").read_text().split("\n")
    assert sorted(line.split()[0].split("-")[0] for line in all_set if line) == ["clean"] * 4 + ["enh"] * 4 + ["noisy"] * 4
    table = (root / "exp" / "results" / "asr_rows.md").read_text()
    for row in ("mct_noisy", "standardize_sr", "mct_all"):
        assert f"| {row} |" in table
    hyp = root / "exp" / "rows" / "standardize_sr" / "score_asr_noisy" / "hyp.txt"
    assert {line.split()[0] for line in hyp.read_text().splitlines()} == set(UTTS)
    (a_start, a_end), (b_start, b_end) = (_job_times(root / "exp" / n / "log" / "train.log")
                                          for n in ("mct_noisy", "mct_all"))
    assert a_start < b_end and b_start < a_end, "the recognisers did not train at the same time"
    again = run("--nj", "2", "--train_jobs", "1")   # every stage is stamped: nothing re-runs, whatever the job counts
    assert again.returncode == 0 and "train mct_all" in again.stderr and "skipped" in again.stderr, again.stderr[-2000:]
    started = [l for l in again.stderr.splitlines() if " Stage " in l and "skipped" not in l]
    assert len(started) == again.stderr.count("up to date, skipped"), again.stderr[-3000:]


def _job_times(log):
    """The start and end times the job runner wrote into a job's log ("# Started at Mon Dec 07
    21:40:01 UTC 2026", "# Ended (code 0) at <same form>, elapsed time ...")."""
    def when(text):
        words = text.split()[:6]
        return datetime.datetime.strptime(" ".join(words[:4] + words[5:]), "%a %b %d %H:%M:%S %Y")
    lines = log.read_text().splitlines()
    start = next(l for l in lines if l.startswith("# Started at ")).removeprefix("# Started at ")
    end = next(l for l in lines if l.startswith("# Ended (")).split(") at ", 1)[1]
    return when(start), when(end.split(",")[0])
