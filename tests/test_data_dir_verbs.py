"""The data-dir verbs: subset_data_dir, combine_data_dirs, data_dir_from (folder, pairs, CSV)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from kdspeech.bin import combine_data_dirs, data_dir_from, subset_data_dir
from kdspeech.data.datadir import DataDir, read_kv, write_kv
from kdspeech.errors import KdError


def cli(module, *args):
    env = {k: v for k, v in os.environ.items() if k != "KDSPEECH_STAGE"}
    return subprocess.run([sys.executable, "-m", f"kdspeech.bin.{module}", *map(str, args)],
                          capture_output=True, text=True, env=env, check=False)


def wav(path, n=1600, sr=16000, channels=1, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    x = 0.1 * np.random.default_rng(seed).standard_normal((n, channels)).astype(np.float32)
    sf.write(str(path), x if channels > 1 else x[:, 0], sr, subtype="PCM_16")
    return path


# --- subset_data_dir ---------------------------------------------------------------------------

@pytest.fixture
def src(make_data_dir):
    root = make_data_dir(n=8, num_spk=3, extra={"utt2label": lambda u: f"c{int(u[-1]) % 2}",
                                                 "utt2enroll": lambda u: f"/enroll/{u}.wav"})
    write_kv(root / "spk2gender", {"spk0": "f", "spk1": "m", "spk2": "f"})
    (root / "classes.txt").write_text("c0\nc1\n")
    utts = DataDir(root).utts
    (root / "trials").write_text(f"{utts[0]} {utts[1]} target\n{utts[0]} {utts[3]} nontarget\n"
                                 f"{utts[2]} {utts[4]} nontarget\n")
    (root / "notes.md").write_text("not a data-dir file\n")
    return root


def test_subset_by_list_filters_every_file(src, tmp_path, caplog):
    utts = DataDir(src).utts
    (tmp_path / "ids").write_text(f"{utts[0]} extra fields ignored\n\n{utts[3]}\n{utts[4]}\n")
    subset_data_dir.main(["--src", str(src), "--dst", str(tmp_path / "sub"), "--utt_list", str(tmp_path / "ids")])
    out = DataDir(tmp_path / "sub").validate()
    assert out.utts == [utts[0], utts[3], utts[4]]
    for name in ("wav.scp", "utt2spk", "text", "utt2label", "utt2enroll"):
        assert list(out.read(name)) == out.utts, name
    assert out.read("utt2enroll")[utts[3]] == f"/enroll/{utts[3]}.wav"
    assert (tmp_path / "sub/classes.txt").read_text() == "c0\nc1\n"
    assert (tmp_path / "sub/trials").read_text() == f"{utts[0]} {utts[3]} nontarget\n"    # both kept only
    spk = out.read("utt2spk")
    assert read_kv(tmp_path / "sub/spk2gender") == {s: g for s, g in read_kv(src / "spk2gender").items()
                                                    if s in set(spk.values())}
    assert read_kv(tmp_path / "sub/spk2utt") == {s: " ".join(u for u in out.utts if spk[u] == s)
                                                 for s in set(spk.values())}
    assert not (tmp_path / "sub/notes.md").exists() and "notes.md" in caplog.text

    subset_data_dir.main(["--src", str(src), "--dst", str(tmp_path / "rest"), "--utt_list",
                          str(tmp_path / "ids"), "--exclude"])
    assert DataDir(tmp_path / "rest").utts == [u for u in utts if u not in (utts[0], utts[3], utts[4])]


def test_subset_first_random_per_speaker(src, tmp_path):
    utts = DataDir(src).utts

    def subset(*args):
        dst = tmp_path / "x"
        subset_data_dir.main(["--src", str(src), "--dst", str(dst), *map(str, args)])
        return DataDir(dst).utts

    assert subset("--first", 3) == utts[:3]
    a, b, c = subset("--random", 4, "--seed", 5), subset("--random", 4, "--seed", 5), subset("--random", 4, "--seed", 6)
    assert a == b and len(a) == 4 and a != c
    spk = read_kv(src / "utt2spk")
    per = subset("--per_spk", 2)
    assert sorted(per) == sorted(u for s in set(spk.values()) for u in [v for v in utts if spk[v] == s][:2])
    (tmp_path / "spks").write_text("spk1\n")
    assert subset("--spk_list", tmp_path / "spks") == [u for u in utts if spk[u] == "spk1"]


def test_subset_errors_name_the_line(src, tmp_path):
    (tmp_path / "ids").write_text("spk0-utt000\nnot-an-utt\n")
    proc = cli("subset_data_dir", "--src", src, "--dst", tmp_path / "sub", "--utt_list", tmp_path / "ids")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{tmp_path / 'ids'}:2" in proc.stderr and "not-an-utt" in proc.stderr
    assert not (tmp_path / "sub").exists()
    with pytest.raises(KdError, match="9 utterances asked for, but the data dir has 8"):
        subset_data_dir.main(["--src", str(src), "--dst", str(tmp_path / "sub"), "--random", "9"])
    assert cli("subset_data_dir", "--src", src, "--dst", tmp_path / "sub").returncode == 2   # no selection


def test_subset_with_segments_keeps_their_recordings(tmp_path, tmp_wav):
    root = tmp_path / "seg"
    write_kv(root / "wav.scp", {"recA": str(tmp_wav("a.wav", dur=2.0)), "recB": str(tmp_wav("b.wav", dur=2.0))})
    write_kv(root / "segments", {"recA-1": "recA 0 1", "recA-2": "recA 1 2", "recB-1": "recB 0 1"})
    write_kv(root / "reco2channel", {"recA": "1", "recB": "2"})
    subset_data_dir.main(["--src", str(root), "--dst", str(tmp_path / "sub"), "--first", "2"])
    assert list(read_kv(tmp_path / "sub/wav.scp")) == ["recA"]
    assert read_kv(tmp_path / "sub/reco2channel") == {"recA": "1"}


# --- combine_data_dirs -------------------------------------------------------------------------

def test_combine_round_trip_and_prefixes(src, tmp_path):
    utts = DataDir(src).utts
    (tmp_path / "ids").write_text("\n".join(utts[:3]) + "\n")
    for name, extra in (("a", []), ("b", ["--exclude"])):
        subset_data_dir.main(["--src", str(src), "--dst", str(tmp_path / name), "--utt_list",
                              str(tmp_path / "ids"), *extra])
    combine_data_dirs.main(["--dst", str(tmp_path / "ab"), str(tmp_path / "a"), str(tmp_path / "b")])
    for name in ("wav.scp", "utt2spk", "text", "utt2label", "utt2enroll", "spk2gender", "classes.txt"):
        assert (tmp_path / "ab" / name).read_text() == (src / name).read_text(), name
    assert sorted((tmp_path / "ab/trials").read_text().splitlines()) == sorted((src / "trials").read_text().splitlines()[:1])
    combine_data_dirs.main(["--dst", str(tmp_path / "twice"), "--prefixes", "x- y-", str(src), str(src)])
    both = DataDir(tmp_path / "twice").validate()
    assert both.utts == sorted([f"x-{u}" for u in utts] + [f"y-{u}" for u in utts])
    assert both.read("utt2spk")[f"y-{utts[1]}"] == read_kv(src / "utt2spk")[utts[1]]   # speakers unchanged
    assert len((tmp_path / "twice/trials").read_text().splitlines()) == 6


def test_combine_errors(src, tmp_path, make_data_dir):
    proc = cli("combine_data_dirs", "--dst", tmp_path / "c", src, src)
    assert proc.returncode == 1 and "--prefixes" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "c").exists()
    other = make_data_dir(n=2, name="notext", text=False)
    with pytest.raises(KdError, match="text is in some source dirs but not in this one") as err:
        combine_data_dirs.main(["--dst", str(tmp_path / "c"), "--prefixes", "a- b-", str(src), str(other)])
    assert str(other / "text") in str(err.value)
    (other / "classes.txt").write_text("dog\n")
    write_kv(other / "text", {u: "x" for u in DataDir(other).utts})
    with pytest.raises(KdError, match="one class list"):
        combine_data_dirs.main(["--dst", str(tmp_path / "c"), "--prefixes", "a- b-", str(src), str(other)])


# --- data_dir_from -----------------------------------------------------------------------------

def test_from_folder_nested_with_speakers(tmp_path):
    root = tmp_path / "rec"
    wav(root / "alice" / "day 1" / "a.wav")
    wav(root / "alice" / "b.flac", sr=8000)
    wav(root / "bob" / "c.wav")
    wav(root / ".hidden" / "d.wav")
    wav(root / "bob" / ".e.wav")
    (root / "bob" / "notes.txt").write_text("x")
    data_dir_from.main(["--audio", str(root), "--out", str(tmp_path / "d"), "--spk_from", "dir"])
    data = DataDir(tmp_path / "d").validate()
    assert data.utts == ["alice__b", "alice__day_1__a", "bob__c"]
    assert data.wav_scp["alice__day_1__a"] == str((root / "alice" / "day 1" / "a.wav").resolve())
    assert data.read("utt2spk") == {"alice__b": "alice", "alice__day_1__a": "alice", "bob__c": "bob"}
    assert read_kv(tmp_path / "d/spk2utt") == {"alice": "alice__b alice__day_1__a", "bob": "bob__c"}


def test_from_folder_lists_every_bad_file(tmp_path):
    root = tmp_path / "rec"
    wav(root / "good.wav")
    wav(root / "stereo.wav", channels=2)
    wav(root / "empty.wav", n=0)
    (root / "broken.wav").write_bytes(b"RIFF not really")
    proc = cli("data_dir_from", "--audio", root, "--out", tmp_path / "d")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "3 of 4 audio files cannot be used" in proc.stderr
    for name, why in (("stereo.wav", "2 channels"), ("empty.wav", "empty"), ("broken.wav", "cannot decode")):
        line = next(x for x in proc.stderr.splitlines() if name in x)
        assert why in line, line
    assert not (tmp_path / "d").exists()
    (tmp_path / "none").mkdir()
    proc = cli("data_dir_from", "--audio", tmp_path / "none", "--out", tmp_path / "d")
    assert proc.returncode == 1 and "no audio files" in proc.stderr and str(tmp_path / "none") in proc.stderr


def test_from_folder_with_enrolment_clips_beside_it(tmp_path):
    """--enrol: DNS5's blind-set layout (noisy/ and enrol/ side by side) -> utt2enroll: the clip of the
    same relative name, else (--spk_from dir) the one clip of the speaker's folder; every recording
    without one listed in a single error, nothing written."""
    for rel in ("alice/x.wav", "alice/y.wav", "bob/z.wav"):
        wav(tmp_path / "blind" / "noisy" / rel)
    wav(tmp_path / "blind" / "enrol" / "alice" / "ref.flac")
    wav(tmp_path / "blind" / "enrol" / "bob" / "z.wav")
    out = tmp_path / "d"
    data_dir_from.main(["--audio", str(tmp_path / "blind/noisy"), "--enrol", str(tmp_path / "blind/enrol"),
                        "--spk_from", "dir", "--out", str(out)])
    enroll = DataDir(out).validate().read("utt2enroll")
    enrol = (tmp_path / "blind" / "enrol").resolve()
    assert enroll == {"alice__x": str(enrol / "alice/ref.flac"), "alice__y": str(enrol / "alice/ref.flac"),
                      "bob__z": str(enrol / "bob/z.wav")}
    wav(tmp_path / "blind" / "enrol" / "alice" / "ref2.wav")     # two of alice's: neither recording's name
    wav(tmp_path / "blind" / "noisy" / "carol" / "w.wav")       # nobody's
    proc = cli("data_dir_from", "--audio", tmp_path / "blind/noisy", "--enrol", tmp_path / "blind/enrol",
               "--spk_from", "dir", "--out", tmp_path / "d2")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "3 of 4 files (enrolment) cannot be used" in proc.stderr
    assert "alice/x.wav: speaker alice has 2 enrol clips" in proc.stderr
    assert "carol/w.wav: no enrolment clip for this noisy clip (speaker carol" in proc.stderr
    assert not (tmp_path / "d2").exists()


def test_from_pairs_matches_relative_names(tmp_path):
    wav(tmp_path / "noisy/s1/u1.wav", seed=1)
    wav(tmp_path / "clean/s1/u1.flac", seed=2)
    wav(tmp_path / "noisy/u2.wav", n=800, seed=3)
    wav(tmp_path / "clean/u2.wav", n=800, seed=4)
    data_dir_from.main(["--noisy", str(tmp_path / "noisy"), "--clean", str(tmp_path / "clean"),
                        "--out", str(tmp_path / "d")])
    data = DataDir(tmp_path / "d").validate()
    assert data.utts == ["s1__u1", "u2"]
    assert data.read("spk1.scp")["s1__u1"] == str((tmp_path / "clean/s1/u1.flac").resolve())
    assert data.wav_scp["u2"] == str((tmp_path / "noisy/u2.wav").resolve())

    wav(tmp_path / "noisy/u3.wav", n=1600)
    wav(tmp_path / "clean/u3.wav", n=1200)          # a reference shorter than its input
    wav(tmp_path / "clean/only_clean.wav")
    with pytest.raises(KdError) as err:
        data_dir_from.main(["--noisy", str(tmp_path / "noisy"), "--clean", str(tmp_path / "clean"),
                            "--out", str(tmp_path / "d")])
    assert "only_clean.wav: no noisy file of this name" in str(err.value)
    (tmp_path / "clean/only_clean.wav").unlink()
    with pytest.raises(KdError) as err:
        data_dir_from.main(["--noisy", str(tmp_path / "noisy"), "--clean", str(tmp_path / "clean"),
                            "--out", str(tmp_path / "d")])
    assert "noisy/u3.wav has 1600 samples, its reference" in str(err.value) and "(shorter)" in str(err.value)
    assert DataDir(tmp_path / "d").utts == ["s1__u1", "u2"]      # the old dir is untouched


def test_from_csv_columns_and_every_bad_row(tmp_path):
    wav(tmp_path / "clips/a.wav")
    wav(tmp_path / "clips/b.wav", seed=1)
    wav(tmp_path / "refs/a.wav", seed=2)
    wav(tmp_path / "refs/b.wav", seed=3)
    (tmp_path / "list.csv").write_text(
        "path,speaker,label,text,fold,snr,clean\n"
        "clips/a.wav,p1,dog,hello world,1,5,refs/a.wav\n"
        "clips/b.wav,p2,cat,good bye,2,-2.5,refs/b.wav\n")
    data_dir_from.main(["--csv", str(tmp_path / "list.csv"), "--out", str(tmp_path / "d")])
    data = DataDir(tmp_path / "d").validate()
    assert data.utts == ["clips__a", "clips__b"]
    assert data.read("utt2spk") == {"clips__a": "p1", "clips__b": "p2"}
    assert data.read("text")["clips__a"] == "hello world"
    assert data.read("utt2label") == {"clips__a": "dog", "clips__b": "cat"}
    assert data.read("utt2fold")["clips__b"] == "2" and data.read("utt2snr")["clips__b"] == "-2.5"
    assert data.read("spk1.scp")["clips__a"] == str((tmp_path / "refs/a.wav").resolve())

    (tmp_path / "bad.csv").write_text(
        "path,label,snr\n"
        "clips/a.wav,dog,1\n"
        ",cat,2\n"
        "clips/missing.wav,cat,3\n"
        "clips/b.wav,cat,loud\n"
        "clips/a.wav,dog,4\n")
    proc = cli("data_dir_from", "--csv", tmp_path / "bad.csv", "--out", tmp_path / "e")
    assert proc.returncode == 1 and "4 of 5 rows cannot be used" in proc.stderr
    for text in ("line 3: empty path", "line 4:", "missing.wav", "line 5: snr 'loud' is not a number",
                 "line 6: utterance id 'clips__a' is also on line 2"):
        assert text in proc.stderr, text
    (tmp_path / "cols.csv").write_text("file,label\nclips/a.wav,dog\n")
    with pytest.raises(KdError, match="'path' column"):
        data_dir_from.main(["--csv", str(tmp_path / "cols.csv"), "--out", str(tmp_path / "e")])


def test_from_folder_real_corpus_then_subset(corpora, tmp_path):
    folder = corpora / "librispeech" / "LibriSpeech" / "test-other"
    data_dir_from.main(["--audio", str(folder), "--out", str(tmp_path / "ls"), "--spk_from", "dir"])
    data = DataDir(tmp_path / "ls").validate()
    assert len(data.utts) == 100 and len(set(data.read("utt2spk").values())) == 10
    assert all(u.startswith(s + "__") for u, s in data.read("utt2spk").items())
    (tmp_path / "spk").write_text(data.read("utt2spk")[data.utts[0]] + "\n")
    subset_data_dir.main(["--src", str(tmp_path / "ls"), "--dst", str(tmp_path / "one"), "--spk_list",
                          str(tmp_path / "spk")])
    assert len(DataDir(tmp_path / "one").utts) == 10
