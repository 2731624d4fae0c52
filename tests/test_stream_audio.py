"""Block-wise audio reading at another rate and channel count, block-wise atomic writing, chunking."""

import numpy as np
import pytest
import soundfile as sf

from kdspeech.apply.chunking import chunk_windows, overlap_add, window_edges, windows_mean
from kdspeech.data.resample import resample
from kdspeech.data.stream_audio import AudioReader, AudioWriter
from kdspeech.errors import KdError


@pytest.mark.parametrize("rate,sr", [(44100, 16000), (8000, 16000), (22050, 16000), (16000, 8000)])
def test_any_span_equals_the_whole_recording_resampled(tmp_path, rate, sr):
    x = (0.3 * np.random.default_rng(rate).standard_normal((rate * 3 + 123, 2))).astype(np.float32)
    sf.write(str(tmp_path / "x.wav"), x, rate, subtype="FLOAT")
    whole = resample(x.T.mean(axis=0, dtype=np.float32), rate, sr)     # down-mix, then the one resampler
    with AudioReader(tmp_path / "x.wav", sr) as reader:
        assert (reader.native_rate, reader.channels, reader.length) == (rate, 2, len(whole))
        assert reader.converted
        spans = ((0, 1000), (12345, 23456), (sr - 7, 2 * sr + 11), (reader.length - 999, reader.length + 50))
        for start, stop in spans:
            y = reader.read(start, stop)
            assert len(y) == min(stop, reader.length) - start
            assert np.max(np.abs(y - whole[start:stop])) < 1e-6


def test_reader_errors_name_the_file(tmp_path):
    sf.write(str(tmp_path / "empty.wav"), np.zeros(0, np.float32), 16000)
    with pytest.raises(KdError, match="empty.wav: empty"):
        AudioReader(tmp_path / "empty.wav", 16000)
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    with pytest.raises(KdError, match="bad.wav: cannot decode"):
        AudioReader(tmp_path / "bad.wav", 16000)
    with pytest.raises(KdError, match="not found"):
        AudioReader(tmp_path / "missing.wav", 16000)


def test_writer_is_atomic_and_follows_save_audio(tmp_path):
    path = tmp_path / "out" / "a.wav"
    with pytest.raises(RuntimeError):
        with AudioWriter(path, 16000) as w:
            w.write(np.full(100, 0.5, np.float32))
            raise RuntimeError("interrupted")
    assert not path.exists() and not any(path.parent.iterdir())       # no partial file, no temp file
    with AudioWriter(path, 16000) as w:
        w.write(np.full(100, 0.5, np.float32))
        w.write(np.full(50, 2.0, np.float32))                           # clipped, as save_audio does
    y, rate = sf.read(str(path), dtype="float32")
    assert rate == 16000 and len(y) == 150 and abs(y[0] - 0.5) < 1e-4 and y[-1] == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(KdError, match="NaN"):
        with AudioWriter(tmp_path / "nan.flac", 16000) as w:
            w.write(np.array([0.0, np.nan], np.float32))
    assert not (tmp_path / "nan.flac").exists()


def test_windows_cover_the_recording_without_slivers():
    for total in (1, 100, 149, 151, 1000, 12345):
        windows = chunk_windows(total, 100, 20)
        assert windows[0][0] == 0 and windows[-1][1] == total
        assert all(b[0] == a[0] + 80 for a, b in zip(windows, windows[1:]))
        assert all(b - a == 100 for a, b in windows[:-1])
        assert windows[-1][1] - windows[-1][0] >= min(total, 50 + 20) and windows[-1][1] - windows[-1][0] <= 150
    assert chunk_windows(500, 0, 0) == [(0, 500)]
    with pytest.raises(KdError, match="overlap"):
        chunk_windows(1000, 100, 60)


def test_overlap_add_of_a_local_filter_is_exact_away_from_window_edges():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(50003).astype(np.float32)
    kernel = rng.standard_normal(31).astype(np.float32)

    def fn(s):
        return np.convolve(s, kernel, mode="same").astype(np.float32)

    whole = fn(x)
    for chunk, overlap in ((5000, 1000), (5000, 0), (5000, 2500), (40000, 100)):
        blocks = []
        overlap_add(lambda a, b: x[a:b], len(x), fn, chunk, overlap, blocks.append)
        y = np.concatenate(blocks)
        assert len(y) == len(x) and all(len(b) > 0 for b in blocks)
        edges = np.array(window_edges(len(x), chunk, overlap))
        far = np.min(np.abs(np.arange(len(x))[:, None] - edges[None]), axis=1) > 15      # kernel half-width
        assert np.max(np.abs(y - whole)[far]) < 1e-5
    with pytest.raises(KdError, match="returned"):
        overlap_add(lambda a, b: x[a:b], len(x), lambda s: s[:-1], 5000, 100, blocks.append)


def test_windows_mean():
    x = np.arange(1000, dtype=np.float32)
    assert windows_mean(lambda a, b: x[a:b], 1000, lambda s: np.array([s.mean()]), 0) == pytest.approx([499.5])
    assert windows_mean(lambda a, b: x[a:b], 1000, lambda s: np.array([len(s)]), 300) == pytest.approx([300])
    starts = [0, 300, 600, 700]
    assert windows_mean(lambda a, b: x[a:b], 1000, lambda s: np.array([s[0]]), 300) == pytest.approx([np.mean(starts)])
