"""egs/dns5/pse/local/prepare_dns5.py on a fake DNS5 tree (the real folder layout, tiny wavs):
training speech with speakers, noises, RIRs, blind test sets with enrolment clips, and the errors."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from kdspeech.data.audio import save_audio
from kdspeech.data.datadir import DataDir, read_kv
from kdspeech.errors import KdError

SCRIPT = Path(__file__).resolve().parents[1] / "egs/dns5/pse/local/prepare_dns5.py"
spec = importlib.util.spec_from_file_location("prepare_dns5", SCRIPT)
prep = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prep)


def wav(path):
    save_audio(path, np.zeros(160, np.float32), 16000)
    return path


@pytest.fixture
def tree(tmp_path):
    root, blind = tmp_path / "datasets_fullband", tmp_path / "V5_BlindTestSet"
    clean = root / "clean_fullband"
    wav(clean / "read_speech/book_00002_chp_0005_reader_11096_3.wav")
    wav(clean / "read_speech/book_00002_chp_0005_reader_11096_4.wav")
    wav(clean / "read_speech/book_01000_chp_0001_reader_00042_0.wav")
    wav(clean / "vctk_wav48_silence_trimmed/p225/p225_001_mic1.wav")
    wav(root / "noise_fullband/door_knock 1.wav")
    wav(root / "noise_fullband/AC_noise.wav")
    wav(root / "impulse_responses/SLR26/simulated_rirs_48k/smallroom/Room001/Room001-00001.wav")
    wav(root / "impulse_responses/SLR28/RIRS_NOISES/real_rirs_isotropic_noises/RVB2014_type1_rir_largeroom1_near_angla.wav")
    for track in ("Track1_Headset", "Track2_Speakerphone"):
        wav(blind / track / "noisy" / "spkA_clip01.wav")
        wav(blind / track / "noisy" / "spkA_clip02.wav")
        wav(blind / track / "noisy" / "spkB_clip01.wav")
        wav(blind / track / "enrol" / "spkA_enrol.wav")
        wav(blind / track / "enrol" / "spkB_enrol.wav")
    return tmp_path, root, blind


def test_data_dirs_from_the_dns5_layout(tree):
    tmp_path, root, blind = tree
    out = tmp_path / "data"
    assert prep.main(["--root", str(root), "--blind", str(blind), "--out", str(out),
                      "--speech", "read_speech,vctk_wav48_silence_trimmed"]) == 0
    train = read_kv(out / "train_clean/utt2spk")
    assert train == {
        "read_speech-book_00002_chp_0005_reader_11096_3": "reader11096",
        "read_speech-book_00002_chp_0005_reader_11096_4": "reader11096",
        "read_speech-book_01000_chp_0001_reader_00042_0": "reader00042",
        "vctk_wav48_silence_trimmed-p225-p225_001_mic1": "vctk_wav48_silence_trimmed-p225"}
    assert read_kv(out / "train_clean/spk2utt")["reader11096"].split() == [
        "read_speech-book_00002_chp_0005_reader_11096_3", "read_speech-book_00002_chp_0005_reader_11096_4"]
    assert sorted(read_kv(out / "noise/wav.scp")) == ["AC_noise", "door_knock_1"]
    assert sorted(read_kv(out / "rir/wav.scp")) == [
        "SLR26-simulated_rirs_48k-smallroom-Room001-Room001-00001",
        "SLR28-RIRS_NOISES-real_rirs_isotropic_noises-RVB2014_type1_rir_largeroom1_near_angla"]
    for track, name in (("Track1_Headset", "blind_track1_headset"), ("Track2_Speakerphone", "blind_track2_speakerphone")):
        d = DataDir(out / name).validate()
        assert d.utts == ["spkA_clip01", "spkA_clip02", "spkB_clip01"]
        assert not d.has("spk1.scp")  # a blind test set has no clean reference
        assert d.read("utt2spk") == {"spkA_clip01": "spkA", "spkA_clip02": "spkA", "spkB_clip01": "spkB"}
        assert d.read("utt2enroll")["spkB_clip01"] == str((blind / track / "enrol/spkB_enrol.wav").resolve())
        assert Path(d.read("wav.scp")["spkA_clip02"]) == (blind / track / "noisy/spkA_clip02.wav").resolve()
    for name in ("train_clean", "noise", "rir"):
        DataDir(out / name).validate()


def test_enrol_clip_with_the_noisy_clips_name_is_preferred(tree):
    tmp_path, _, blind = tree
    wav(blind / "Track1_Headset/noisy/spkE_clip05.wav")
    wav(blind / "Track1_Headset/enrol/spkE_clip05.wav")
    wav(blind / "Track1_Headset/enrol/spkE_other.wav")  # two of spkE: the name decides
    assert prep.main(["--blind", str(blind), "--out", str(tmp_path / "data")]) == 0
    enroll = read_kv(tmp_path / "data/blind_track1_headset/utt2enroll")
    assert enroll["spkE_clip05"].endswith("enrol/spkE_clip05.wav")
    assert enroll["spkA_clip01"].endswith("enrol/spkA_enrol.wav")


def test_noisy_clip_without_enrolment_is_an_error_naming_it(tree, capsys):
    tmp_path, root, blind = tree
    lonely = wav(blind / "Track2_Speakerphone/noisy/spkC_clip07.wav")
    with pytest.raises(KdError, match=f"{lonely}: no enrolment clip for this noisy clip \\(speaker spkC"):
        prep.prepare(root, blind, tmp_path / "data", ["read_speech"])
    assert not (tmp_path / "data").exists()  # nothing half-written
    assert prep.main(["--blind", str(blind), "--out", str(tmp_path / "data")]) == 1
    assert str(lonely) in capsys.readouterr().err


def test_ambiguous_enrolment_and_missing_folders(tree):
    tmp_path, root, blind = tree
    wav(blind / "Track1_Headset/enrol/spkA_enrol2.wav")
    with pytest.raises(KdError, match="speaker spkA has 2 enrol clips"):
        prep.prepare(None, blind, tmp_path / "d1", [])
    with pytest.raises(KdError, match="clean speech collection german_speech folder not found"):
        prep.prepare(root, None, tmp_path / "d2", ["german_speech"])
    with pytest.raises(KdError, match="neither Track1_Headset nor Track2_Speakerphone"):
        prep.prepare(None, tmp_path, tmp_path / "d3", [])
