"""egs/timit/enh/local/data.sh on a fake TIMIT tree: SPHERE .WAV, .wav/.flac, SA sentences, speaker split."""

import os
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from kdspeech.data.audio import load_audio
from kdspeech.data.datadir import DataDir

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "egs" / "timit" / "enh"


def make_timit(root, rng):
    """TRAIN: 6 speakers x (SA1, SA2, 3 SX/SI); TEST: 2 speakers.  SPHERE in TRAIN/DR1, wav/flac elsewhere."""
    layout = {("TRAIN", "DR1"): ["FAKE0", "MAKE0", "FBCD0"], ("TRAIN", "dr2"): ["mxyz0", "FQRS0", "MTUV0"],
              ("TEST", "DR1"): ["FTST0"], ("TEST", "DR3"): ["MTST0"]}
    for (split, dialect), speakers in layout.items():
        for spk in speakers:
            folder = root / split / dialect / spk
            folder.mkdir(parents=True)
            for sent in ("SA1", "SA2", "SX10", "SI20", "SX30"):
                audio = (0.1 * rng.standard_normal(8000)).astype(np.float32)
                if dialect == "DR1" and split == "TRAIN":
                    sf.write(folder / f"{sent}.WAV", audio, 16000, format="NIST", subtype="PCM_16")
                    # Converted copy next to the SPHERE file, as many sites have: counted once.
                    sf.write(folder / f"{sent}.WAV.wav", audio, 16000)
                elif split == "TEST" and dialect == "DR3":
                    sf.write(folder / f"{sent.lower()}.flac", audio, 16000)
                else:
                    sf.write(folder / f"{sent}.wav", audio, 16000)
            (folder / "SX10.PHN").write_text("0 100 h#\n")


def test_timit_data_prep_on_a_fake_tree(tmp_path):
    rng = np.random.default_rng(0)
    timit = tmp_path / "TIMIT"
    make_timit(timit, rng)
    out = tmp_path / "data"
    env = {**os.environ, "TIMIT": str(timit), "NOISEX92": str(tmp_path / "noisex"),
           "CHIME4_NOISE": str(tmp_path / "chime")}
    for folder, names in (("noisex", ["babble", "speech_shaped", "factory1", "destroyerengine", "destroyerops"]),
                          ("chime", ["BGD_150203_010_BUS.CH1", "BGD_150203_010_CAF.CH1",
                                     "BGD_150204_020_PED.CH1", "BGD_150204_030_STR.CH1",
                                     "BGD_150205_040_STR.CH1"])):
        (tmp_path / folder).mkdir()
        for name in names:
            sf.write(tmp_path / folder / f"{name}.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(
        ["bash", "-c", ". ./path.sh && local/data.sh --out " + str(out) +
         " --num_train 100 --num_valid 4 --num_test 100 --num_valid_speakers 2"],
        cwd=RECIPE, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sets = {name: DataDir(out / name) for name in ("clean_train", "clean_valid", "clean_test",
                                                     "noise_train", "noise_test")}
    for d in sets.values():
        d.validate()
    spk = {name: set(sets[name].read("utt2spk").values()) for name in ("clean_train", "clean_valid", "clean_test")}
    # 6 TRAIN speakers: 2 for validation, 4 for training, disjoint; TEST speakers only in test.
    assert len(spk["clean_valid"]) == 2 and len(spk["clean_train"]) == 4
    assert not spk["clean_train"] & spk["clean_valid"]
    assert spk["clean_test"] == {"FTST0", "MTST0"}
    # SA1/SA2 left out, the SPHERE + converted copy counted once: 3 sentences per speaker.
    assert len(sets["clean_train"].utts) == 12 and len(sets["clean_test"].utts) == 6
    assert not any("_SA" in u for d in sets.values() for u in d.utts)
    assert "MXYZ0_SX10" in sets["clean_train"].utts or "MXYZ0_SX10" in sets["clean_valid"].utts
    # Every entry is readable at 16 kHz, SPHERE included.
    sphere = [v for d in sets.values() for v in d.wav_scp.values() if v.endswith(".WAV")]
    assert sphere
    audio, sr = load_audio(sphere[0], sr=16000)
    assert sr == 16000 and len(audio) == 8000
    # Validation takes sentences round-robin over its speakers: 2 per speaker for 4 utterances.
    valid_spk = list(sets["clean_valid"].read("utt2spk").values())
    assert sorted(valid_spk.count(s) for s in set(valid_spk)) == [2, 2]
    # The paper's noises: five seen types, four CHiME-4 backgrounds (street from two files).
    assert sorted(set(sets["noise_train"].read("utt2noise").values())) == [
        "babble", "destroyerengine", "destroyerops", "factory1", "speech_shaped"]
    noise_test = sets["noise_test"].read("utt2noise")
    assert sorted(set(noise_test.values())) == ["bus", "cafe", "pedestrian", "street"]
    assert list(noise_test.values()).count("street") == 2
