"""utils/stage.sh's rule for code: shell functions count where they are called, the recipe's local/
scripts by content, the library code a stage ran is recorded and a change to it reported."""

import shutil
import subprocess
from pathlib import Path

from test_stage import make_recipe, run, runs

import kdspeech

REPO = Path(kdspeech.__file__).resolve().parents[1]


def calls(text):
    """utils/shell_calls.awk on a shell text: its (kind, words...) tuples."""
    out = subprocess.run(["awk", "-f", str(REPO / "utils/shell_calls.awk")], input=text, text=True,
                         capture_output=True, check=True).stdout
    return {tuple(line.split()) for line in out.splitlines()}


def test_only_words_in_command_position_or_handed_whole_count_as_calls():
    body = subprocess.run(["bash", "-c", r'''
f() {
  local opts=(--out "${out}" log)
  ${train_cmd} JOB=1:"${nj}" "${out}/log/mix.JOB.log" python -m kdspeech.bin.mix_data_dir "${opts[@]}"
  x="n=$(count "a;b")"; y=$(sum 1)
  case ${x} in
    log) pick one ;;
    a | b) skip ;;
  esac
  for log in a b; do echo "$log"; done
  [[ -n $x && log == x ]] && echo ok
  ((n >= log)) || true
  parallel_each 2 "$x" train_one
  cat <<EOT
log
EOT
  python local/prepare.py > "${out}/log"
  while read -r q; do :; done < <(entries "$2")
}
declare -f f'''], capture_output=True, text=True, check=True).stdout
    found = calls(body)
    commands = {words[1] for words in found if words[0] == "C"}
    assert {"count", "sum", "pick", "skip", "echo", "parallel_each", "cat", "python", "entries"} <= commands
    assert "log" not in commands and ("A", "echo", "log") not in found
    assert ("A", "parallel_each", "train_one") in found   # handed whole to a function
    assert ("S", "local/prepare.py") in found


LOG_FORMAT = """\
fmt='+%s'
log() { echo "$(date "$fmt") $*" >&2; }
mix() { mkdir -p "$1/log"; echo mix >> runs.txt; echo done > "$1/log/mix.1.log"; }
train() { log "training"; echo train >> runs.txt; }
stage_run 1 "mix" --out exp/mix -- mix exp/mix
stage_run 2 "train" --out exp/train -- train
"""


def test_a_log_format_edit_reruns_only_the_stages_that_call_log(tmp_path):
    recipe = make_recipe(tmp_path, LOG_FORMAT)
    assert run(recipe).returncode == 0
    script = recipe / "run.sh"
    script.write_text(script.read_text().replace('log() { echo "$(date "$fmt")',
                                                 'log() { echo "[$(date "$fmt")]'))
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    assert "Stage 1 (mix): exp/mix up to date, skipped" in out.stderr   # "${out}/log/..." is no call
    assert "Stage 2 (train): re-running: the command, a shell function it calls" in out.stderr
    assert runs(recipe) == ["mix", "train", "train"]


DATA_STAGE = """\
stage_run 1 "data" --out data/all -- local/data.sh data/all
stage_run 2 "use" --out exp/use --deps data/all -- local/step.sh 2 exp/use
"""

DATA_SH = """\
#!/usr/bin/env bash
set -eu
echo data >> runs.txt
python3 "$(dirname "$0")/prepare.py" "$1"
"""

PREPARE_PY = """\
import sys
from helpers import SPEAKERS
open(sys.argv[1] + "/spk", "w").write(str(SPEAKERS))
"""


def test_an_edit_to_a_local_script_reruns_its_stage_and_what_follows(tmp_path):
    recipe = make_recipe(tmp_path, DATA_STAGE)
    for name, text in (("data.sh", DATA_SH), ("prepare.py", PREPARE_PY), ("helpers.py", "SPEAKERS = 4\n")):
        (recipe / "local" / name).write_text(text)
    (recipe / "local/data.sh").chmod(0o755)
    assert run(recipe).returncode == 0
    stamp = (recipe / "data/all/.done").read_text()
    for name in ("data.sh", "prepare.py", "helpers.py"):   # named, beside it, imported
        assert f"\nscript local/{name} " in stamp
    assert "up to date, skipped" in run(recipe).stderr and runs(recipe) == ["2", "data"]

    (recipe / "local/helpers.py").write_text("SPEAKERS = 2  # fewer test speakers\n")
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    assert "Stage 1 (data): re-running: script local/helpers.py changed" in out.stderr
    assert "Stage 2 (use): re-running: input data/all changed" in out.stderr
    assert (recipe / "data/all/spk").read_text() == "2"
    (recipe / "local/data.sh").write_text(DATA_SH.replace("echo data", "echo data2"))
    out = run(recipe)
    assert "Stage 1 (data): re-running: script local/data.sh changed" in out.stderr
    assert runs(recipe) == ["2", "2", "2", "data", "data", "data2"]


VERBS = """\
stage_run 1 "check" --out exp/a -- python -m kdspeech.bin.validate_data_dir --help
stage_run 2 "compare" --out exp/b --deps exp/a -- python -m kdspeech.bin.compare_results --help
stage_run 3 "check again" --out exp/c -- python -m kdspeech.bin.validate_data_dir --help
"""


def test_an_edit_to_a_verbs_module_is_reported_for_the_stages_that_ran_it(tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(REPO / "kdspeech", lib / "kdspeech", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "recipe").mkdir()
    recipe = make_recipe(tmp_path / "recipe", VERBS)
    env = {"PYTHONPATH": str(lib)}
    assert run(recipe, **env).returncode == 0
    stamp = (recipe / "exp/a/.done").read_text()
    verb = lib / "kdspeech/bin/validate_data_dir.py"
    assert "kdspeech/bin/validate_data_dir.py" in stamp and "compare_results" not in stamp
    assert any(line.startswith("library ") and line.endswith(str(lib / "kdspeech/cli.py"))
               for line in stamp.splitlines())

    verb.write_text(verb.read_text() + "\n# an edit\n")
    out = run(recipe, **env)
    assert out.returncode == 0, out.stderr
    warned = [line for line in out.stderr.splitlines() if "WARNING" in line]
    assert len(warned) == 2, out.stderr
    assert "Stage 1 (check): exp/a up to date" in warned[0] and "Stage 3 (check again)" in warned[1]
    assert f"{verb}" in warned[0] and "--stage 1 --stop_stage 1 --rerun_changed_code true" in warned[0]
    assert "Stage 2 (compare): exp/b up to date, skipped" in out.stderr
    before = (recipe / "exp/a/.done").read_text().splitlines()[0]

    # Re-run stage 1 with its new code: its fingerprint changes, so stage 2, which reads it, re-runs.
    out = run(recipe, "--stage", "1", "--stop_stage", "1", KDSPEECH_RERUN_CHANGED_CODE="true", **env)
    assert "Stage 1 (check): re-running: the library code it ran changed" in out.stderr
    assert (recipe / "exp/a/.done").read_text().splitlines()[0] != before
    out = run(recipe, **env)
    assert "Stage 1 (check): exp/a up to date, skipped" in out.stderr
    assert "Stage 2 (compare): re-running: input exp/a changed" in out.stderr
    assert [line for line in out.stderr.splitlines() if "WARNING" in line][0].count("Stage 3") == 1
    assert not list(recipe.glob("exp/*/.done.code*"))
