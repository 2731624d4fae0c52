"""egs/TEMPLATE/<task>/setup.sh: a new recipe for your own corpus, as a newcomer makes one (issue 20
item 6): links to the template, utils/ and the shared paper list, db.sh with data_inputs, local/data.sh
whose header states its interface, conf/cpu (the smallest scale, the default) and run.sh with the
systems list.  An enh recipe made for a folder corpus built from ../shared/corpora runs to a
RESULTS.md; the spk, pse and cls recipes run their data preparation on folders of real files."""

import os
import subprocess
from pathlib import Path

import pytest

import recipe_helpers as helpers

TEMPLATE = helpers.REPO / "egs" / "TEMPLATE"


def setup(task, dest):
    proc = subprocess.run([str(TEMPLATE / task / "setup.sh"), str(dest)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


def link(folder, files):
    """``folder`` holding a symbolic link to each of ``files`` (under ``<folder>/<name>`` keys)."""
    for name, target in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).symlink_to(target)
    return folder


def librispeech(corpora, subset, speakers, per_speaker):
    """``{<speaker>/<file>: path}``: the first utterances of the first speakers of a subset."""
    root = corpora / "librispeech" / "LibriSpeech" / subset
    out = {}
    for speaker in sorted(root.iterdir(), key=lambda p: p.name)[:speakers]:
        for path in sorted(speaker.rglob("*.flac"))[:per_speaker]:
            out[f"{speaker.name}/{path.name}"] = path
    return out


def run(recipe, *args, env):
    return subprocess.run(["./run.sh", *args], cwd=recipe, capture_output=True, text=True, env=env, timeout=900)


def test_setup_makes_a_linked_recipe_and_refuses_an_existing_dir(tmp_path):
    recipe = tmp_path / "egs" / "mine" / "enh"
    out = setup("enh", recipe).stdout
    assert "made " in out and "db.sh" in out
    for name, target in (("enh.sh", "egs/TEMPLATE/enh/enh.sh"), ("utils", "utils"),
                         ("local/snr_teachers.sh", "egs/librispeech/enh/local/snr_teachers.sh")):
        assert (recipe / name).is_symlink() and not os.path.isabs(os.readlink(recipe / name)), name
        assert (recipe / name).resolve() == (helpers.REPO / target).resolve(), name
    header = (recipe / "local" / "data.sh").read_text()
    for words in ("--out", "--seed", "clean_train", "clean_valid", "clean_test", "noise_train",
                  "noise_test    the unseen test noise"):
        assert words in header, words
    assert "data_inputs=(" in (recipe / "db.sh").read_text()
    assert 'conf_dir=conf/cpu' in (recipe / "run.sh").read_text()
    assert (recipe / "conf" / "cpu" / "scale.sh").is_file()
    proc = subprocess.run([str(TEMPLATE / "enh" / "setup.sh"), str(recipe)], capture_output=True, text=True)
    assert proc.returncode == 1 and "exists" in proc.stderr
    help_text = subprocess.run(["./run.sh", "--help"], cwd=recipe, capture_output=True, text=True,
                               env=helpers.recipe_env()).stdout
    assert "--conf_dir" in help_text and "--teacher_snrs" in help_text and "--test_sets" in help_text


def test_an_enh_recipe_for_a_folder_corpus_runs_to_results(corpora, tmp_path):
    folders = tmp_path / "corpus"
    link(folders / "clean" / "train", librispeech(corpora, "train-clean-100", 8, 1))
    link(folders / "clean" / "test", librispeech(corpora, "test-other", 3, 1))
    link(folders / "noise" / "train", {n: corpora / "noise" / "noisex92" / n for n in ("babble.flac", "white.flac")})
    link(folders / "noise" / "test", {p.name: p for p in sorted((corpora / "noise" / "nonspeech").glob("*.flac"))[:2]})
    recipe = tmp_path / "egs" / "mine" / "enh"
    setup("enh", recipe)
    env = helpers.recipe_env()
    env.update(CLEAN_TRAIN=str(folders / "clean" / "train"), CLEAN_TEST=str(folders / "clean" / "test"),
               NOISE_TRAIN=str(folders / "noise" / "train"), NOISE_TEST=str(folders / "noise" / "test"))
    proc = run(recipe, "--nj", "1", "--local_data_opts", "--max_utts 6 --valid_utts 2", "--score_teachers", "false",
               "--train_args", "trainer.max_epochs=1", "--test_mix_per_utt", "2", "--metrics", "si_sdr", env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert [len((recipe / "data" / d / "wav.scp").read_text().splitlines())
            for d in ("clean_train", "clean_valid", "clean_test", "noise_train", "noise_test")] == [6, 2, 3, 2, 2]
    text = (recipe / "exp" / "results" / "RESULTS.md").read_text()
    for row in ("| noisy/test_unseen |", "| student_s1/test_seen |", "| student_s2/test_unseen |"):
        assert row in text, row
    assert "no committed results at `RESULTS.md`" in proc.stdout
    # Mixtures of your own with input SNRs (a copy of the lists of test_seen, no stamp): the paper's
    # per-teacher ranges and by-SNR comparison apply to them as to the recipe's own sets.
    mine = tmp_path / "my_mixtures"
    mine.mkdir()
    for name in ("wav.scp", "spk1.scp", "utt2snr", "utt2spk"):
        (mine / name).write_text((recipe / "dump" / "mix" / "test_seen" / name).read_text())
    proc = run(recipe, "--nj", "1", "--stage", "5", "--skip_train", "true", "--test_sets", str(mine),
               "--test_mix_per_utt", "2", "--metrics", "si_sdr", env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    for k in (1, 2):
        assert (recipe / "exp" / f"teacher_{k}" / f"score_my_mixtures_teacher_{k}" / "summary.json").is_file()
    text = (recipe / "exp" / "results" / "RESULTS.md").read_text()
    assert "| teacher_1/my_mixtures (" in text and "student_s2/my_mixtures against student_s1/my_mixtures by input SNR" in text
    # Nothing changed: stage 1 (the corpus folders are its inputs) is skipped.
    again = run(recipe, "--nj", "1", "--local_data_opts", "--max_utts 6 --valid_utts 2", "--score_teachers", "false",
                "--train_args", "trainer.max_epochs=1", "--test_mix_per_utt", "2", "--metrics", "si_sdr",
                "--stop_stage", "1", env=env)
    assert "Stage 1 (data preparation): data/clean_train data/clean_valid" in again.stderr
    assert "up to date, skipped" in again.stderr


@pytest.mark.parametrize("task", ["spk", "pse", "cls"])
def test_every_task_template_makes_a_recipe_whose_data_preparation_runs(task, corpora, tmp_path):
    recipe = tmp_path / "egs" / "mine" / task
    setup(task, recipe)
    assert (recipe / f"{task}.sh").resolve() == (TEMPLATE / task / f"{task}.sh").resolve()
    assert "Interface." in (recipe / "local" / "data.sh").read_text()
    env = helpers.recipe_env()
    if task == "spk":
        env.update(SPK_TRAIN=str(link(tmp_path / "train", librispeech(corpora, "test-other", 6, 2))),
                   SPK_TEST=str(link(tmp_path / "test", {k: v for k, v in librispeech(corpora, "test-other", 9, 2).items()
                                                          if k.split("/")[0] >= "3080"})))
        dirs = {"train": 4, "valid": 8, "test": 6}
    elif task == "pse":
        env.update(SPEECH_TRAIN=str(link(tmp_path / "train", librispeech(corpora, "test-other", 3, 2))),
                   SPEECH_TEST=str(link(tmp_path / "test", librispeech(corpora, "test-other", 5, 2))),
                   NOISE_TRAIN=str(corpora / "noise" / "noisex92"), NOISE_TEST=str(corpora / "noise" / "noisex92"),
                   RIRS=str(corpora / "rirs"))
        dirs = {"train_clean": 6, "test_clean": 10, "rir": 4}
    else:
        clips = sorted((corpora / "esc50" / "audio").glob("4-*.flac"))
        classes = {}
        for clip in clips:   # ESC-50 names end in -<class>.flac: two classes, 8 clips each
            classes.setdefault(clip.stem.rsplit("-", 1)[1], []).append(clip)
        chosen = {f"class{c}/{p.name}": p for c in sorted(classes)[:2] for p in classes[c][:6]}
        env.update(CLIPS=str(link(tmp_path / "clips", chosen)))
        dirs = {"all": 12, "fold1/test": 4}
    proc = run(recipe, "--stop_stage", "1", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for d, n in dirs.items():
        assert len((recipe / "data" / d / "wav.scp").read_text().splitlines()) == n, d
    if task == "spk":
        assert (recipe / "data" / "test" / "trials").read_text().count("\n") == 6 * 5 // 2
