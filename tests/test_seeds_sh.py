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
student conf/s.yaml train valid teacher,outside ; baseline conf/b.yaml train valid -
"""


def test_each_seed_gets_its_own_systems_and_teachers():
    rows = with_seeds("4 7 9", SYSTEMS)
    names = [row[0] for row in rows]
    assert names == ["teacher", "student", "baseline", "teacher_seed7", "student_seed7", "baseline_seed7",
                     "teacher_seed9", "student_seed9", "baseline_seed9"]
    by_name = {row[0]: row for row in rows}
    assert by_name["student_seed9"][4] == "teacher_seed9,outside"   # a teacher outside the list is kept
    assert by_name["student"][4] == "teacher,outside"
    assert by_name["teacher_seed7"][5:] == ["model.conf.x=1", "seed=7"]
    assert by_name["teacher"][-1] == "seed=4" and by_name["baseline_seed9"][-1] == "seed=9"


def test_no_seed_list_or_one_seed_leaves_the_list_as_it_is():
    assert with_seeds("", SYSTEMS) == with_seeds("3", SYSTEMS) == [
        ["teacher", "conf/t.yaml", "train", "valid", "-", "model.conf.x=1"],
        ["student", "conf/s.yaml", "train", "valid", "teacher,outside", ";", "baseline", "conf/b.yaml", "train",
         "valid", "-"]]
