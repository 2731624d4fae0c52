"""utils/stage.sh: stamps, skipping, re-running after a change, failures and missing inputs."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kdspeech

REPO = Path(kdspeech.__file__).resolve().parents[1]

HEADER = """\
#!/usr/bin/env bash
set -euo pipefail
stage=1          # first stage to run
stop_stage=100   # last stage to run
nj=2             # parallel jobs
. ./path.sh; . ./cmd.sh; . utils/parse_options.sh; . utils/stage.sh
"""

THREE_STAGES = """\
stage_run 1 "prepare" --out data/prep -- local/step.sh 1 data/prep
stage_run 2 "features" --out exp/feats --deps data/prep --conf conf/feats.conf \\
  --log exp/feats/log/feats.log -- local/step.sh 2 exp/feats
stage_run 3 "score" --out exp/score --deps exp/feats --nj "$nj" --cmd "$train_cmd" \\
  --log exp/score/log/score.JOB.log -- local/step.sh 3 exp/score JOB
log "all done"
"""

# Records each run in runs.txt, prints 30 lines, fails when $FAIL_STAGE names its stage.
STEP = """\
#!/usr/bin/env bash
set -eu
stage=$1 out=$2 job=${3:-}
echo "$stage${job:+.$job}" >> runs.txt
for i in $(seq 1 30); do echo "stage $stage line $i"; done
if [ "${FAIL_STAGE:-}" = "$stage" ]; then echo "stage $stage is failing" >&2; exit 3; fi
echo "$KDSPEECH_STAGE" > "$out/made_by${job:+.$job}"
"""


def make_recipe(root, body=THREE_STAGES):
    """A recipe dir laid out like egs/<corpus>/<task>/, with `utils` linked to the real one."""
    (root / "utils").symlink_to(REPO / "utils")
    (root / "path.sh").write_text(f'export PATH="{Path(sys.executable).parent}:$PATH"\n')
    (root / "cmd.sh").write_text('train_cmd="utils/run.py"\n')
    (root / "conf").mkdir()
    (root / "conf" / "feats.conf").write_text("n_mels: 80\n")
    (root / "local").mkdir()
    for path, text in ((root / "local" / "step.sh", STEP), (root / "run.sh", HEADER + body)):
        path.write_text(text)
        path.chmod(0o755)
    return root


@pytest.fixture
def recipe(tmp_path):
    return make_recipe(tmp_path)


def run(recipe, *args, **env):
    return subprocess.run(["./run.sh", *args], cwd=recipe, capture_output=True, text=True,
                          env=dict(os.environ, **env))


def runs(recipe):
    """Every run of a stage (or of one of its jobs) so far, as sorted 'N' or 'N.job' words."""
    path = recipe / "runs.txt"
    return sorted(path.read_text().split()) if path.exists() else []


def test_first_run_makes_every_stage_and_stamps(recipe):
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    assert runs(recipe) == ["1", "2", "3.1", "3.2"]
    for stage in ("1: prepare", "2: features", "3: score"):
        assert f"Stage {stage}" in out.stderr
    assert (recipe / "exp/feats/made_by").read_text() == "2 (features)\n"   # $KDSPEECH_STAGE
    assert (recipe / "exp/score/made_by.2").read_text() == "3 (score)\n"
    assert (recipe / "exp/score/log/score.2.log").is_file()
    assert "stage 2 line 30" in (recipe / "exp/feats/log/feats.log").read_text()

    stamp = (recipe / "exp/feats/.done").read_text().splitlines()
    fields = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in stamp}
    assert len(fields["fingerprint"]) == 64
    assert fields["stage"] == "2" and fields["name"] == "features"
    assert fields["command"] == "local/step.sh 2 exp/feats"
    assert fields["conf"].startswith("conf/feats.conf ")
    prep_fingerprint = (recipe / "data/prep/.done").read_text().splitlines()[0].split()[1]
    assert fields["dep"] == f"data/prep {prep_fingerprint}"
    assert {"date", "kdspeech_git"} <= fields.keys()
    assert not list(recipe.glob("**/.done.tmp*"))


def test_rerun_skips_unchanged_stages(recipe):
    assert run(recipe).returncode == 0
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    assert runs(recipe) == ["1", "2", "3.1", "3.2"]   # nothing ran again
    assert "Stage 1 (prepare): data/prep up to date, skipped" in out.stderr
    assert "Stage 2 (features): exp/feats up to date, skipped" in out.stderr
    assert "Stage 3 (score): exp/score up to date, skipped" in out.stderr


def test_conf_change_reruns_that_stage_and_the_following_ones(recipe):
    assert run(recipe).returncode == 0
    (recipe / "conf/feats.conf").write_text("n_mels: 40\n")
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    assert runs(recipe) == ["1", "2", "2", "3.1", "3.1", "3.2", "3.2"]
    assert "data/prep up to date, skipped" in out.stderr
    # And then everything is up to date again.
    assert "exp/score up to date, skipped" in run(recipe).stderr


def test_command_change_reruns_downstream(recipe):
    assert run(recipe).returncode == 0
    # --nj is not part of the fingerprint: the command words keep the JOB token literally.
    out = run(recipe, "--nj", "3")
    assert runs(recipe) == ["1", "2", "3.1", "3.2"], out.stderr
    script = recipe / "run.sh"
    script.write_text(script.read_text().replace("local/step.sh 1 data/prep",
                                                 "local/step.sh 1 data/prep extra"))
    assert run(recipe).returncode == 0
    assert runs(recipe) == ["1", "1.extra", "2", "2", "3.1", "3.1", "3.2", "3.2"]


def test_rerun_of_upstream_with_same_fingerprint_keeps_downstream(recipe):
    assert run(recipe).returncode == 0
    (recipe / "data/prep/.done").unlink()
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    assert runs(recipe) == ["1", "1", "2", "3.1", "3.2"]
    assert "exp/feats up to date, skipped" in out.stderr


def test_failing_stage_leaves_no_stamp_and_prints_log_tail(recipe):
    assert run(recipe).returncode == 0
    (recipe / "conf/feats.conf").write_text("n_mels: 64\n")
    out = run(recipe, FAIL_STAGE="2")
    assert out.returncode == 1
    assert not (recipe / "exp/feats/.done").exists()
    assert "stage 2 (features) failed" in out.stderr
    assert "last 20 lines of exp/feats/log/feats.log" in out.stderr
    assert "stage 2 is failing" in out.stderr and "stage 2 line 30" in out.stderr
    tail = out.stderr.split("last 20 lines of exp/feats/log/feats.log", 1)[1]
    assert "stage 2 line 10\n" not in tail   # only the tail
    assert "Stage 3" not in out.stderr       # the run stopped
    # Fixed: the failed stage and the ones after it run again.
    assert run(recipe).returncode == 0
    assert runs(recipe) == ["1", "2", "2", "2", "3.1", "3.1", "3.2", "3.2"]


def test_failing_parallel_job_fails_the_stage(recipe):
    out = run(recipe, FAIL_STAGE="3")
    assert out.returncode == 1
    assert "stage 3 (score) failed" in out.stderr
    assert "JOB=1 (exit code 3), JOB=2 (exit code 3)" in out.stderr
    assert "last 20 lines of exp/score/log/score.1.log" in out.stderr
    assert "stage 3 is failing" in out.stderr
    assert not (recipe / "exp/score/.done").exists()
    assert (recipe / "exp/feats/.done").exists()


def test_missing_input_names_the_stage_that_makes_it(recipe):
    out = run(recipe, "--stage", "3")
    assert out.returncode == 1
    assert ("stage 3 (score): input exp/feats is missing or unfinished (no exp/feats/.done); "
            "it is made by stage 2 (features)") in out.stderr
    assert runs(recipe) == []


def test_missing_input_of_unknown_origin(tmp_path):
    recipe = make_recipe(tmp_path, 'stage_run 1 "train" --out exp/a --deps data/ext -- true\n')
    out = run(recipe)
    assert out.returncode == 1
    assert "input data/ext is missing or unfinished (no data/ext/.done); " \
           "it is made by an earlier stage" in out.stderr


def test_stage_ranges(recipe):
    out = run(recipe, "--stop_stage", "1")
    assert out.returncode == 0, out.stderr
    assert runs(recipe) == ["1"]
    assert "Stage 2" not in out.stderr
    assert run(recipe, "--stage", "2", "--stop-stage", "2").returncode == 0
    assert runs(recipe) == ["1", "2"]
    assert not (recipe / "exp/score").exists()
    assert run(recipe, "--stage", "3").returncode == 0
    assert runs(recipe) == ["1", "2", "3.1", "3.2"]


def test_set_e_holds_inside_a_shell_function_command(tmp_path):
    body = ('steps() { false; echo "not reached" > marker; }\n'
            'stage_run 1 "fn" --out exp/fn -- steps\n')
    recipe = make_recipe(tmp_path, body)
    out = run(recipe)
    assert out.returncode == 1
    assert "stage 1 (fn) failed (exit code 1)" in out.stderr
    assert not (recipe / "marker").exists()
    assert not (recipe / "exp/fn/.done").exists()


def test_shell_function_command_sees_recipe_variables(tmp_path):
    """stage_run's own locals must not hide the recipe's variables from a function command."""
    body = ('name=recipe_name\n'
            'write() { echo "$nj $name" > exp/v/values; }\n'
            'stage_run 1 "vars" --out exp/v -- write\n')
    recipe = make_recipe(tmp_path, body)
    out = run(recipe, "--nj", "7")
    assert out.returncode == 0, out.stderr
    assert (recipe / "exp/v/values").read_text() == "7 recipe_name\n"


def test_param_and_function_body_are_part_of_the_fingerprint(tmp_path):
    body = ('fs=16000\n'
            'make() { echo "$fs" >> runs.txt; echo "$fs" > exp/m/fs; }\n'
            'stage_run 1 "make" --out exp/m --param "fs=$fs" -- make\n')
    recipe = make_recipe(tmp_path, body)
    assert run(recipe).returncode == 0
    assert "param fs=16000" in (recipe / "exp/m/.done").read_text().splitlines()
    assert "up to date, skipped" in run(recipe).stderr
    script = recipe / "run.sh"
    script.write_text(script.read_text().replace("fs=16000", "fs=8000"))
    assert run(recipe).returncode == 0            # a changed --param re-runs
    assert runs(recipe) == ["16000", "8000"]
    script.write_text(script.read_text().replace("runs.txt;", "runs.txt; :;"))
    assert run(recipe).returncode == 0            # so does a changed function body
    assert runs(recipe) == ["16000", "8000", "8000"]


def test_change_in_a_function_the_command_calls_reruns(tmp_path):
    """Fingerprint scheme 2: every function the command reaches, not only the first one."""
    body = ('loss() { echo "ce" >> runs.txt; }\n'
            'train() { loss; echo done > exp/t/out; }\n'
            'unrelated() { echo other; }\n'
            'stage_run 1 "train" --out exp/t -- train\n')
    recipe = make_recipe(tmp_path, body)
    assert run(recipe).returncode == 0
    script = recipe / "run.sh"
    script.write_text(script.read_text().replace("echo other", "echo changed"))
    out = run(recipe)
    assert "exp/t up to date, skipped" in out.stderr   # a function it never calls
    assert runs(recipe) == ["ce"]
    script.write_text(script.read_text().replace('echo "ce"', 'echo "kl"'))
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    assert runs(recipe) == ["ce", "kl"]                # a function called inside `train`
    assert "re-running: the command, a shell function it calls or a --param changed" in out.stderr
    assert "up to date, skipped" in run(recipe).stderr


def test_stamp_of_the_old_scheme_reruns_and_says_why(recipe):
    assert run(recipe).returncode == 0
    stamp = recipe / "data/prep/.done"
    lines = stamp.read_text().splitlines()
    assert "scheme 3" in lines
    # A stamp as scheme 2 wrote it: no base line, another fingerprint.
    old = [f"fingerprint {'0' * 64}", "scheme 2"] + [l for l in lines[1:] if not l.startswith(("scheme", "base"))]
    stamp.write_text("\n".join(old) + "\n")
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    assert ("Stage 1 (prepare): re-running: data/prep/.done: stamp made by fingerprint scheme 2, "
            "now 3") in out.stderr
    assert runs(recipe) == ["1", "1", "2", "3.1", "3.2"]   # its fingerprint is the same as before
    assert "exp/feats up to date, skipped" in out.stderr


def test_rerun_names_the_changed_config_and_input(recipe):
    assert run(recipe).returncode == 0
    (recipe / "conf/feats.conf").write_text("n_mels: 40\n")
    out = run(recipe)
    assert "Stage 2 (features): re-running: config conf/feats.conf changed" in out.stderr
    assert "Stage 3 (score): re-running: input exp/feats changed" in out.stderr



def test_rerun_of_a_stage_with_many_changed_inputs_names_three_and_counts_the_rest(tmp_path):
    outs = " ".join(f"--out exp/m{i}" for i in range(1, 6))
    deps = " ".join(f"--deps exp/m{i}" for i in range(1, 6))
    body = (f'stage_run 1 "models" {outs} --conf conf/feats.conf -- local/step.sh 1 exp/m1\n'
            f'stage_run 2 "results" --out exp/results {deps} -- local/step.sh 2 exp/results\n')
    recipe = make_recipe(tmp_path, body)
    assert run(recipe).returncode == 0
    (recipe / "conf/feats.conf").write_text("n_mels: 40\n")
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    assert ("Stage 2 (results): re-running: 5 inputs changed: exp/m1, exp/m2, exp/m3 and 2 more"
            in out.stderr)


INPUTS_STAGES = """\
stage_run 1 "prepare" --out data/prep --param "n=$nj" -- local/env.sh data/prep
stage_run 2 "train" --out exp/train --deps data/prep --conf conf/feats.conf -- local/env.sh exp/train
"""


def test_inputs_fingerprint_covers_the_deps_only(tmp_path):
    recipe = make_recipe(tmp_path, INPUTS_STAGES)
    env_sh = recipe / "local/env.sh"
    env_sh.write_text('#!/usr/bin/env bash\n'
                      'echo "$KDSPEECH_STAGE_FINGERPRINT $KDSPEECH_STAGE_INPUTS" >> "$1/seen"\n')
    env_sh.chmod(0o755)

    def seen():
        return [line.split() for line in (recipe / "exp/train/seen").read_text().splitlines()]

    assert run(recipe).returncode == 0
    assert run(recipe, "--nj", "2").returncode == 0   # unchanged: skipped
    assert len(seen()) == 1
    (recipe / "conf/feats.conf").write_text("n_mels: 80  # a comment\n")
    assert run(recipe).returncode == 0
    (first, first_inputs), (second, second_inputs) = seen()
    assert first != second and first_inputs == second_inputs   # config edit: same inputs
    stamp = (recipe / "exp/train/.done").read_text().splitlines()
    assert f"base {second}" in stamp and f"inputs {second_inputs}" in stamp
    assert run(recipe, "--nj", "3").returncode == 0             # the input changed
    assert seen()[2][1] != second_inputs
    no_deps = (recipe / "data/prep/seen").read_text().split()
    assert len(no_deps[1]) == 64 and no_deps[1] != no_deps[0]   # a stage without --deps has one too


def test_warnings_of_runner_logs_reach_the_terminal(tmp_path):
    body = ('stage_run 1 "warn" --out exp/w --nj 2 --cmd "$train_cmd" --log exp/w/log/w.JOB.log -- '
            'bash -c "echo \\"2026-01-01 (x:1) WARNING: odd rate in job JOB\\"; echo quiet line"\n')
    recipe = make_recipe(tmp_path, body)
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    assert "stage 1 (warn): warnings in exp/w/log/w.*.log:" in out.stderr
    assert "WARNING: odd rate in job 1" in out.stderr and "WARNING: odd rate in job 2" in out.stderr
    assert "quiet line" not in out.stderr


FOLDS = """\
. utils/parallel.sh
stage_fold() {
  stage_run 1 "fold $1" --out "exp/fold$1" --nj 1 --cmd "$train_cmd" --log "exp/fold$1/log/train.JOB.log" -- \\
    train_fold_cmd "$1"
}
parallel_each "$nj" "1 2 3" stage_fold
log "not reached"
"""


def test_a_failed_fold_stops_the_folds_training_beside_it(tmp_path):
    recipe = make_recipe(tmp_path, FOLDS)
    cmd = recipe / "train_fold_cmd"
    cmd.write_text('#!/usr/bin/env bash\nif [ "$1" = 2 ]; then sleep 1; echo "fold 2 diverged"; exit 5; fi\n'
                   'sleep 60\n')
    cmd.chmod(0o755)
    start = time.monotonic()
    out = run(recipe, "--nj", "3", PATH=f"{recipe}:{os.environ['PATH']}")
    assert time.monotonic() - start < 30, "the other folds ran on"
    assert out.returncode == 1
    assert "stage 1 (fold 2) failed" in out.stderr and "fold 2 diverged" in out.stderr
    assert "parallel_each: 'stage_fold 2' failed (exit code 1); stopping the 2 still running" in out.stderr
    assert "not reached" not in out.stderr
    assert not list(recipe.glob("exp/fold*/.done"))
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "sleep 60" not in [line.strip() for line in ps.splitlines()]


# --- external inputs (--inputs) and training progress (--progress) --------------------------------

EXTERNAL = """\\
. ./db.sh
stage_run 1 "data" --out data/all --inputs "$csv" --inputs "$corpus" -- local/data.sh
stage_run 2 "features" --out dump/feats --deps data/all -- local/feats.sh
"""


@pytest.fixture
def external(tmp_path):
    (tmp_path / "recipe").mkdir()
    recipe = make_recipe(tmp_path / "recipe", EXTERNAL)
    (recipe / "db.sh").write_text('csv=${KD_CSV:-../clips.csv}\ncorpus=${KD_CORPUS:-../corpus}\n')
    for name, stage in (("data.sh", "1"), ("feats.sh", "2")):
        (recipe / "local" / name).write_text(f"#!/usr/bin/env bash\necho {stage} >> runs.txt\n")
        (recipe / "local" / name).chmod(0o755)
    (tmp_path / "clips.csv").write_text("path,label,fold\na.wav,dog,1\nb.wav,cat,2\n")
    (tmp_path / "corpus" / "audio").mkdir(parents=True)
    for name in ("a.wav", "b.wav"):
        (tmp_path / "corpus" / "audio" / name).write_bytes(b"RIFF" + name.encode())
    assert run(recipe).returncode == 0
    assert runs(recipe) == ["1", "2"]
    out = run(recipe)
    assert "data/all up to date, skipped" in out.stderr and runs(recipe) == ["1", "2"]
    return recipe


def test_a_changed_csv_row_reruns_the_data_stage_and_what_follows(external):
    csv = external.parent / "clips.csv"
    csv.write_text(csv.read_text().replace("b.wav,cat,2", "b.wav,cow,2"))   # same size
    out = run(external)
    assert out.returncode == 0, out.stderr
    assert runs(external) == ["1", "1", "2", "2"]
    assert "Stage 1 (data): re-running: input file ../clips.csv changed" in out.stderr
    assert "Stage 2 (features): re-running: input data/all changed" in out.stderr
    stamp = (external / "data/all/.done").read_text()
    assert f"input\t../clips.csv\tfile:" in stamp and str(csv) in stamp


def test_an_added_removed_or_replaced_corpus_file_reruns_the_data_stage(external):
    audio = external.parent / "corpus" / "audio"
    (audio / "c.wav").write_bytes(b"RIFFc")
    out = run(external)
    assert runs(external) == ["1", "1", "2", "2"], out.stderr
    assert "input folder ../corpus changed (1 file added, e.g. audio/c.wav)" in out.stderr
    (audio / "a.wav").unlink()
    out = run(external)
    assert "input folder ../corpus changed (1 removed, e.g. audio/a.wav)" in out.stderr
    (audio / "b.wav").write_bytes(b"RIFF a longer replacement")
    out = run(external)
    assert "input folder ../corpus changed (1 changed, e.g. audio/b.wav)" in out.stderr
    (audio / "c.wav").write_bytes(b"RIFFd")   # same size, new content
    out = run(external)
    assert "input folder ../corpus changed (1 changed, e.g. audio/c.wav)" in out.stderr
    assert runs(external) == ["1"] * 5 + ["2"] * 5
    assert "up to date, skipped" in run(external).stderr and len(runs(external)) == 10
    manifest = (external / "data/all/.done.inputs").read_text().splitlines()
    import hashlib
    assert [line.split("\t")[1] for line in manifest] == ["audio/b.wav", "audio/c.wav"]
    assert manifest[1].split("\t")[4] == hashlib.sha256(b"RIFFd").hexdigest()


def test_a_touched_or_copied_corpus_leaves_its_stages_up_to_date(external):
    """Files compared by content: new times alone (a corpus copied, restored, or touched, as a machine
    that restores a shared folder does) re-run nothing; the new times are recorded, so that the files
    are not read again."""
    import os
    audio = external.parent / "corpus" / "audio"
    for name in ("a.wav", "b.wav"):
        os.utime(audio / name, ns=(10**18, 10**18))
    out = run(external)
    assert out.returncode == 0, out.stderr
    assert "data/all up to date, skipped" in out.stderr and runs(external) == ["1", "2"], out.stderr
    manifest = (external / "data/all/.done.inputs").read_text()
    assert manifest.count(f"\t{10**18}\t") == 2
    # At the manifest's size and time a file is not read (git's rule): same-size bytes written under
    # the recorded time go unnoticed, which shows that the check was a stat.
    (audio / "a.wav").write_bytes(b"RIFFx.wav")
    os.utime(audio / "a.wav", ns=(10**18, 10**18))
    out = run(external)
    assert "data/all up to date, skipped" in out.stderr and len(runs(external)) == 2, out.stderr
    # A stamp of the time before contents counted (its folder hash over times, its manifest without
    # hashes) re-runs once, saying why.
    (audio / "a.wav").write_bytes(b"RIFFa.wav")
    manifest = external / "data/all/.done.inputs"
    manifest.write_text("".join("\t".join(l.split("\t")[:4]) + "\n" for l in manifest.read_text().splitlines()))
    stamp = external / "data/all/.done"
    stamp.write_text(stamp.read_text().replace("folder:", "folder:0").replace("\nbase ", "\nbase 0"))
    out = run(external)
    assert "input folder ../corpus changed (its last manifest has times, not contents" in out.stderr, out.stderr
    # (its new fingerprint is the one stage 2 recorded, since only the stamp was edited here)
    assert runs(external) == ["1", "1", "2"], out.stderr
    assert "up to date, skipped" in run(external).stderr and len(runs(external)) == 3


LISTED = """\
stage_run 1 "data" --out data/all --inputs_listed "$1" -- local/data.sh
"""


@pytest.mark.parametrize("kind", ["csv", "data_dir"])
def test_inputs_listed_are_the_list_and_the_files_it_names_only(tmp_path, kind):
    """--inputs_listed: a CSV (or a data dir) and the files it lists, wherever they lie; nothing else
    around them (issue 20: a CSV in the recipe's folder re-ran stage 1 on every call)."""
    (tmp_path / "recipe").mkdir()
    recipe = make_recipe(tmp_path / "recipe", LISTED)
    (recipe / "local" / "data.sh").write_text("#!/usr/bin/env bash\necho 1 >> runs.txt\nmkdir -p data/all\n")
    (recipe / "local" / "data.sh").chmod(0o755)
    clips = tmp_path / "elsewhere"
    clips.mkdir()
    for name in ("a.wav", "b.wav"):
        (clips / name).write_bytes(b"RIFF" + name.encode())
    if kind == "csv":
        listing = recipe / "my.csv"   # inside the recipe: its data/ and runs.txt change on every run
        listing.write_text(f"path,label\n{clips / 'a.wav'},dog\n{clips / 'b.wav'},cat\n")
    else:
        listing = tmp_path / "mine"
        listing.mkdir()
        (listing / "wav.scp").write_text(f"a {clips / 'a.wav'}\nb {clips / 'b.wav'}\nc sox x.flac -t wav - |\n")
    assert run(recipe, str(listing)).returncode == 0
    (clips / "unlisted.wav").write_bytes(b"RIFF")
    out = run(recipe, str(listing))
    assert "data/all up to date, skipped" in out.stderr and runs(recipe) == ["1"], out.stderr
    (clips / "b.wav").write_bytes(b"RIFF, replaced")
    out = run(recipe, str(listing))
    assert runs(recipe) == ["1", "1"], out.stderr
    assert (f"Stage 1 (data): re-running: input {listing} or a file it lists changed (1 changed, "
            f"e.g. {clips / 'b.wav'})") in out.stderr
    edited = listing if kind == "csv" else listing / "wav.scp"   # an edited list (a row, a command)
    edited.write_text(edited.read_text().replace("cat", "cow").replace("x.flac", "y.flac"))
    out = run(recipe, str(listing))
    assert runs(recipe) == ["1", "1", "1"], out.stderr
    assert "or a file it lists changed" in out.stderr


def test_a_stage_without_external_inputs_keeps_its_fingerprint(recipe):
    assert run(recipe).returncode == 0
    stamp = (recipe / "exp/feats/.done").read_text()
    assert "\ninput\t" not in stamp and not (recipe / "exp/feats/.done.inputs").exists()
    # The base of a stage without --inputs is what it was before --inputs existed: sha256 over
    # scheme, code, configs, its scripts and the hash of its deps' fingerprints; its fingerprint is
    # sha256 over the base and the library code it ran (none here: no Python).
    import hashlib
    fields = dict(line.split(" ", 1) for line in stamp.splitlines() if " " in line)
    dep = fields["dep"].split()[1]
    inputs = hashlib.sha256(f"dep\0{dep}\0".encode()).hexdigest()
    conf = hashlib.sha256((recipe / "conf/feats.conf").read_bytes()).hexdigest()
    step = hashlib.sha256((recipe / "local/step.sh").read_bytes()).hexdigest()
    assert fields["script"] == f"local/step.sh {step}"
    base = hashlib.sha256(f"scheme\x003\0code\0{fields['code']}\0conf\0{conf}\n"
                          f"scripts\0script local/step.sh {step}\ninputs\0{inputs}".encode()).hexdigest()
    expect = hashlib.sha256(f"base\0{base}\0library\0".encode()).hexdigest()
    assert fields["inputs"] == inputs and fields["base"] == base and fields["fingerprint"] == expect


PROGRESS = """\
stage_run 1 "train" --out exp/t --progress exp/t -- local/train.sh exp/t
"""

FAKE_TRAINER = """\
#!/usr/bin/env bash
mkdir -p "$1/log"; printf 'trainer:\\n  max_epochs: 3\\n' > "$1/config.yaml"
for e in 1 2 3; do
  echo "2026-01-01 10:00:0$e (trainer:305) INFO: epoch $e: train loss 1.$e, valid loss 2.$e (best), lr 0.001, 10.0 s" \\
    >> "$1/log/train.log"
  sleep 0.3
done
"""


def test_progress_prints_one_line_per_epoch_with_the_time_left(tmp_path):
    """The follower shows every epoch even when it opens the log after the training wrote to it (here a
    `tail` that starts 1 s late, as on a busy machine: one that began at the log's end missed them)."""
    recipe = make_recipe(tmp_path, PROGRESS)
    (recipe / "local/train.sh").write_text(FAKE_TRAINER)
    (recipe / "local/train.sh").chmod(0o755)
    slow = tmp_path / "slow_bin"
    slow.mkdir()
    real_tail = shutil.which("tail")
    (slow / "tail").write_text(f'#!/usr/bin/env bash\nsleep 1\nexec {real_tail} "$@"\n')
    (slow / "tail").chmod(0o755)
    out = run(recipe, PATH=f"{slow}:{os.environ['PATH']}")
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stderr.splitlines() if "exp/t: epoch" in l]
    assert [l.split("  ", 1)[1] for l in lines] == [
        "exp/t: epoch 1/3, train loss 1.1, valid loss 2.1 (best), 10.0 s/epoch, about 20 s left",
        "exp/t: epoch 2/3, train loss 1.2, valid loss 2.2 (best), 10.0 s/epoch, about 10 s left",
        "exp/t: epoch 3/3, train loss 1.3, valid loss 2.3 (best), 10.0 s/epoch"], out.stderr
    # The follower of this stage's log ended with it (other sessions' followers may be running).
    assert f"-- exp/t/log/train.log" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    # The option is not part of the fingerprint.
    script = recipe / "run.sh"
    script.write_text(script.read_text().replace(" --progress exp/t", ""))
    assert "up to date, skipped" in run(recipe).stderr


# Epoch lines 0.5 s apart after a second of start-up (the follower, `tail -n 0 -F`, must have opened the
# log by then, as it has for a real training), then a mark of its end: the console must show an epoch
# line before that.
LIVE_TRAINER = """\
#!/usr/bin/env bash
mkdir -p "$1/log"; printf 'trainer:\\n  max_epochs: 6\\n' > "$1/config.yaml"
sleep 1
for e in 1 2 3 4 5 6; do
  echo "2026-01-01 10:00:0$e (trainer:305) INFO: epoch $e: train loss 1.$e, valid loss 2.$e, lr 0.001, 0.5 s" \\
    >> "$1/log/train.log"
  sleep 0.5
done
touch "$1/finished"
"""


def test_progress_lines_reach_a_pipe_while_the_training_runs(tmp_path):
    """The follower's awk must read its pipe line by line (mawk buffers 4 KiB unless -W interactive)."""
    recipe = make_recipe(tmp_path, PROGRESS)
    (recipe / "local/train.sh").write_text(LIVE_TRAINER)
    (recipe / "local/train.sh").chmod(0o755)
    proc = subprocess.Popen(["./run.sh"], cwd=recipe, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = next((l for l in iter(proc.stdout.readline, "") if "exp/t: epoch " in l), None)
        assert line is not None and not (recipe / "exp/t/finished").exists(), \
            "the first epoch's line arrived only when the training had ended"
    finally:
        rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, rest


SLOWING_TRAINER = """\
#!/usr/bin/env bash
mkdir -p "$1/log"; printf 'trainer:\\n  max_epochs: 6\\n' > "$1/config.yaml"
for e in 1 2 3 4; do
  secs=10.0; [ "$e" = 1 ] && secs=40.0
  echo "2026-01-01 10:00:0$e (trainer:305) INFO: epoch $e: train loss 1.$e, valid loss 2.$e, lr 0.001, $secs s" \\
    >> "$1/log/train.log"
  sleep 0.3
done
"""


def test_time_left_comes_from_the_last_epochs_not_the_whole_run(tmp_path):
    recipe = make_recipe(tmp_path, PROGRESS)
    (recipe / "local/train.sh").write_text(SLOWING_TRAINER)
    (recipe / "local/train.sh").chmod(0o755)
    out = run(recipe)
    assert out.returncode == 0, out.stderr
    left = [l.rsplit(", ", 1)[1] for l in out.stderr.splitlines() if "exp/t: epoch" in l]
    # A slow first epoch (start-up) is out of the estimate 3 epochs later: 2 epochs x 10 s, not x 17.5 s.
    assert left == ["about 3 min left", "about 2 min left", "about 60 s left", "about 20 s left"], out.stderr


# Prints a line every 0.2 s with Python's default buffering (no -u), then marks its end.
TICKS = """\
import pathlib, sys, time
for i in range(15):
    print(f"tick {i}")
    time.sleep(0.2)
pathlib.Path(sys.argv[1], "finished").write_text("")
"""


@pytest.mark.parametrize("how", ["direct", "log", "cmd"])
def test_each_line_of_a_stage_is_seen_when_it_is_written(tmp_path, how):
    opts = {"direct": "", "log": "--log exp/a/log/ticks.log", "cmd": '--cmd "$train_cmd" --log exp/a/log/ticks.log'}
    recipe = make_recipe(tmp_path, f'stage_run 1 "ticks" --out exp/a {opts[how]} -- python local/ticks.py exp/a\n')
    (recipe / "local/ticks.py").write_text(TICKS)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    # Through a pipe, as `./run.sh | tee run.log` or a CI runner reads it.
    proc = subprocess.Popen(["./run.sh"], cwd=recipe, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    finished = recipe / "exp/a/finished"
    try:
        if how == "cmd":   # the job runner writes to the job's log (Kaldi style): its reader sees it live
            log = recipe / "exp/a/log/ticks.log"
            deadline = time.time() + 60
            while not (log.exists() and "tick 0" in log.read_text()) and time.time() < deadline:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.05)
            seen = log.exists() and "tick 0" in log.read_text()
        else:
            seen = any(line.strip() == "tick 0" for line in iter(proc.stdout.readline, "")
                       if line.strip() == "tick 0" or finished.exists())
        assert seen and not finished.exists(), "the first line arrived only when the command had ended"
    finally:
        rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, rest
