"""utils/seeds.sh: a systems list repeated per training seed, students paired with same-seed teachers."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def with_seeds(seeds, systems):
    script = f'. utils/seeds.sh; systems_with_seeds "$1" "$2"'
    out = subprocess.run(["bash", "-c", script, "-", seeds, systems], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return [line.split() for line in out.stdout.splitlines() if line.strip()]


SYSTEMS = """
teacher conf/t.yaml train valid - model.conf.x=1
student conf/s.yaml train valid teacher,outside t.m=[{expdir}/teacher,{expdir}/teacher_x] ; baseline conf/b.yaml train valid -
"""


def test_each_seed_gets_its_own_systems_and_teachers():
    rows = with_seeds("4 7 9", SYSTEMS)
    names = [row[0] for row in rows]
    assert names == ["teacher", "student", "baseline", "teacher_seed7", "student_seed7", "baseline_seed7",
                     "teacher_seed9", "student_seed9", "baseline_seed9"]
    by_name = {row[0]: row for row in rows}
    assert by_name["student_seed9"][4] == "teacher_seed9,outside"   # a teacher outside the list is kept
    assert by_name["student"][4] == "teacher,outside"
    assert by_name["student_seed9"][5] == "t.m=[{expdir}/teacher_seed9,{expdir}/teacher_x]"   # exp dirs too
    assert by_name["student"][5] == "t.m=[{expdir}/teacher,{expdir}/teacher_x]"
    assert by_name["teacher_seed7"][5:] == ["model.conf.x=1", "seed=7"]
    assert by_name["teacher"][-1] == "seed=4" and by_name["baseline_seed9"][-1] == "seed=9"


def test_no_seed_list_or_one_seed_leaves_the_list_as_it_is():
    assert with_seeds("", SYSTEMS) == with_seeds("3", SYSTEMS) == [
        ["teacher", "conf/t.yaml", "train", "valid", "-", "model.conf.x=1"],
        ["student", "conf/s.yaml", "train", "valid", "teacher,outside", "t.m=[{expdir}/teacher,{expdir}/teacher_x]",
         ";", "baseline", "conf/b.yaml", "train",
         "valid", "-"]]


def test_models_with_seeds_adds_the_copies_of_trained_systems_only():
    script = '. utils/seeds.sh; models_with_seeds "$1" "$2" "$3"'

    def models(seeds, names):
        return subprocess.run(["bash", "-c", script, "-", seeds, names, SYSTEMS], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.split()
    assert models("4 7 9", "noisy teacher baseline wiener") == [
        "noisy", "teacher", "teacher_seed7", "teacher_seed9", "baseline", "baseline_seed7", "baseline_seed9", "wiener"]
    assert models("", "noisy teacher") == models("4", "noisy teacher") == ["noisy", "teacher"]


def test_asr_enh_lists_every_seed_copy_and_pairs_students_with_their_seeds_teacher():
    recipe = ROOT / "egs" / "librispeech" / "asr_enh"
    script = ('conf_dir=conf/cpu; . conf/cpu/scale.sh; seeds="1 2 3"; . local/kd_asr.sh; '
              'echo "${kd_models}"; echo "${kd_names}"; printf "%s\\n" "${systems}"')
    out = subprocess.run(["bash", "-c", script], cwd=recipe, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    models, names, systems = lines[0].split(), lines[1].split(), [line.split() for line in lines[2:]]
    assert len(models) == 3 * 6 + 2 and models[-2:] == ["wiener", "deepfilternet3"] and "student_df_seed3" in models
    assert names[0] == "conformer_teacher" and len(names) == 6
    by_name = {row[0]: row for row in systems}
    assert set(by_name) == set(models) - {"wiener", "deepfilternet3"}
    assert by_name["student_le_ld_seed2"][4] == "conformer_teacher_seed2"
    assert "teachers.conformer.members=[{expdir}/conformer_teacher]" in by_name["student_le_ld"]
    assert "teachers.conformer.members=[{expdir}/conformer_teacher_seed2]" in by_name["student_le_ld_seed2"]
    assert "teachers.df.precomputed=[{expdir}/df_cache/train.npz,{expdir}/df_cache/valid.npz]" in \
        by_name["student_df_seed3"]                    # not a system: one cache serves every seed
    assert by_name["student_le_ld_seed3"][-1] == "seed=3"
