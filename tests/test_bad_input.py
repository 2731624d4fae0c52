"""Bad input through a real stage: one clear error naming the file (or line) and the stage, no stamp."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]

STAGE_SCRIPT = textwrap.dedent("""\
    #!/usr/bin/env bash
    set -euo pipefail
    stage=1
    stop_stage=100
    . utils/parse_options.sh
    . utils/stage.sh
    stage_run 2 "resample" --out dump/x -- python -m kdspeech.bin.resample_data_dir --src data/x --dst dump/x --sr 16000
    stage_run 3 "mix" --out dump/mix --deps dump/x -- bash -c \\
      'python -m kdspeech.bin.mix_data_dir --clean dump/x --noise data/noise --out dump/mix --snrs 0 --sr 16000 --plan &&
       python -m kdspeech.bin.mix_data_dir --clean dump/x --noise data/noise --out dump/mix --snrs 0 --sr 16000 --job 1 --nj 1'
    """)


def write_dir(root, entries, extra=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "wav.scp").write_text("".join(f"{u} {p}\n" for u, p in entries))
    for name, text in (extra or {}).items():
        (root / name).write_text(text)


@pytest.fixture
def recipe(tmp_path, tmp_wav):
    (tmp_path / "utils").symlink_to(REPO / "utils")
    (tmp_path / "run.sh").write_text(STAGE_SCRIPT)
    (tmp_path / "run.sh").chmod(0o755)
    good = [tmp_wav(f"audio/u{i}.wav", dur=0.5, seed=i) for i in range(3)]
    noise = tmp_wav("audio/noise.wav", dur=2.0, seed=9)
    write_dir(tmp_path / "data" / "noise", [("n1", noise)])
    return tmp_path, good


def run(recipe_dir, *args):
    # The scripts call `python`: the interpreter running the tests (what path.sh would activate).
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["./run.sh", *args], cwd=recipe_dir, capture_output=True, text=True,
                          timeout=120, env=env)


def break_dir(case, root, good, tmp_path):
    """Write data/x for one kind of bad input; return a string the error must contain."""
    x = root / "data" / "x"
    entries = [("u0", good[0]), ("u1", good[1]), ("u2", good[2])]
    if case == "missing audio file":
        entries[1] = ("u1", root / "audio" / "absent.wav")
        write_dir(x, entries)
        return "absent.wav"
    if case == "truncated file":
        data = Path(good[1]).read_bytes()
        (root / "audio" / "cut.wav").write_bytes(data[: len(data) // 2])
        entries[1] = ("u1", root / "audio" / "cut.wav")
        write_dir(x, entries)
        return "cut.wav"
    if case == "garbage file":
        (root / "audio" / "junk.wav").write_bytes(b"this is not audio" * 100)
        entries[1] = ("u1", root / "audio" / "junk.wav")
        write_dir(x, entries)
        return "junk.wav"
    if case == "stereo file":
        sf.write(root / "audio" / "st.wav", np.zeros((8000, 2), dtype=np.float32), 16000)
        entries[1] = ("u1", root / "audio" / "st.wav")
        write_dir(x, entries)
        return "st.wav"
    if case == "empty wav.scp":
        write_dir(x, [])
        return "wav.scp"
    if case == "duplicate ids":
        write_dir(x, [entries[0], entries[0], entries[2]])
        return "wav.scp:2"
    if case == "unsorted ids":
        write_dir(x, [entries[1], entries[0], entries[2]])
        return "wav.scp:2"
    if case == "text names an utterance missing from wav.scp":
        write_dir(x, entries, {"text": "u0 A\nu1 B\nu2 C\nu3 D\n"})
        return "text:4"
    raise AssertionError(case)


CASES = ["missing audio file", "truncated file", "garbage file", "stereo file", "empty wav.scp",
         "duplicate ids", "unsorted ids", "text names an utterance missing from wav.scp"]


@pytest.mark.parametrize("case", CASES)
def test_bad_data_fails_the_stage_clearly(recipe, case, tmp_path):
    root, good = recipe
    must_name = break_dir(case, root, good, tmp_path)
    proc = run(root, "--stop_stage", "2")
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR [stage 2 (resample)]")]
    assert errors, proc.stderr[-2000:]
    assert must_name in errors[0], errors[0]
    assert not (root / "dump" / "x" / ".done").exists()


def test_sample_rate_other_than_the_recipes(recipe, tmp_wav):
    root, good = recipe
    write_dir(root / "data" / "x", [("u0", good[0])])
    assert run(root, "--stop_stage", "2").returncode == 0
    # The noise dir is at 8 kHz while the recipe mixes at 16 kHz: an error, not a silent resample.
    write_dir(root / "data" / "noise", [("n1", tmp_wav("audio/n8k.wav", dur=2.0, sr=8000))])
    proc = run(root, "--stage", "3")
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR [stage 3 (mix)]")]
    assert errors and "8000" in errors[0] and "16000" in errors[0], proc.stderr[-2000:]
    assert not (root / "dump" / "mix" / ".done").exists()


def test_missing_input_names_the_stage_that_makes_it(recipe):
    root, good = recipe
    write_dir(root / "data" / "x", [("u0", good[0])])
    proc = run(root, "--stage", "3")
    assert proc.returncode == 1
    assert "dump/x" in proc.stderr and "made by stage 2 (resample)" in proc.stderr


def test_unknown_config_key_fails_the_training_stage(tmp_path):
    shutil.copy(REPO / "egs/mini_espeak/enh/conf/train_student.yaml", tmp_path / "c.yaml")
    with open(tmp_path / "c.yaml", "a") as f:
        f.write("trainer: {max_epoch: 3}\n")
    (tmp_path / "utils").symlink_to(REPO / "utils")
    script = ("#!/usr/bin/env bash\nset -euo pipefail\nstage=1\nstop_stage=9\n. utils/parse_options.sh\n"
              ". utils/stage.sh\nstage_run 4 \"train\" --out exp/m -- python -m kdspeech.bin.train "
              "--config c.yaml --train_data d --valid_data d --out_dir exp/m\n")
    (tmp_path / "run.sh").write_text(script)
    (tmp_path / "run.sh").chmod(0o755)
    proc = run(tmp_path)
    assert proc.returncode == 1
    assert "ERROR [stage 4 (train)] c.yaml: unknown config key 'trainer.max_epoch'" in proc.stderr
    assert not (tmp_path / "exp" / "m" / ".done").exists()


RATE_SCRIPT = textwrap.dedent("""\
    #!/usr/bin/env bash
    set -euo pipefail
    strict_rate=false   # fail when the corpus is not at one rate
    . utils/parse_options.sh
    . utils/stage.sh
    stage_run 2 "resample" --out dump/x -- python -m kdspeech.bin.resample_data_dir --src data/x --dst dump/x \\
      --sr 16000 --strict_rate "$strict_rate"
    """)


def test_a_file_at_another_rate_is_named_and_fails_a_strict_recipe(recipe, tmp_wav):
    root, good = recipe
    odd = tmp_wav("audio/u2_8k.wav", dur=0.5, sr=8000)
    write_dir(root / "data" / "x", [("u0", good[0]), ("u1", good[1]), ("u2", odd)])
    (root / "run.sh").write_text(RATE_SCRIPT)
    proc = run(root, "--strict_rate", "true")
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR [stage 2 (resample)]")]
    assert errors and f"u2 at 8000 Hz ({odd})" in errors[0] and "not at 16000 Hz" in errors[0]
    assert not (root / "dump" / "x" / ".done").exists()
    proc = run(root)                       # not strict: resampled, with a warning naming the file
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "WARNING" in proc.stderr and f"u2 at 8000 Hz ({odd})" in proc.stderr
    assert (root / "dump" / "x" / ".done").exists()


TRIAL_STAGE = textwrap.dedent("""\
    #!/usr/bin/env bash
    set -euo pipefail
    . utils/parse_options.sh
    . utils/stage.sh
    stage_run 7 "score trials" --out exp/t -- python -m kdspeech.bin.score --metrics eer,min_dcf \\
      --trials data/test/trials --trial_scores exp/scores --out_dir exp/t
    """)


def test_bad_trials_and_scores_fail_the_scoring_stage_naming_the_lines(tmp_path):
    (tmp_path / "utils").symlink_to(REPO / "utils")
    (tmp_path / "run.sh").write_text(TRIAL_STAGE)
    (tmp_path / "run.sh").chmod(0o755)
    test = tmp_path / "data" / "test"
    test.mkdir(parents=True)
    (tmp_path / "exp").mkdir()
    trials = ["a1 a2 target", "a1 b1 nontarget", "a2 b1 nontarget", "b1 b2 target"]
    scores = ["a1 a2 0.9", "a1 b1 0.1", "a2 b1 0.2", "b1 b2 0.8"]
    (test / "trials").write_text("\n".join(trials + ["b1 a2 nontarget"]) + "\n")    # line 3 again, swapped
    (tmp_path / "exp" / "scores").write_text("\n".join(scores) + "\n")
    proc = run(tmp_path)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR [stage 7 (score trials)]")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr[-2000:]
    assert "data/test/trials:5: trial 'b1 a2 nontarget' swaps the trial 'a2 b1 nontarget' of data/test/trials:3" \
        in errors[0]
    assert not (tmp_path / "exp" / "t" / "summary.json").exists() and not (tmp_path / "exp" / "t" / ".done").exists()
    (test / "trials").write_text("\n".join(trials) + "\n")
    (tmp_path / "exp" / "scores").write_text("\n".join(scores[:2] + scores[3:]) + "\n")   # a trial not scored
    proc = run(tmp_path)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR [stage 7 (score trials)]")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr[-2000:]
    assert "exp/scores: 1 trial(s) of data/test/trials have no score (e.g. a2 b1, data/test/trials:3)" in errors[0]
    assert not (tmp_path / "exp" / "t" / "summary.json").exists() and not (tmp_path / "exp" / "t" / ".done").exists()
    (tmp_path / "exp" / "scores").write_text("\n".join(scores) + "\n")
    proc = run(tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "exp" / "t" / "summary.json").exists() and (tmp_path / "exp" / "t" / ".done").exists()
