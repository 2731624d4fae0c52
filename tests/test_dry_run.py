"""utils/dry_run.sh: every paper-size config builds; a representative subset trains, checkpoints,
resumes and evaluates on real files; the paper scale of a recipe is found as its scripts define it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kdspeech
from kdspeech.bin import dry_run
from kdspeech.dryrun.configs import find_paper_configs
from kdspeech.errors import KdError

REPO = Path(kdspeech.__file__).resolve().parents[1]
RECIPES = {"librispeech/enh", "librispeech/asr_enh", "dns5/pse", "esc50/cls", "tau2019mobile/cls",
           "user_data/cls", "shared_speakers/spk", "voxceleb/spk", "TEMPLATE/asr"}


def test_every_paper_config_builds_and_counts_its_parameters(tmp_path, capsys):
    out = tmp_path / "build.json"
    assert dry_run.main(["--build_only", "--json", str(out), "--work_dir", str(tmp_path / "w")]) == 0
    records = {r["config"]: r for r in json.loads(out.read_text())}
    assert {name.split(":")[0] for name in records} == RECIPES
    assert all(r["ok"] and r["params"] > 0 for r in records.values())
    # the configs no recipe run can build alone get fresh weights, and the table says so
    light = records["dns5/pse:train_light"]
    assert any("shared_speakers/spk/conf/train_contrastive.yaml" in n for n in light["notes"])
    kd = records["librispeech/enh:train_student_kd"]
    assert any("4 member(s)" in n for n in kd["notes"]) and kd["also"] == ["timit/enh"]
    assert records["librispeech/asr_enh:teacher"]["also"] == ["chime4/asr_enh"]
    assert "librispeech/enh:train_teacher" in records and "esc50/cls:train_resnet38" in records
    assert not any("/cpu" in r for r in records)   # conf/cpu is the CPU scale, not the paper's
    table = capsys.readouterr().out
    assert "# mini_espeak/enh: not dry-run" in table and f"# {len(records)} of {len(records)} passed" in table


def _recipe(egs, name, run_sh="", configs=None):
    d = egs / name
    (d / "conf" / "cpu").mkdir(parents=True)
    (d / "run.sh").write_text(run_sh)
    for stem, text in (configs or {}).items():
        (d / "conf" / f"{stem}.yaml").write_text(text)
    (d / "conf" / "cpu" / "train.yaml").write_text("model: {name: waveunet}\nloss: []\n")
    return d


def test_paper_scale_is_conf_not_its_subdirs_and_shared_conf_dirs_run_once(tmp_path):
    egs = tmp_path / "egs"
    good = "model: {name: waveunet, conf: {num_layers: 2, num_decimations: 2}}\nloss: [{name: mse_target}]\n"
    _recipe(egs, "a/enh", configs={"train": good, "teacher": "teachers: {}\n",  # not a training config
                                   "bad": "model: {name: no_such_model}\nloss: []\n"})
    (egs / "b" / "enh").mkdir(parents=True)          # its conf is a link to a/enh's
    (egs / "b" / "enh" / "run.sh").write_text("")
    (egs / "b" / "enh" / "conf").symlink_to("../../a/enh/conf")
    (egs / "c" / "enh").mkdir(parents=True)          # no conf of its own: run.sh's conf_dir default
    (egs / "c" / "enh" / "run.sh").write_text("conf_dir=../../a/enh/conf   # paper size\n")
    found, skipped = find_paper_configs(egs)
    assert [(pc.name, pc.also) for pc in found] == [("a/enh:bad", ["b/enh", "c/enh"]),
                                                    ("a/enh:train", ["b/enh", "c/enh"])]
    assert skipped == {}
    with pytest.raises(KdError, match=r"unknown recipe\(s\) \['z/enh'\]"):
        find_paper_configs(egs, ["z/enh"])
    out = tmp_path / "r.json"
    assert dry_run.main(["--egs", str(egs), "--build_only", "--json", str(out)]) == 1   # one fails
    records = {r["config"]: r for r in json.loads(out.read_text())}
    assert records["a/enh:train"]["ok"] and not records["a/enh:bad"]["ok"]
    assert "no_such_model" in records["a/enh:bad"]["error"]


def test_dry_run_of_a_subset_trains_checkpoints_resumes_and_evaluates(corpora, tmp_path):
    """One config per kind of dependency and data path: routed teachers a recipe fills in (enh KD),
    another recipe's encoder (pDeepFilterNet2 + TinyECAPA), a feature dump (classification, with the
    validation evaluation), precomputed teacher outputs dropped (speaker KD, EER), transcripts and a
    token list (the ASR template's Conformer-CTC, bf16 and accum_grad 8 as the paper config has them)."""
    configs = ("librispeech/enh:train_student_kd dns5/pse:train_light esc50/cls:train_mobilenetv2 "
               "shared_speakers/spk:train_contrastive TEMPLATE/asr:train_asr_conformer_ctc")
    out = tmp_path / "subset.json"
    env = {**os.environ, "KDSPEECH_CORPORA": str(corpora), "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run([str(REPO / "utils/dry_run.sh"), "--configs", configs, "--steps", "1",
                           "--seconds", "0.5", "--json", str(out), "--work_dir", str(tmp_path / "w")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    records = {r["config"]: r for r in json.loads(out.read_text())}
    assert set(records) == set(configs.split())
    for r in records.values():
        assert r["ok"] and r["params"] > 0 and r["peak_mb"] > 0 and r["s_per_step"] > 0, r
        assert r["eval"], r   # the resumed epoch ran the task's validation evaluation
    assert set(records["esc50/cls:train_mobilenetv2"]["eval"]) >= {"accuracy", "macro_f1"}
    assert "eer" in records["shared_speakers/spk:train_contrastive"]["eval"]
    assert "cer" in records["TEMPLATE/asr:train_asr_conformer_ctc"]["eval"]
    assert "fresh weights of shared_speakers/spk/conf/train_contrastive.yaml" in proc.stdout
    assert "5 of 5 passed" in proc.stdout
