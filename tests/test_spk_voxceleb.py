"""Data preparation of egs/voxceleb/spk on a fake tree with the real VoxCeleb1/2 layout."""

import subprocess

import numpy as np
import soundfile as sf

import recipe_helpers as helpers


def fake_tree(root, n_dev2=40):
    v1, v2 = root / "VoxCeleb1", root / "VoxCeleb2"
    wav = np.zeros(1600, dtype=np.int16)
    for spk in ("id10270", "id10271", "id10272", "id10001"):     # three test speakers, one dev speaker
        for yt in ("x6uYqmx31kE", "8jEAjG6SegY"):
            for n in (1, 2):
                path = v1 / "wav" / spk / yt / f"{n:05d}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, wav, 16000)
    for i in range(n_dev2):
        for n in (1, 2, 3):
            path = v2 / "dev" / "aac" / f"id{i + 10:05d}" / "yt1" / f"{n:05d}.m4a"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\0")                               # never decoded by data preparation
    trials = ["1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00002.wav",
              "0 id10270/x6uYqmx31kE/00001.wav id10271/x6uYqmx31kE/00001.wav",
              "1 id10272/x6uYqmx31kE/00002.wav id10272/8jEAjG6SegY/00001.wav"]
    (v1 / "veri_test2.txt").write_text("\n".join(trials) + "\n")
    return v1, v2


def prepare(recipe, v1, v2, opts=""):
    env = helpers.recipe_env()
    env.update(VOX1=str(v1), VOX2=str(v2), VOX1_TRIALS=str(v1 / "veri_test2.txt"))
    return subprocess.run(["bash", "-c", f". ./path.sh && local/data.sh --out data {opts}"], cwd=recipe,
                          capture_output=True, text=True, env=env, timeout=300)


def kv(path):
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def test_voxceleb_data_preparation_on_the_real_layout(tmp_path):
    v1, v2 = fake_tree(tmp_path / "corpora")
    recipe = helpers.copy_recipe("voxceleb/spk", tmp_path / "recipe", "spk/spk.sh")
    proc = prepare(recipe, v1, v2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = recipe / "data"
    assert (data / "test" / "trials").read_text().splitlines()[0] == \
        "1 id10270-x6uYqmx31kE-00001 id10270-8jEAjG6SegY-00002"
    test = kv(data / "test" / "wav.scp")
    assert len(test) == 5 and test["id10271-x6uYqmx31kE-00001"].endswith("VoxCeleb1/wav/id10271/x6uYqmx31kE/00001.wav")
    train_spk = set(kv(data / "train" / "utt2spk").values())
    valid_spk = set(kv(data / "valid" / "utt2spk").values())
    assert len(valid_spk) == 2 and len(train_spk) == 38 and not train_spk & valid_spk   # 5 % of 40 held out
    scp = kv(data / "train" / "wav.scp")
    assert all(v.startswith("ffmpeg -nostdin") and v.endswith(".m4a -ac 1 -f wav - |") for v in scp.values())
    trials = [l.split() for l in (data / "valid" / "trials").read_text().splitlines()]
    assert sum(t[2] == "target" for t in trials) == 2 * 3          # every same-speaker pair of 3 utts
    assert all(kv(data / "valid" / "utt2spk")[a] != kv(data / "valid" / "utt2spk")[b]
               for a, b, t in trials if t == "nontarget")
    assert set(kv(data / "tsne" / "utt2spk").values()) == {"id10270", "id10271", "id10272"}
    # Same split again (a fixed function of the ids), and VoxCeleb1 dev speakers join with --train_sets.
    again = prepare(recipe, v1, v2, "--train_sets 'vox2 vox1'")
    assert again.returncode == 0, again.stderr[-3000:]
    spk = set(kv(data / "train" / "utt2spk").values()) | set(kv(data / "valid" / "utt2spk").values())
    assert "id10001" in spk and not spk & {"id10270", "id10271", "id10272"}
    assert set(kv(data / "valid" / "utt2spk").values()) <= valid_spk | {"id10001"}


def test_voxceleb_trial_naming_a_missing_file_names_the_line(tmp_path):
    v1, v2 = fake_tree(tmp_path / "corpora", n_dev2=4)
    (v1 / "wav" / "id10272" / "8jEAjG6SegY" / "00001.wav").unlink()
    recipe = helpers.copy_recipe("voxceleb/spk", tmp_path / "recipe", "spk/spk.sh")
    proc = prepare(recipe, v1, v2)
    assert proc.returncode != 0
    assert "veri_test2.txt:3: trial names id10272/8jEAjG6SegY/00001.wav, which is not in the VoxCeleb1 tree" \
        in proc.stderr
    assert "stage 1" in proc.stderr and not (recipe / "data" / "test" / "trials").exists()
