"""egs/librispeech/enh end to end on a handful of shared/corpora files with a tiny config: every stage
(data with the download skipped, mixing, 2 teachers, S1 and S2 routed by SNR each with two seeds,
validation metrics every epoch, scoring, results with the noise x SNR tables and S2 against S1 by SNR
pooled over the seeds).  The CRN baseline stage and the teacher-range
scoring (--score_teachers) are left out to stay under 90 s: each costs ~20-30 s of Python start-ups
here; both ran in the CPU-scale run of egs/librispeech/enh/RESULTS.md (the CRN model itself is
tested in test_models.py)."""

import json
import subprocess

import yaml

import recipe_helpers as helpers


TINY_SCALE = """\
scale_opts=(
  --nj 1
  --local_data_opts "--num_train 6 --num_valid 2 --num_test 2 --max_seconds 1.5"
  --teacher_snrs "-5,-1 0,5" --student_snrs "-5,0,5" --test_snrs "-5,5"
  --teacher_mix_per_utt 1 --student_mix_per_utt 2 --valid_mix_per_utt 1
  --test_mix_per_utt 2 --test_unseen_mix_per_utt 2 --metrics stoi,si_sdr
  --teacher_conf conf/tiny/wun.yaml --student_conf conf/tiny/wun_eval.yaml
  --kd_conf conf/tiny/kd.yaml --baseline "" --score_teachers false --student_seeds "1 2"
)
"""
COMMON = """\
task: enhancement
data: {segment: 4096, sr: 16000}
batch_size: 4
optim: {name: adam, lr: 1.0e-3}
"""
WUN = "model: {name: waveunet, conf: {num_layers: 2, base_channels: 4, growth: 4, num_decimations: 2}}\n"
TRAINER = "trainer: {max_epochs: 1, num_threads: 1, tensorboard: false}\n"
EVAL = "trainer: {max_epochs: 1, num_threads: 1, tensorboard: false, eval_every: 1, eval_metrics: [stoi]}\n"
KD = """\
teachers: {snr: {members: [], route_by: snr, bounds: []}}
loss: [{name: mse_teacher, weight: 0.5, teacher: snr}, {name: mse_target, weight: 0.5}]
valid_loss: [{name: mse_target, weight: 1.0}]
"""


def copy_recipe(dst):
    helpers.copy_recipe("librispeech/enh", dst, "enh/enh.sh")
    tiny = dst / "conf" / "tiny"
    tiny.mkdir()
    (tiny / "scale.sh").write_text(TINY_SCALE)
    (tiny / "wun.yaml").write_text(COMMON + WUN + TRAINER)
    (tiny / "wun_eval.yaml").write_text(COMMON + WUN + EVAL)
    (tiny / "kd.yaml").write_text(COMMON + WUN + KD + EVAL)
    return dst


def test_librispeech_recipe_smoke(tmp_path, corpora):
    recipe = copy_recipe(tmp_path / "recipe")
    env = helpers.recipe_env(drop=("LIBRISPEECH", "NOISEX92", "CHIME4_NOISE"))
    env["KDSPEECH_CORPORA"] = str(corpora)
    proc = subprocess.run(["./run.sh", "--conf_dir", "conf/tiny"], cwd=recipe, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "present, no download" in proc.stderr
    exp = recipe / "exp"
    # S2 was distilled from both teachers, split at the lowest SNR of the second teacher set.
    snr = yaml.safe_load((exp / "student_s2" / "config.yaml").read_text())["teachers"]["snr"]
    assert snr["members"] == ["exp/teacher_1", "exp/teacher_2"] and snr["bounds"] == [0]
    assert not (exp / "teacher_1" / "score_test_seen_teacher_1").exists()
    for m in ("student_s1", "student_s2", "student_s1_seed2", "student_s2_seed2"):
        assert (exp / m / "score_test_unseen" / "summary.json").exists()
        assert json.loads((exp / m / "env.json").read_text())["seed"] == (2 if m.endswith("seed2") else 1)
    history = json.loads((exp / "student_s2" / "history.json").read_text())
    assert "stoi" in history[0]["eval"]
    results = (exp / "results" / "RESULTS.md").read_text()   # the run's; RESULTS.md is the reference
    assert not (exp / "baseline_crn").exists()
    for text in ("student_s1/test_seen", "student_s2/test_unseen", "student_s2/test_seen: by noise type",
                 "Validation STOI during training", "student_s2/test_seen - student_s1/test_seen (2 seeds)",
                 "## student_s2/test_unseen + student_s2_seed2/test_unseen against student_s1/test_unseen + "
                 "student_s1_seed2/test_unseen by input SNR"):
        assert text in results, text
    assert (exp / "results" / "results" / "valid_stoi_by_epoch.png").exists()



def test_corpus_path_and_content_are_in_stage_1_fingerprint(tmp_path, corpora):
    """db.sh's corpus folders are stage 1's external inputs: another path, or a file added to the
    folder, re-runs stage 1 (and says why); nothing changed, it is skipped."""
    import shutil

    recipe = copy_recipe(tmp_path / "recipe")
    noise = tmp_path / "noisex"
    shutil.copytree(corpora / "noise" / "noisex92", noise)
    env = helpers.recipe_env(drop=("LIBRISPEECH", "NOISEX92", "CHIME4_NOISE"))
    env["KDSPEECH_CORPORA"] = str(corpora)
    env["NOISEX92"] = str(noise)

    def stage1():
        proc = subprocess.run(["./run.sh", "--conf_dir", "conf/tiny", "--stage", "1", "--stop_stage", "1"],
                              cwd=recipe, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stderr
    stage1()
    assert "up to date, skipped" in stage1()
    some = next(p for p in noise.iterdir() if p.is_file())
    shutil.copy(some, noise / f"extra{some.suffix}")
    log = stage1()
    assert "up to date" not in log and "1 file added" in log
    env["NOISEX92"] = str(corpora / "noise" / "noisex92")
    log = stage1()
    assert "up to date" not in log and "now points to" in log
