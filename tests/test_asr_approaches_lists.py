"""egs/librispeech/asr_enh/local/asr_approaches.sh (sourced by the librispeech and chime4 asr_enh
recipes): the enh_asr.sh lists of the seven approaches, each seed's recognisers built on that seed's
front ends, the ASR sets of each --asr_data mode."""

import subprocess

import recipe_helpers as helpers

SCRIPT = helpers.REPO / "egs" / "librispeech" / "asr_enh" / "local" / "asr_approaches.sh"


def lists(**variables):
    setup = " ".join(f"{k}='{v}'" for k, v in variables.items())
    proc = subprocess.run(["bash", "-c", f"set -eu; {setup}; . {SCRIPT}; "
                           "printf '%s\\n' \"${asr_mix_sets}\" ''; printf '%s\\n' \"${asr_opts[@]}\""],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    mix, _, rest = proc.stdout.partition("\n\n")
    opts = rest.split("\n")
    return mix, {opts[i]: opts[i + 1] for i in range(0, len(opts) - 1, 2)}


def entries(text):
    return [e.split() for e in text.split(";") if e.strip()]


BASE = dict(asr_conf_dir="C", asr_train_args="trainer.max_epochs=8", train_snrs="0,5", test_snrs="5",
            asr_train_mix_per_utt=2, metrics="pesq_wb,stoi")


def test_three_seeds_each_on_its_own_front_ends():
    mix, opts = lists(asr_data="speech_commands", seeds="1 2 3", **BASE)
    assert [e[0] for e in entries(mix)] == ["asr_train", "asr_valid", "asr_test"]
    recs = {e[0]: e for e in entries(opts["--recognisers"])}
    assert len(recs) == 18   # 6 recognisers x 3 seeds
    assert recs["proposed_seed2"][1:5] == ["C/train_asr_proposed.yaml", "asr_train", "asr_valid", "student_le_ld_seed2"]
    assert "model.conf.frontend_init={expdir}/student_le_ld_seed2" in recs["proposed_seed2"]
    assert "model.conf.frontend_init={expdir}/student_lr_seed3" in recs["joint_aso_seed3"]
    assert recs["mct_all_seed3"][2] == "dump/asr/mct_all_seed3" and "seed=3" in recs["mct_all_seed3"]
    assert "trainer.max_epochs=8" in recs["mct_noisy"] and "seed=1" in recs["mct_noisy"]
    assert ["mct_all_seed2", "asr_train", "student_lr_seed2"] in entries(opts["--mct_sets"])
    rows = entries(opts["--rows"])
    assert len(rows) == 21 and ["standardize_sr_seed2", "student_lr_seed2", "mct_noisy_seed2"] in rows
    assert opts["--table_seeds"] == "1 2 3" and opts["--baseline_row"] == "mct_noisy"
    assert opts["--test_sets"] == "asr_test" and opts["--quality_metrics"] == "pesq_wb,stoi"


def test_given_sets_for_chime4():
    mix, opts = lists(asr_data="given", seeds="", asr_train="dump/raw/tr05_simu", asr_valid="dump/raw/dt05_simu",
                      asr_tests="dump/raw/dt05_simu dump/raw/et05_real", **BASE)
    assert mix == ""
    recs = {e[0]: e for e in entries(opts["--recognisers"])}
    assert sorted(recs) == ["joint_aso", "joint_grad", "joint_straight", "mct_all", "mct_noisy", "proposed"]
    assert recs["mct_noisy"][2:4] == ["dump/raw/tr05_simu", "dump/raw/dt05_simu"]
    assert opts["--test_sets"] == "dump/raw/dt05_simu dump/raw/et05_real"
    assert len(entries(opts["--rows"])) == 7


def test_an_unknown_asr_data_is_named():
    proc = subprocess.run(["bash", "-c", f"asr_data=x; . {SCRIPT}"], capture_output=True, text=True)
    assert proc.returncode != 0 and "--asr_data must be speech_commands, mixtures or given, got 'x'" in proc.stderr
