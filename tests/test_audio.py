import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from kdspeech.data.audio import audio_duration, audio_info, load_audio, save_audio
from kdspeech.errors import KdError

HAVE_SOX = shutil.which("sox") is not None


def test_roundtrip_and_atomic_save(tmp_path):
    x = np.linspace(-0.9, 0.9, 1600, dtype=np.float32)
    path = tmp_path / "deep" / "dir" / "x.wav"
    save_audio(path, x, 16000)
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.wav"]
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    y, sr = load_audio(path, sr=16000)
    assert sr == 16000 and y.dtype == np.float32 and y.shape == (1600,)
    assert np.max(np.abs(x - y)) < 1.0 / 32767
    assert audio_duration(path) == pytest.approx(0.1)


def test_save_clips_and_rejects_nan(tmp_path):
    save_audio(tmp_path / "c.wav", np.array([2.0, -3.0, 0.5], np.float32), 8000)
    y, _ = load_audio(tmp_path / "c.wav")
    assert y[0] == pytest.approx(1.0, abs=1e-4) and y[1] == pytest.approx(-1.0, abs=1e-4)
    with pytest.raises(KdError, match="NaN"):
        save_audio(tmp_path / "n.wav", np.array([np.nan], np.float32), 8000)
    assert not (tmp_path / "n.wav").exists()


def test_missing_file_names_utt_and_file(tmp_path):
    with pytest.raises(KdError) as err:
        load_audio(tmp_path / "nope.wav", utt="u1")
    assert "u1" in str(err.value) and "nope.wav" in str(err.value) and "not found" in str(err.value)


@pytest.mark.parametrize("keep", [30, 1000, 5000])
def test_truncated_wav(tmp_wav, keep):
    path = tmp_wav("t.wav", dur=0.5)
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    with pytest.raises(KdError) as err:
        load_audio(path, utt="utt7")
    assert "utt7" in str(err.value) and "t.wav" in str(err.value)


@pytest.mark.skipif(not HAVE_SOX, reason="sox not installed")
def test_streamed_wav_with_placeholder_length_is_fine(tmp_wav, tmp_path):
    """sox writing to a pipe leaves a placeholder length in the header; that is not truncation."""
    src = tmp_wav("in.wav", dur=1.0)
    out = tmp_path / "streamed.wav"
    subprocess.run(f"cat {src} | sox -t wav - -t wav - trim 0.1 2>/dev/null | cat > {out}",
                   shell=True, check=True)
    x, _ = load_audio(out, sr=16000)
    assert len(x) == 14400


def test_truncated_flac(tmp_wav):
    path = tmp_wav("t.flac", dur=1.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(KdError, match="t.flac"):
        load_audio(path, utt="u")


def test_garbage_bytes(tmp_path):
    path = tmp_path / "g.wav"
    path.write_bytes(b"RIFF\x00\x00garbage" * 50)
    with pytest.raises(KdError, match="cannot decode"):
        load_audio(path, utt="u")


def test_wrong_sample_rate(tmp_wav):
    path = tmp_wav("r.wav", sr=8000)
    x, sr = load_audio(path)
    assert sr == 8000
    with pytest.raises(KdError, match="sample rate 8000, expected 16000"):
        load_audio(path, sr=16000, utt="u")


def test_stereo(tmp_wav):
    path = tmp_wav("s.wav", channels=2, dur=0.25)
    with pytest.raises(KdError, match="2 channels, expected mono"):
        load_audio(path, utt="u")
    x, _ = load_audio(path, mono=False)
    assert x.shape == (2, 4000) and not np.allclose(x[0], x[1])
    assert audio_info(path) == (4000, 16000, 2)


def test_pipe_cat(tmp_wav):
    path = tmp_wav("p.wav")
    direct, _ = load_audio(path)
    piped, sr = load_audio(f"cat {path} |", sr=16000)
    assert sr == 16000 and np.array_equal(direct, piped)


@pytest.mark.skipif(not HAVE_SOX, reason="sox not installed")
def test_pipe_sox(tmp_wav):
    path = tmp_wav("p.flac", dur=1.0, sr=16000)
    x, sr = load_audio(f"sox {path} -t wav - rate 8000 |", sr=8000)
    assert sr == 8000 and x.shape == (8000,)


def test_failing_command_reports_stderr():
    with pytest.raises(KdError) as err:
        load_audio("echo 'no such corpus' >&2; exit 3 |", utt="u9")
    msg = str(err.value)
    assert "u9" in msg and "exit status 3" in msg and "no such corpus" in msg


def test_failing_stage_of_pipeline_is_caught(tmp_wav):
    path = tmp_wav("q.wav")
    with pytest.raises(KdError, match="exit status"):
        load_audio(f"cat /no/such/file.wav | cat {path} |")


def test_command_with_garbage_output():
    with pytest.raises(KdError, match="cannot decode command output"):
        load_audio("echo hello |")


def test_is_complete_wav(tmp_wav, tmp_path):
    from kdspeech.data.audio import is_complete_wav

    path = tmp_wav("ok.wav", sr=8000)
    assert is_complete_wav(path, 8000) and not is_complete_wav(path, 16000)
    assert not is_complete_wav(tmp_path / "absent.wav", 8000)
    (tmp_path / "junk.wav").write_bytes(b"junk")
    assert not is_complete_wav(tmp_path / "junk.wav", 8000)
    save_audio(tmp_path / "empty.wav", np.zeros(0, np.float32), 8000)
    assert not is_complete_wav(tmp_path / "empty.wav", 8000)
