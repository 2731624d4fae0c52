"""The on-the-fly personalized-enhancement dataset (data.on_the_fly) of the enhancement tasks."""

import numpy as np
import pytest
import soundfile as sf
import torch

from kdspeech.data.audio import save_audio
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError
from kdspeech.tasks import get_task

SR = 16000


def write_sources(root, n_spk=3, n_utt=4, seed=0, rates=None):
    """A sources dir of noise-like 'speech' (0.4-0.9 s), and a noise dir; ``rates`` {utt: Hz}."""
    rng = np.random.default_rng(seed)
    wav, spk = {}, {}
    for s in range(n_spk):
        for u in range(n_utt):
            utt = f"spk{s}-utt{u}"
            rate = (rates or {}).get(utt, SR)
            x = 0.1 * rng.standard_normal(int(rate * (0.4 + 0.1 * u + 0.05 * s)))
            path = root / "audio" / f"{utt}.wav"
            save_audio(path, x, rate)
            wav[utt], spk[utt] = str(path), f"spk{s}"
    write_kv(root / "src" / "wav.scp", wav)
    write_kv(root / "src" / "utt2spk", spk)
    noises = {}
    for i in range(2):
        path = root / "audio" / f"noise{i}.wav"
        save_audio(path, 0.3 * rng.standard_normal(int(SR * (0.3 + 0.5 * i))), SR)
        noises[f"noise{i}"] = str(path)
    write_kv(root / "noise" / "wav.scp", noises)
    return root / "src", root / "noise"


def write_table(path, speakers, dim=4):
    keys = sorted(speakers)
    emb = np.arange(len(keys) * dim, dtype=np.float32).reshape(len(keys), dim)
    np.savez(path, keys=np.array(keys), emb=emb)
    return {k: emb[i] for i, k in enumerate(keys)}


def conf(tmp_path, noise, table, **extra):
    return {"segment": 8000, "sr": SR, "enroll_emb": str(table),
            "on_the_fly": {"noises": str(noise), "items_per_epoch": 10, **extra}}


@pytest.fixture
def setup(tmp_path):
    src, noise = write_sources(tmp_path)
    table = tmp_path / "emb.npz"
    rows = write_table(table, ["spk0", "spk1", "spk2"])
    return tmp_path, src, noise, table, rows


def build(src, c, train=True, seed=1):
    return get_task("personalized_enhancement").build_dataset(str(src), c, train, seed)


def test_items_reproducible_per_epoch_and_fixed_without_training(setup):
    tmp_path, src, noise, table, rows = setup
    ds = build(src, conf(tmp_path, noise, table))
    assert len(ds) == 10 and ds.personalized
    item = ds[3]
    assert item["input"].shape == item["target"].shape == (8000,)
    speaker = item["key"].split("-")[0]
    assert torch.equal(item["enroll_emb"], torch.from_numpy(rows[speaker]))
    assert torch.isfinite(item["snr"])
    again = build(src, conf(tmp_path, noise, table))          # a resumed run, same epoch
    assert torch.equal(again[3]["input"], item["input"])
    ds.set_epoch(1)
    assert not torch.equal(ds[3]["input"], item["input"])
    fixed = build(src, conf(tmp_path, noise, table), train=False)
    first = fixed[3]["input"]
    fixed.set_epoch(5)
    assert torch.equal(fixed[3]["input"], first)
    batch = torch.utils.data.default_collate([ds[i] for i in range(4)])
    assert batch["input"].shape == (4, 8000) and batch["enroll_emb"].shape == (4, 4)


def test_mixed_dir_is_read_as_it_is(setup, tmp_path):
    _, src, noise, table, _ = setup
    mixed = tmp_path / "mixed"
    write_kv(mixed / "wav.scp", {"a": src.joinpath("..", "audio", "spk0-utt1.wav").resolve()})
    write_kv(mixed / "spk1.scp", {"a": src.joinpath("..", "audio", "spk0-utt1.wav").resolve()})
    write_kv(mixed / "utt2spk", {"a": "spk0"})
    ds = build(mixed, conf(tmp_path, noise, table), train=False)
    assert type(ds).__name__ == "EnhancementDataset" and len(ds) == 1


def test_speaker_without_enrolment_embedding_is_an_error(setup):
    tmp_path, src, noise, _, _ = setup
    partial = tmp_path / "partial.npz"
    write_table(partial, ["spk0", "spk2"])
    with pytest.raises(KdError, match="'spk1'") as err:
        build(src, conf(tmp_path, noise, partial))
    assert "partial.npz" in str(err.value)
    with pytest.raises(KdError, match="enroll_emb"):
        build(src, {**conf(tmp_path, noise, partial), "enroll_emb": None})
    with pytest.raises(KdError, match="unknown"):
        build(src, conf(tmp_path, noise, partial, snr_mean=2))


def test_empty_or_unreadable_source_is_an_error_naming_the_file(setup):
    tmp_path, src, noise, table, _ = setup
    sf.write(str(tmp_path / "audio" / "spk1-utt2.wav"), np.zeros(0, np.float32), SR)
    (tmp_path / "audio" / "spk2-utt3.wav").write_bytes(b"not audio at all")
    ds = build(src, conf(tmp_path, noise, table, categories={"noise": 1.0}, items_per_epoch=12))
    messages = []
    for i in range(len(ds)):
        try:
            ds[i]
        except KdError as err:
            messages.append(str(err))
    assert len(messages) == 2
    assert any("spk1-utt2" in m and "no samples" in m and "wav.scp" in m for m in messages)
    assert any("spk2-utt3.wav" in m and "cannot decode" in m for m in messages)


def test_other_sample_rate_is_resampled_unless_strict(tmp_path):
    src, noise = write_sources(tmp_path, rates={f"spk{s}-utt{u}": 8000 for s in range(3) for u in range(4)})
    table = tmp_path / "emb.npz"
    write_table(table, ["spk0", "spk1", "spk2"])
    ds = build(src, conf(tmp_path, noise, table, categories={"noise": 1.0}, items_per_epoch=12))
    items = {ds[i]["key"].split("@")[0]: ds[i] for i in range(12)}   # every source once
    assert items["spk0-utt0"]["input"].shape == (8000,)
    # 0.4 s at 8 kHz (3200 samples) becomes 6400 samples at 16 kHz, then zero padding
    target = items["spk0-utt0"]["target"].numpy()
    assert not np.any(target[6400:]) and np.count_nonzero(target[:6400]) > 6300
    strict = build(src, conf(tmp_path, noise, table, strict_rate=True))
    with pytest.raises(KdError, match="8000 Hz"):
        strict[0]
