"""kdspeech.bin.split_sources and kdspeech.bin.mix_pse: the held-out split, enrolment, fixed mixture sets."""

import math

import numpy as np
import pytest
import yaml

from kdspeech.bin import mix_pse, split_sources
from kdspeech.data.audio import load_audio
from kdspeech.data.datadir import DataDir, read_kv, write_kv
from kdspeech.errors import KdError
from kdspeech.tasks.enhancement import EnhancementDataset
from test_pse_data import write_sources, write_table


def test_split_sources_is_seeded_disjoint_and_keys_enrolment_by_speaker(tmp_path):
    src, _ = write_sources(tmp_path, n_spk=4, n_utt=6)
    wav = read_kv(src / "wav.scp")
    write_kv(src / "wav.scp", {**wav, "solo-utt0": wav["spk0-utt0"]})
    write_kv(src / "utt2spk", {**read_kv(src / "utt2spk"), "solo-utt0": "solo"})
    split_sources.main(["--data", str(src), "--out", str(tmp_path / "a"), "--seed", "3"])
    split_sources.main(["--data", str(src), "--out", str(tmp_path / "b"), "--seed", "3"])
    split_sources.main(["--data", str(src), "--out", str(tmp_path / "c"), "--seed", "4"])
    a = {n: DataDir(tmp_path / "a" / n).validate() for n in ("train", "valid", "enroll")}
    for n in ("train", "valid", "enroll"):
        assert (tmp_path / "a" / n / "wav.scp").read_text() == (tmp_path / "b" / n / "wav.scp").read_text()
    assert (tmp_path / "a" / "valid" / "wav.scp").read_text() != (tmp_path / "c" / "valid" / "wav.scp").read_text()
    enroll_utts = set(read_kv(tmp_path / "a" / "enroll" / "enroll2utt").values())
    train, valid = set(a["train"].utts), set(a["valid"].utts)
    assert len(enroll_utts) == 4 and a["enroll"].utts == ["spk0", "spk1", "spk2", "spk3"]
    assert a["enroll"].read("utt2spk") == {s: s for s in a["enroll"].utts}
    assert not (train & valid) and not (enroll_utts & (train | valid)) and "solo-utt0" not in train | valid
    assert train | valid | enroll_utts == set(wav)                  # every file of a 2+-utt speaker
    assert len(valid) == round(0.15 * 20)
    for spk, utt in read_kv(tmp_path / "a" / "enroll" / "enroll2utt").items():
        assert a["enroll"].wav_scp[spk] == wav[utt] and utt.startswith(spk)


@pytest.fixture
def pse_dirs(tmp_path):
    src, noise = write_sources(tmp_path, n_spk=3, n_utt=5)
    split_sources.main(["--data", str(src), "--out", str(tmp_path / "pse")])
    (tmp_path / "conf.yaml").write_text(yaml.safe_dump(
        {"data": {"segment": 8000, "on_the_fly": {"noises": "ignored/here", "rir_prob": 0.0,
                                                  "snr": {"mean": 0, "std": 5, "min": -5, "max": 10}}}}))
    return tmp_path, noise


def run_mix(tmp_path, noise, out, extra=()):
    return mix_pse.main(["--sources", str(tmp_path / "pse" / "valid"), "--enroll", str(tmp_path / "pse" / "enroll"),
                         "--interferers", str(tmp_path / "pse" / "train"), "--noises", str(noise),
                         "--out", str(out), "--num_mixtures", "12", "--duration", "0.5",
                         "--conf", str(tmp_path / "conf.yaml"), *extra])


def test_written_set_is_readable_and_consistent(pse_dirs):
    tmp_path, noise = pse_dirs
    out = tmp_path / "valid_mix"
    assert run_mix(tmp_path, noise, out) == 0
    data = DataDir(out).validate()
    assert len(data.utts) == 12
    cats, spk = data.read("utt2category"), data.read("utt2spk")
    sir, snr, enroll = data.read("utt2sir"), data.read("utt2snr"), data.read("utt2enroll")
    sources = DataDir(tmp_path / "pse" / "valid")
    speakers = read_kv(tmp_path / "pse" / "enroll" / "utt2spk")
    enroll_wav = read_kv(tmp_path / "pse" / "enroll" / "wav.scp")
    for utt in data.utts:
        target = utt.split("__")[0]
        assert spk[utt] == sources.read("utt2spk")[target]
        assert enroll[utt] == enroll_wav[spk[utt]] != sources.wav_scp[target]   # the speaker's clip
        assert math.isnan(float(sir[utt])) == (cats[utt] == "noise")
        mix, _ = load_audio(data.wav_scp[utt], sr=16000)
        ref, _ = load_audio(data.read("spk1.scp")[utt], sr=16000)
        assert len(mix) == len(ref) == 8000
        # no RIR: the reference is the target as mixed, so utt2snr is the ratio of the files
        rest = mix.astype(np.float64) - ref
        measured = 10 * math.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum(rest ** 2))
        assert abs(measured - float(snr[utt])) < 0.05
        if cats[utt] == "noise":
            assert -5 <= float(snr[utt]) <= 10
    table = tmp_path / "emb.npz"
    write_table(table, speakers.values())
    ds = EnhancementDataset(out, segment=0, train=False, enroll_emb=str(table), enroll_segment=4000)
    item = ds[0]
    assert item["input"].shape == (8000,) and item["enroll_emb"].shape == (4,) and item["enroll"].shape == (4000,)
    # the same draws as the on-the-fly dataset with train=False
    from kdspeech.tasks import get_task
    fly = get_task("personalized_enhancement").build_dataset(
        str(tmp_path / "pse" / "valid"),
        {"segment": 8000, "enroll_emb": str(table),
         "on_the_fly": {"noises": str(noise), "interferers": str(tmp_path / "pse" / "train"), "rir_prob": 0.0,
                        "snr": {"mean": 0, "std": 5, "min": -5, "max": 10}}}, False, 1)
    index = int(ds.utts[0].rsplit("pse", 1)[1])
    assert np.allclose(fly[index]["input"].numpy(), item["input"].numpy(), atol=1e-4)   # 16-bit files


def test_resume_skips_finished_mixtures_and_other_options_are_an_error(pse_dirs):
    tmp_path, noise = pse_dirs
    out = tmp_path / "mix"
    run_mix(tmp_path, noise, out)
    wavs = sorted((out / "wav" / "mix").iterdir())
    stamps = {p: p.stat().st_mtime_ns for p in wavs}
    before = (out / "utt2snr").read_text()
    wavs[3].unlink()
    with open(out / "progress", "a") as f:
        f.write("cut-line-without-end")          # as a crash would leave it
    run_mix(tmp_path, noise, out)
    assert (out / "utt2snr").read_text() == before and wavs[3].is_file()
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items() if p != wavs[3])
    with pytest.raises(KdError, match="other options"):
        run_mix(tmp_path, noise, out, ["--seed", "2"])


def test_target_speaker_without_enrolment_is_an_error(pse_dirs):
    tmp_path, noise = pse_dirs
    enroll = tmp_path / "pse" / "enroll"
    for name in ("wav.scp", "utt2spk", "enroll2utt"):
        write_kv(enroll / name, {k: v for k, v in read_kv(enroll / name).items() if k != "spk1"})
    with pytest.raises(KdError, match="'spk1'") as err:
        run_mix(tmp_path, noise, tmp_path / "mix")
    assert "enroll/utt2spk" in str(err.value)


def test_enrolment_parts_of_recordings_are_written_as_files(tmp_path):
    """Sources cut by ``segments`` (one recording per speaker, two halves): the enrolment half is written
    to wav/enroll/ and utt2enroll names that file, never the target half."""
    from kdspeech.data.audio import save_audio

    rng = np.random.default_rng(1)
    wav, segments, spk = {}, {}, {}
    for s in range(3):
        rec = f"spk{s}-rec"
        path = tmp_path / "audio" / f"{rec}.wav"
        save_audio(path, 0.1 * rng.standard_normal(16000), 16000)
        wav[rec] = str(path)
        for half, (start, end) in (("a", (0.0, 0.5)), ("b", (0.5, 1.0))):
            segments[f"{rec}-{half}"] = f"{rec} {start:.3f} {end:.3f}"
            spk[f"{rec}-{half}"] = f"spk{s}"
    src = tmp_path / "src"
    write_kv(src / "wav.scp", wav)
    write_kv(src / "segments", segments)
    write_kv(src / "utt2spk", spk)
    _, noise = write_sources(tmp_path / "other", n_spk=1, n_utt=1)
    split_sources.main(["--data", str(src), "--out", str(tmp_path / "pse"), "--valid_fraction", "0.3"])
    (tmp_path / "conf.yaml").write_text(yaml.safe_dump({"categories": {"noise": 1.0}, "rir_prob": 0.0}))
    out = tmp_path / "mix"
    assert mix_pse.main(["--sources", str(tmp_path / "pse" / "train"), "--enroll", str(tmp_path / "pse" / "enroll"),
                         "--noises", str(noise), "--out", str(out), "--num_mixtures", "4", "--duration", "0.25",
                         "--conf", str(tmp_path / "conf.yaml")]) == 0
    enrolled = read_kv(tmp_path / "pse" / "enroll" / "enroll2utt")      # speaker -> the half set aside
    source = DataDir(src)
    for mid, entry in read_kv(out / "utt2enroll").items():
        assert entry.startswith(str(out / "wav" / "enroll"))
        speaker = read_kv(out / "utt2spk")[mid]
        clip, _ = load_audio(entry, sr=16000)
        np.testing.assert_allclose(clip, source.load_audio(enrolled[speaker], sr=16000)[0], atol=1e-4)
        assert enrolled[speaker] != mid.split("__")[0]


def test_split_sources_without_validation_part(tmp_path):
    src, _ = write_sources(tmp_path, n_spk=3, n_utt=4)
    assert split_sources.main(["--data", str(src), "--out", str(tmp_path / "pse"), "--valid_fraction", "0"]) == 0
    assert len(read_kv(tmp_path / "pse" / "train" / "wav.scp")) == 9 and not (tmp_path / "pse" / "valid").exists()
