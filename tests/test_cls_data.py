"""Classification data: the low-rate view, ESC-50/TAU/user-CSV preparation, fold splits, metrics."""

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kdspeech.bin import split_cls
from kdspeech.bin.dump_feats import low_rate_view
from kdspeech.data.datadir import DataDir, read_kv, write_kv
from kdspeech.metrics.classification import macro_accuracy, macro_f1, per_class_accuracy

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("rate", [1000, 2000])
def test_low_rate_view_has_no_energy_above_the_low_nyquist(rate):
    sr = 16000
    t = np.arange(sr) / sr
    x = sum(np.sin(2 * np.pi * f * t) for f in (300, 0.45 * rate, 0.6 * rate, 3000, 7000)).astype(np.float32) / 5
    y = low_rate_view(x, sr, rate)
    assert len(y) == len(x)
    spec = np.abs(np.fft.rfft(y[2000:-2000] * np.hanning(len(y) - 4000))) ** 2
    freqs = np.fft.rfftfreq(len(y) - 4000, 1 / sr)
    passband = spec[(freqs > 250) & (freqs < 350)].sum()
    above = spec[freqs > rate / 2 + 20].sum()
    assert 10 * np.log10(above / passband) < -80     # nothing above rate/2 (soxr HQ stopband)
    assert spec[np.abs(freqs - 0.45 * rate) < 5].sum() > 0.1 * passband   # the band below it survives


def test_low_rate_view_of_a_44k_clip_is_16k():
    x = np.random.default_rng(0).standard_normal(44100).astype(np.float32) * 0.1
    assert len(low_rate_view(x, 44100, 1000)) == 16000


def _labels(n_per_class=6, classes=("a", "b", "c")):
    return {f"{c}{i:02d}": c for c in classes for i in range(n_per_class)}


def test_stratified_folds_balance_classes_and_sizes():
    labels = _labels(7)
    folds = split_cls.stratified_folds(labels, 5, seed=1)
    sizes = [sum(1 for f in folds.values() if f == str(k)) for k in range(1, 6)]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 21
    for c in "abc":
        per = [sum(1 for u, f in folds.items() if f == str(k) and labels[u] == c) for k in range(1, 6)]
        assert max(per) - min(per) <= 1
    assert folds == split_cls.stratified_folds(labels, 5, seed=1)


def test_split_keeps_test_out_of_train_and_valid(tmp_path):
    labels = _labels(6)
    data = tmp_path / "all"
    write_kv(data / "wav.scp", {u: "/dev/null" for u in labels})
    write_kv(data / "utt2label", labels)
    write_kv(data / "utt2fold", {u: str(i % 3 + 1) for i, u in enumerate(sorted(labels))})
    split_cls.main(["--data", str(data), "--out", str(tmp_path), "--valid_fraction", "0.25"])
    fold_of = read_kv(data / "utt2fold")
    for k in ("1", "2", "3"):
        parts = {p: set(DataDir(tmp_path / f"fold{k}" / p).utts) for p in ("train", "valid", "test")}
        assert parts["test"] == {u for u, f in fold_of.items() if f == k}
        assert not (parts["test"] & parts["train"]) and not (parts["test"] & parts["valid"])
        assert not (parts["train"] & parts["valid"])
        assert parts["train"] | parts["valid"] | parts["test"] == set(labels)
        assert {labels[u] for u in parts["valid"]} == {"a", "b", "c"}   # every class validated
        assert (tmp_path / f"fold{k}" / "valid" / "classes.txt").read_text() == "a\nb\nc\n"


def test_participant_groups_never_straddle_folds(tmp_path):
    labels = _labels(6)
    data = tmp_path / "all"
    write_kv(data / "wav.scp", {u: "/dev/null" for u in labels})
    write_kv(data / "utt2label", labels)
    write_kv(data / "utt2group", {u: f"p{int(u[1:]) % 4}" for u in labels})
    split_cls.main(["--data", str(data), "--out", str(tmp_path), "--num_folds", "2"])
    groups = read_kv(data / "utt2group")
    test1 = {groups[u] for u in DataDir(tmp_path / "fold1" / "test").utts}
    test2 = {groups[u] for u in DataDir(tmp_path / "fold2" / "test").utts}
    assert test1 and test2 and not (test1 & test2)


def test_metrics_by_hand():
    ref = [0, 0, 0, 1, 1, 2]
    hyp = [0, 0, 1, 1, 2, 2]
    assert np.allclose(per_class_accuracy(ref, hyp, 4)[:3], [2 / 3, 1 / 2, 1])
    assert np.isnan(per_class_accuracy(ref, hyp, 4)[3])
    assert macro_accuracy(ref, hyp, 4) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    # F1: class 0 P=1 R=2/3 -> 0.8; class 1 P=1/2 R=1/2 -> 0.5; class 2 P=1/2 R=1 -> 2/3
    assert macro_f1(ref, hyp, 4) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def _run(script, *args, cwd):
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, capture_output=True, text=True)


def test_esc50_prep_finds_audio_by_stem(tmp_path):
    root = tmp_path / "esc"
    (root / "audio").mkdir(parents=True)
    (root / "meta").mkdir()
    rows = [("1-1-A-0.wav", 1, 0, "dog"), ("2-2-A-1.wav", 2, 1, "rooster"), ("3-3-A-0.wav", 3, 0, "dog")]
    for name, *_ in rows:
        sf.write(root / "audio" / name.replace(".wav", ".flac"), np.zeros(160, np.float32), 16000)
    with open(root / "meta" / "esc50.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        for name, fold, target, cat in rows:
            w.writerow([name, fold, target, cat, "False", "1", "A"])
    script = REPO / "egs" / "esc50" / "cls" / "local" / "prepare_esc50.py"
    proc = _run(script, "--root", str(root), "--out", str(tmp_path / "all"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    d = DataDir(tmp_path / "all")
    assert d.utts == ["1-1-A-0", "2-2-A-1", "3-3-A-0"]
    assert d.wav_scp["2-2-A-1"].endswith("audio/2-2-A-1.flac")
    assert d.read("utt2label")["3-3-A-0"] == "dog" and d.read("utt2fold")["2-2-A-1"] == "2"
    (root / "audio" / "3-3-A-0.flac").unlink()
    proc = _run(script, "--root", str(root), "--out", str(tmp_path / "all2"), cwd=tmp_path)
    assert proc.returncode != 0 and "3-3-A-0.wav" in proc.stderr and "esc50.csv" in proc.stderr


def _tau_tree(root):
    scenes, cities = ("airport", "park"), ("lisbon", "paris")
    (root / "audio").mkdir(parents=True)
    (root / "evaluation_setup").mkdir()
    train, test, meta = [], [], []
    for s in scenes:
        for c in cities:
            for loc in range(4):
                for seg in range(2):
                    for dev in ("a", "b"):
                        name = f"audio/{s}-{c}-{loc}-{seg}-{dev}.wav"
                        sf.write(root / name, np.zeros(100, np.float32), 16000)
                        meta.append((name, s, f"{c}-{loc}", dev))
                        (test if loc == 3 else train).append((name, s))
    for fname, rows in (("fold1_train.csv", train), ("fold1_evaluate.csv", test)):
        (root / "evaluation_setup" / fname).write_text(
            "filename\tscene_label\n" + "".join(f"{n}\t{s}\n" for n, s in rows))
    (root / "meta.csv").write_text("filename\tscene_label\tidentifier\tsource_label\n"
                                   + "".join(f"{n}\t{s}\t{i}\t{d}\n" for n, s, i, d in meta))


def test_tau_split_holds_out_whole_locations(tmp_path):
    root = tmp_path / "TAU"
    _tau_tree(root)
    script = REPO / "egs" / "tau2019mobile" / "cls" / "local" / "prepare_tau.py"
    proc = _run(script, "--root", str(root), "--out", str(tmp_path / "data"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    parts = {p: DataDir(tmp_path / "data" / "fold1" / p) for p in ("train", "valid", "test")}
    loc = {p: {(d.read("utt2label")[u], s) for u, s in d.read("utt2spk").items()} for p, d in parts.items()}
    assert not (loc["train"] & loc["valid"])
    assert len(parts["test"].utts) == 2 * 2 * 1 * 2 * 2
    # 6 training locations per scene, 25 % -> 2 held out per scene (4 clips each)
    assert len(parts["valid"].utts) == 2 * 2 * 4 and len(parts["train"].utts) == 2 * 4 * 4
    assert set(parts["valid"].read("utt2label").values()) == {"airport", "park"}
    assert (tmp_path / "data" / "fold1" / "train" / "classes.txt").read_text() == "airport\npark\n"


def test_user_csv_with_participants(tmp_path):
    (tmp_path / "clips").mkdir()
    lines = ["path,label,participant"]
    for i in range(8):
        sf.write(tmp_path / "clips" / f"c{i}.wav", np.zeros(100, np.float32), 8000)
        lines.append(f"clips/c{i}.wav,{'cough' if i % 2 else 'talk'},P{i % 4}")
    (tmp_path / "my.csv").write_text("\n".join(lines) + "\n")
    script = REPO / "egs" / "user_data" / "cls" / "local" / "prepare_csv.py"
    proc = _run(script, "--csv", str(tmp_path / "my.csv"), "--out", str(tmp_path / "all"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    d = DataDir(tmp_path / "all")
    assert d.utts[0] == "clips__c0" and d.read("utt2group")["clips__c5"] == "P1"
    (tmp_path / "bad.csv").write_text("file,label\nx.wav,a\n")
    proc = _run(script, "--csv", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "x"), cwd=tmp_path)
    assert proc.returncode != 0 and "path,label,fold" in proc.stderr


def _participants(num=100, classes=12, seed=3):
    """Participants of very different sizes (5..45 clips), each with a few favourite classes."""
    rng = np.random.default_rng(seed)
    labels, groups = {}, {}
    for p in range(num):
        size = int(rng.integers(5, 46))
        favourite = rng.choice(classes, size=3, replace=False)
        for i in range(size):
            utt = f"p{p:03d}-{i:02d}"
            labels[utt] = f"c{int(rng.choice(favourite)) if rng.random() < 0.8 else int(rng.integers(classes)):02d}"
            groups[utt] = f"P{p:03d}"
    return labels, groups


def test_participants_are_dealt_whole_within_capacity_and_seeded():
    labels, groups = _participants()
    folds = split_cls.group_folds(groups, 5, seed=1, labels=labels)
    fold_of_group = {}
    for utt, f in folds.items():
        assert fold_of_group.setdefault(groups[utt], f) == f          # nobody straddles two folds
    sizes = [sum(1 for f in folds.values() if f == str(k)) for k in range(1, 6)]
    assert max(sizes) <= math.ceil(1.1 * len(labels) / 5) and min(sizes) > 0, sizes
    assert folds == split_cls.group_folds(groups, 5, seed=1, labels=labels)   # seeded
    assert folds != split_cls.group_folds(groups, 5, seed=2, labels=labels)


def test_fold_assignment_is_stable_under_edits():
    """Folds hang on the group ids (a hash), not the labels: a changed label moves nothing, a new
    participant moves no other participant's clips (issue 20: one changed label re-dealt a quarter)."""
    labels, groups = _participants()
    folds = split_cls.group_folds(groups, 5, seed=1, labels=labels)
    relabelled = dict(labels)
    for utt in list(relabelled)[:: 50]:
        relabelled[utt] = "c99"
    assert split_cls.group_folds(groups, 5, seed=1, labels=relabelled) == folds
    more = {**groups, **{f"new-{i:02d}": "P999" for i in range(12)}}
    again = split_cls.group_folds(more, 5, seed=1, labels=labels)
    moved = sum(1 for utt in folds if again[utt] != folds[utt])
    assert moved < 0.1 * len(folds), moved                           # a few displaced participants at most
    few = {f"u{i}": f"P{i % 6}" for i in range(30)}                  # 6 groups, 5 folds: none empty
    assert len(set(split_cls.group_folds(few, 5, seed=3).values())) == 5


def test_split_writes_the_folds_it_dealt(tmp_path):
    labels, groups = _participants(num=12, classes=3)
    data = tmp_path / "all"
    write_kv(data / "wav.scp", {u: "/dev/null" for u in labels})
    write_kv(data / "utt2label", labels)
    write_kv(data / "utt2group", groups)
    split_cls.main(["--data", str(data), "--out", str(tmp_path), "--num_folds", "3"])
    lines = (data / "folds.txt").read_text().split("\n")[:-1]
    assert [l.split()[0] for l in lines] == ["1", "2", "3"]
    assert sum(int(l.split()[1]) for l in lines) == len(labels)
    assert int(lines[1].split()[1]) == len(DataDir(tmp_path / "fold2" / "test").utts)
