import pytest

from kdspeech.data.datadir import DataDir, read_kv, split_ids, subset_data_dir, write_kv
from kdspeech.errors import KdError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_read_kv_keeps_rest_of_line(tmp_path):
    p = write(tmp_path / "wav.scp", "a /x/a.wav\nb sox /x/b.wav -t wav -  |\nc\tp q\n")
    assert read_kv(p) == {"a": "/x/a.wav", "b": "sox /x/b.wav -t wav -  |", "c": "p q"}


@pytest.mark.parametrize("text, line, words", [
    ("a x\nb\n", 2, "no value"),
    ("a x\n\nb y\n", 2, "empty"),
    ("a x\n b y\n", 2, "empty"),
    ("a x\na y\n", 2, "duplicate id 'a'"),
    ("b x\na y\n", 2, "not sorted"),
    ("B x\na y\nC z\n", 3, "not sorted"),  # byte order: upper case before lower case
])
def test_read_kv_errors_name_file_and_line(tmp_path, text, line, words):
    p = write(tmp_path / "utt2spk", text)
    with pytest.raises(KdError) as err:
        read_kv(p)
    assert err.value.line == line and err.value.path == str(p)
    assert words in str(err.value) and f"utt2spk:{line}" in str(err.value)


def test_read_kv_missing(tmp_path):
    assert read_kv(tmp_path / "nope", allow_missing=True) == {}
    with pytest.raises(KdError, match="not found"):
        read_kv(tmp_path / "nope")


def test_write_kv_sorted_atomic_roundtrip(tmp_path):
    p = tmp_path / "sub" / "utt2snr"
    write_kv(p, {"b": 1.5, "a": "-3", "B": 0})
    assert p.read_text() == "B 0\na -3\nb 1.5\n"
    assert read_kv(p) == {"B": "0", "a": "-3", "b": "1.5"}
    assert [q.name for q in p.parent.iterdir()] == ["utt2snr"]
    with pytest.raises(KdError):
        write_kv(p, {"a b": "x"})
    with pytest.raises(KdError):
        write_kv(p, {"a": ""})
    assert read_kv(p)["a"] == "-3"  # a failed write leaves the old file


def test_valid_dir(make_data_dir):
    d = DataDir(make_data_dir(n=5)).validate()
    assert d.utts == sorted(d.utts) and len(d.utts) == 5
    assert d.has("text") and not d.has("segments")
    assert d.read("utt2spk")[d.utts[0]] == "spk0"
    with pytest.raises(KdError, match="not found"):
        d.read("utt2label")


def test_empty_or_missing_wav_scp(tmp_path):
    with pytest.raises(KdError, match="wav.scp not found"):
        DataDir(tmp_path).validate()
    write(tmp_path / "wav.scp", "")
    with pytest.raises(KdError, match="empty"):
        DataDir(tmp_path).validate()


def test_text_with_unknown_utt_names_it(make_data_dir):
    root = make_data_dir(n=3)
    text = (root / "text").read_text() + "zzz-extra HELLO\n"
    write(root / "text", text)
    with pytest.raises(KdError) as err:
        DataDir(root).validate()
    assert "zzz-extra" in str(err.value) and "text:4" in str(err.value)


@pytest.mark.parametrize("name", ["utt2spk", "text", "spk1.scp"])
def test_coverage_required(make_data_dir, name):
    root = make_data_dir(n=3)
    d = DataDir(root)
    write_kv(root / name, {u: "x" for u in d.utts[1:]})
    with pytest.raises(KdError, match=f"missing, first '{d.utts[0]}'"):
        DataDir(root).validate()


def test_partial_label_file_allowed_but_unsorted_not(make_data_dir):
    root = make_data_dir(n=3)
    utts = DataDir(root).utts
    write(root / "utt2label", f"{utts[2]} dog\n")
    DataDir(root).validate()
    write(root / "utt2label", f"{utts[2]} dog\n{utts[0]} cat\n")
    with pytest.raises(KdError, match="utt2label:2.*not sorted"):
        DataDir(root).validate()


def test_utt2snr_must_be_numbers(make_data_dir):
    root = make_data_dir(n=3)
    utts = DataDir(root).utts
    write(root / "utt2snr", f"{utts[0]} 5\n{utts[1]} -2.5\n{utts[2]} high\n")
    with pytest.raises(KdError, match="utt2snr:3.*'high'"):
        DataDir(root).validate()
    write(root / "utt2snr", f"{utts[0]} 5\n{utts[1]} nan\n")
    with pytest.raises(KdError, match="utt2snr:2"):
        DataDir(root).validate()


def test_segments(tmp_path):
    write(tmp_path / "wav.scp", "rec1 /a.wav\nrec2 /b.wav\n")
    write(tmp_path / "segments", "rec1-s1 rec1 0.0 1.5\nrec1-s2 rec1 1.5 3\nrec2-s1 rec2 0 2\n")
    write(tmp_path / "utt2spk", "rec1-s1 s\nrec1-s2 s\nrec2-s1 t\n")
    DataDir(tmp_path).validate()
    write(tmp_path / "segments", "rec1-s1 rec1 0.0 1.5\nrec3-s1 rec3 0 2\n")
    with pytest.raises(KdError, match="segments:2.*'rec3'"):
        DataDir(tmp_path).validate()
    write(tmp_path / "segments", "rec1-s1 rec1 2 1\n")
    with pytest.raises(KdError, match="segments:1"):
        DataDir(tmp_path).validate()


@pytest.mark.parametrize("n, nj", [(10, 3), (3, 5), (7, 7), (0, 2), (100, 8)])
def test_split_ids_partition(n, nj):
    ids = [f"u{i:03d}" for i in range(n)]
    parts = [split_ids(ids, nj, j) for j in range(1, nj + 1)]
    assert sum(parts, []) == ids
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_split_ids_bad_job():
    with pytest.raises(KdError):
        split_ids(["a"], 2, 3)
    with pytest.raises(KdError):
        split_ids(["a"], 0, 1)


def test_subset_data_dir(make_data_dir, tmp_path):
    src = DataDir(make_data_dir(n=6))
    keep = src.utts[1:4]
    dst = subset_data_dir(src, tmp_path / "sub", keep).validate()
    assert dst.utts == keep
    assert list(dst.read("text")) == keep
    assert dst.read("utt2spk") == {u: src.read("utt2spk")[u] for u in keep}
    with pytest.raises(KdError, match="not in the source"):
        subset_data_dir(src, tmp_path / "bad", ["nope"])


def test_merge_pieces(tmp_path):
    from kdspeech.data.datadir import merge_pieces, piece_path

    write_kv(piece_path(tmp_path, "wav.scp", 1), {"a": "1", "b": "2"})
    write_kv(piece_path(tmp_path, "wav.scp", 2), {"c": "3"})
    assert merge_pieces(tmp_path, "wav.scp", 2, ["a", "b", "c"]) == {"a": "1", "b": "2", "c": "3"}
    assert read_kv(tmp_path / "wav.scp") == {"a": "1", "b": "2", "c": "3"}
    with pytest.raises(KdError, match="missing 'd'"):
        merge_pieces(tmp_path, "wav.scp", 2, ["a", "b", "c", "d"])
    with pytest.raises(KdError, match="unexpected 'c'"):
        merge_pieces(tmp_path, "wav.scp", 2, ["a", "b"])
    with pytest.raises(KdError, match="job 3 of 3"):
        merge_pieces(tmp_path, "wav.scp", 3, ["a", "b", "c"])


def test_utts_are_utterance_ids_with_segments(tmp_path):
    import numpy as np
    import soundfile as sf

    sr = 8000
    signal = np.arange(3 * sr, dtype=np.float32) / (3 * sr)   # a ramp: each sample says where it is
    sf.write(tmp_path / "rec1.wav", signal, sr, subtype="FLOAT")
    write(tmp_path / "wav.scp", f"rec1 {tmp_path / 'rec1.wav'}\n")
    write(tmp_path / "segments", "rec1-a rec1 0.5 1.25\nrec1-b rec1 2.5 4.0\n")
    write(tmp_path / "utt2spk", "rec1-a s\nrec1-b s\n")
    d = DataDir(tmp_path).validate()
    assert d.utts == ["rec1-a", "rec1-b"] and d.recordings == ["rec1"]
    x, rate = d.load_audio("rec1-a")
    assert rate == sr and np.array_equal(x, signal[4000:10000])
    x, _ = d.load_audio("rec1-b")                            # an end past the recording: cut there
    assert np.array_equal(x, signal[20000:])
    with pytest.raises(KdError, match="'rec1-c' is not in segments"):
        d.load_audio("rec1-c")
    write(tmp_path / "segments", "rec1-a rec1 0.5 1.25\nrec1-z rec1 3.5 4\n")
    with pytest.raises(KdError, match="segment 'rec1-z' starts at 3.5 s, after the end"):
        DataDir(tmp_path).load_audio("rec1-z")
    # Without segments, utterances are recordings.
    (tmp_path / "segments").unlink()
    write(tmp_path / "utt2spk", "rec1 s\n")
    d = DataDir(tmp_path).validate()
    assert d.utts == d.recordings == ["rec1"] and len(d.load_audio("rec1")[0]) == 3 * sr


def test_subset_with_segments_keeps_the_recordings_used(tmp_path):
    (tmp_path / "src").mkdir()
    write(tmp_path / "src" / "wav.scp", "rec1 /a.wav\nrec2 /b.wav\n")
    write(tmp_path / "src" / "segments", "rec1-s1 rec1 0 1\nrec1-s2 rec1 1 2\nrec2-s1 rec2 0 2\n")
    write(tmp_path / "src" / "utt2spk", "rec1-s1 s\nrec1-s2 s\nrec2-s1 t\n")
    d = subset_data_dir(tmp_path / "src", tmp_path / "dst", DataDir(tmp_path / "src").utts[1:])
    assert d.utts == ["rec1-s2", "rec2-s1"] and d.recordings == ["rec1", "rec2"]
    d = subset_data_dir(tmp_path / "src", tmp_path / "dst1", ["rec1-s1"])
    assert d.validate().utts == ["rec1-s1"] and d.recordings == ["rec1"]
