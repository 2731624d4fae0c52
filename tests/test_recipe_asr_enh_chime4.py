"""egs/chime4/asr_enh data preparation on a fake CHiME-4 tree with the real layout (isolated/ and
isolated_ext/ folders per set, environment and kind; dot transcripts with noise marks): the data dirs
are valid Kaldi dirs with the right channel, clean references for simulated sets, environments as
noise types and cleaned transcripts; a missing clean file or transcript is an error naming it."""

import subprocess
import sys

import numpy as np
import soundfile as sf

import recipe_helpers as helpers

SPEAKERS = ("F01", "M03")
UTTS = ("22GC010A", "22HC010B")
ENVS = ("bus", "caf", "ped", "str")


def make_tree(root, sets=("tr05", "dt05", "et05")):
    rng = np.random.default_rng(0)
    audio = root / "data" / "audio" / "16kHz"
    dots = {}
    for part in sets:
        for kind in ("simu", "real"):
            lines = []
            for env in ENVS:
                folder = audio / "isolated" / f"{part}_{env}_{kind}"
                folder.mkdir(parents=True)
                for spk, utt in zip(SPEAKERS, UTTS):
                    base = f"{spk}_{utt}_{env.upper()}"
                    for ch in range(0, 7):   # CH0: close-talk (real) / unused; CH1..CH6 the array
                        sf.write(folder / f"{base}.CH{ch}.wav", rng.standard_normal(1600) * 0.01 * (ch + 1), 16000)
                    if kind == "simu":
                        ext = audio / "isolated_ext" / f"{part}_{env}_simu"
                        ext.mkdir(parents=True, exist_ok=True)
                        for ch in range(1, 7):
                            sf.write(ext / f"{base}.CH{ch}.Clean.wav", rng.standard_normal(1600) * 0.01, 16000)
                            sf.write(ext / f"{base}.CH{ch}.Noise.wav", rng.standard_normal(1600) * 0.01, 16000)
                    lines.append(f"The [noise] company's ~ <sil> SHARES rose. ({base})")
            dots[f"{part}_{kind}"] = lines
    trans = root / "data" / "transcriptions"
    trans.mkdir(parents=True)
    for name, lines in dots.items():
        if name != "tr05_simu":  # as in the corpus: tr05_simu text comes from WSJ0
            (trans / f"{name}.dot_all").write_text("\n".join(lines) + "\n")
    return root


def run_data(recipe, chime, *args):
    env = helpers.recipe_env(drop=("CHIME4",))
    env["CHIME4"] = str(chime)
    return subprocess.run(["bash", "local/data.sh", "--out", "data", *args], cwd=recipe, env=env,
                          capture_output=True, text=True, timeout=120)


def read(path):
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def test_chime4_data_prep_on_fake_tree(tmp_path):
    chime = make_tree(tmp_path / "CHiME3")
    recipe = helpers.copy_recipe("chime4/asr_enh", tmp_path / "recipe", "enh/enh.sh")
    proc = run_data(recipe, chime)
    assert proc.returncode == 0, proc.stderr
    assert "tr05_simu gets no text" in proc.stderr
    data = recipe / "data"
    for name in ("tr05_simu", "dt05_simu", "et05_simu", "dt05_real", "et05_real"):
        wav = read(data / name / "wav.scp")
        assert len(wav) == 8 and all(p.endswith(".CH5.wav") for p in wav.values()), name
        assert set(read(data / name / "utt2noise").values()) == set(ENVS)
        assert set(read(data / name / "utt2spk").values()) == set(SPEAKERS)
        assert (data / name / "spk1.scp").exists() == name.endswith("simu")
        assert (data / name / "text").exists() == (name != "tr05_simu")
        check = subprocess.run([sys.executable, "-m", "kdspeech.bin.validate_data_dir", str(data / name), "--audio"],
                               capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stderr
    text = read(data / "dt05_real" / "text")
    assert text["F01_22GC010A_BUS_REAL"] == "THE COMPANY'S SHARES ROSE"
    clean = read(data / "et05_simu" / "spk1.scp")
    assert clean["M03_22HC010B_STR_SIMU"].endswith("isolated_ext/et05_str_simu/M03_22HC010B_STR.CH5.Clean.wav")
    # another channel
    assert run_data(recipe, chime, "--channel", "2", "--sets", "dt05_real").returncode == 0
    assert all(p.endswith(".CH2.wav") for p in read(data / "dt05_real" / "wav.scp").values())


def test_chime4_data_prep_errors(tmp_path):
    chime = make_tree(tmp_path / "CHiME3", sets=("dt05",))
    recipe = helpers.copy_recipe("chime4/asr_enh", tmp_path / "recipe", "enh/enh.sh")
    missing = chime / "data/audio/16kHz/isolated_ext/dt05_caf_simu/F01_22GC010A_CAF.CH5.Clean.wav"
    missing.unlink()
    proc = run_data(recipe, chime, "--sets", "dt05_simu")
    assert proc.returncode != 0 and "F01_22GC010A_CAF_SIMU" in proc.stderr and "stage 1" in proc.stderr
    dot = chime / "data/transcriptions/dt05_real.dot_all"
    dot.write_text(dot.read_text().replace("(M03_22HC010B_PED)", "(M03_XXXXXXXX_PED)"))
    proc = run_data(recipe, chime, "--sets", "dt05_real")
    assert proc.returncode != 0 and "M03_22HC010B_PED has no transcript" in proc.stderr
    proc = run_data(recipe, tmp_path / "nowhere")
    assert proc.returncode != 0 and "set CHIME4 in db.sh" in proc.stderr
