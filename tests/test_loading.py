"""The trainer's loaders (kdspeech.train.loading) and length-bucketed batches (kdspeech.train.buckets):
the same batches for any number of workers and on every run, persistent workers that still see each
epoch's crops, batches of at most batch_seconds with every DDP rank given as many, and bad options
named before any training."""

import numpy as np
import pytest
import torch

from kdspeech.bin import train
from kdspeech.data.audio import save_audio
from kdspeech.data.datadir import DataDir, write_kv
from kdspeech.errors import KdError
from kdspeech.tasks.enhancement import EnhancementDataset
from kdspeech.train.buckets import BucketBatches, check_fits, pack, padded_fraction
from kdspeech.train.distributed import DistInfo
from kdspeech.train.loading import (auto_workers, check_loader_options, epoch_loader, fixed_batches,
                                    loader_kwargs, make_loader, pad_collate)


def make_var_dir(root, seconds, sr=8000, seed=0):
    """An enhancement dir whose utterances last ``seconds`` (noise in, a tone out)."""
    rng = np.random.default_rng(seed)
    wav, spk1 = {}, {}
    for i, dur in enumerate(seconds):
        utt = f"utt{i:03d}"
        clean = 0.3 * np.sin(np.arange(int(sr * dur)) * rng.uniform(0.05, 0.2)).astype(np.float32)
        save_audio(root / f"{utt}_clean.wav", clean, sr)
        save_audio(root / f"{utt}_mix.wav", clean + 0.05 * rng.standard_normal(len(clean)).astype(np.float32), sr)
        wav[utt], spk1[utt] = str(root / f"{utt}_mix.wav"), str(root / f"{utt}_clean.wav")
    write_kv(root / "wav.scp", wav)
    write_kv(root / "spk1.scp", spk1)
    return root


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    return make_var_dir(tmp_path_factory.mktemp("var"), [0.3, 1.2, 0.5, 0.9, 0.35, 1.1, 0.6, 0.8, 0.4, 1.0])


def _epochs(dataset, workers, epochs=(1, 2), persistent=True):
    loader = make_loader(dataset, fixed_batches(dataset, 3, True, 5, DistInfo()),
                         {"num_workers": workers, "persistent_workers": persistent}, "cpu", 5)
    torch.manual_seed(11)
    out = [[b for b in epoch_loader(loader, e)] for e in epochs]
    return out, torch.get_rng_state()


def test_batches_and_global_generator_do_not_depend_on_the_workers(var_dir):
    dataset = EnhancementDataset(var_dir, segment=2000, sr=8000, train=True, seed=5)
    (base, state), (two, state2) = _epochs(dataset, 0), _epochs(dataset, 2)
    (again, _), (fresh, _) = _epochs(dataset, 0), _epochs(dataset, 2, persistent=False)
    for other in (two, again, fresh):
        for epoch_a, epoch_b in zip(base, other):
            assert len(epoch_a) == len(epoch_b) == 4
            for a, b in zip(epoch_a, epoch_b):
                assert a["key"] == b["key"] and torch.equal(a["input"], b["input"])
    assert torch.equal(state, state2)    # dropout masks after the loader: the same for 0 and 2 workers
    # persistent workers kept their dataset copy, yet epoch 2 is cropped as epoch 2 (other offsets)
    assert [b["key"] for b in base[0]] != [b["key"] for b in base[1]]


def test_auto_workers_and_options():
    assert auto_workers("cpu", 2) == 0 and auto_workers("cpu", 8) == 2
    assert auto_workers("cuda", 1) == 0 and auto_workers("cuda", 4) == 3 and auto_workers("cuda", 32) == 8
    assert loader_kwargs({"num_workers": 0}, "cpu") == {"num_workers": 0, "pin_memory": False}
    kw = loader_kwargs({"num_workers": 2, "prefetch_factor": 4, "pin_memory": "auto"}, "cuda")
    assert kw["pin_memory"] and kw["persistent_workers"] and kw["prefetch_factor"] == 4
    for bad, key in (({"num_workers": -1}, "num_workers"), ({"num_workers": "all"}, "num_workers"),
                     ({"pin_memory": "yes"}, "pin_memory"), ({"prefetch_factor": 0}, "prefetch_factor"),
                     ({"persistent_workers": 1}, "persistent_workers")):
        with pytest.raises(KdError, match=key):
            check_loader_options(bad, "conf.yaml")


def test_bucket_batches_cover_every_example_within_batch_seconds_seeded_per_epoch():
    seconds = np.random.default_rng(0).uniform(1, 15, 200)
    sampler = BucketBatches(seconds, 40, num_buckets=8, seed=3)
    orders = []
    for epoch in (1, 2):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert sorted(i for b in batches for i in b) == list(range(200))
        assert all(len(b) * max(seconds[i] for i in b) <= 40 for b in batches)
        orders.append(batches)
    assert orders[0] != orders[1]
    again = BucketBatches(seconds, 40, num_buckets=8, seed=3)
    again.set_epoch(2)
    assert list(again) == orders[1]
    # buckets pad far less than batches of random examples packed the same way
    rng = np.random.default_rng(1)
    random_batches = pack(rng.permutation(200), seconds, 40)
    assert padded_fraction(orders[0], seconds) < 0.1 < padded_fraction(random_batches, seconds)
    # validation: buckets in order, unshuffled, the same at every epoch
    valid = BucketBatches(seconds, 40, num_buckets=8, seed=3, shuffle=False)
    first = list(valid)
    valid.set_epoch(5)
    assert list(valid) == first


@pytest.mark.parametrize("world", [2, 3])
def test_every_rank_gets_the_same_number_of_batches(world):
    seconds = np.random.default_rng(2).uniform(1, 10, 37)
    ranks = [BucketBatches(seconds, 25, num_buckets=4, seed=1, world_size=world, rank=r) for r in range(world)]
    for sampler in ranks:
        sampler.set_epoch(3)
    assert len({len(s) for s in ranks}) == 1
    assert {i for s in ranks for b in s for i in b} == set(range(37))
    single = BucketBatches(seconds, 25, num_buckets=4, seed=1)
    single.set_epoch(3)
    assert sum(len(s) for s in ranks) == len(single) + (-len(single) % world)   # a few repeated, none lost


def test_pad_collate_pads_to_the_longest_and_gives_lengths():
    items = [{"input": torch.ones(3), "target": torch.ones(3), "key": "a"},
             {"input": torch.ones(5), "target": torch.ones(5), "key": "b"}]
    batch = pad_collate(items)
    assert batch["input"].shape == (2, 5) and batch["input"][0, 3:].eq(0).all()
    assert batch["input_len"].tolist() == [3, 5] and batch["key"] == ["a", "b"]


def test_whole_utterances_have_their_durations_and_a_too_long_one_is_named(var_dir):
    dataset = EnhancementDataset(var_dir, segment=0, sr=8000)
    durations = dict(dataset.item_seconds())
    assert durations["utt001"] == pytest.approx(1.2) and durations["utt004"] == pytest.approx(0.35)
    assert dict(EnhancementDataset(var_dir, segment=800, sr=8000).item_seconds())["utt001"] == pytest.approx(0.1)
    with pytest.raises(KdError, match=r"batch_seconds 1 .*'utt001'.*1\.20 s"):
        check_fits(dataset.item_seconds(), 1.0)
    write_kv(var_dir / "utt2dur", {u: "2.5" if u == "utt003" else f"{d:g}" for u, d in durations.items()})
    try:
        assert DataDir(var_dir).durations()["utt003"] == 2.5   # utt2dur, where the dir has one
    finally:
        (var_dir / "utt2dur").unlink()


CONF = """\
task: enhancement
data: {segment: 0, sr: 8000}
batch_seconds: 2.5
num_buckets: 3
model:
  name: waveunet
  conf: {num_layers: 2, base_channels: 4, growth: 4, num_decimations: 2}
loss: [{name: mse_target, weight: 1.0}]
optim: {name: adam, lr: 1e-3}
trainer: {max_epochs: 2, tensorboard: false, num_threads: 1}
"""


def _train(tmp_path, var_dir, name, *overrides):
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF)
    return train.main(["--config", str(conf), "--train_data", str(var_dir), "--valid_data", str(var_dir),
                       "--out_dir", str(tmp_path / name), *overrides])


def test_training_on_bucketed_whole_utterances_with_workers_equals_without(tmp_path, var_dir):
    assert _train(tmp_path, var_dir, "w0", "num_workers=0") == 0
    assert _train(tmp_path, var_dir, "w2", "num_workers=2") == 0
    a, b = (torch.load(tmp_path / n / "best.pth", weights_only=False)["model"] for n in ("w0", "w2"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_batch_seconds_below_the_longest_utterance_fails_before_training(tmp_path, var_dir):
    with pytest.raises(KdError, match=r"batch_seconds 1 is smaller than example 'utt001'"):
        _train(tmp_path, var_dir, "short", "batch_seconds=1")
    assert not (tmp_path / "short" / "checkpoints").exists()
    with pytest.raises(KdError, match="batch_seconds must be"):
        _train(tmp_path, var_dir, "bad", "batch_seconds=-2")
    with pytest.raises(KdError, match="num_workers"):
        _train(tmp_path, var_dir, "bad", "num_workers=many")


def test_loader_options_leave_the_run_key_as_before(tmp_path):
    """Checkpoints made before these keys existed (num_workers 0 in their key) still resume."""
    import argparse
    import copy

    from kdspeech.config import load_config

    conf_file = tmp_path / "conf.yaml"
    conf_file.write_text(CONF.replace("batch_seconds: 2.5\nnum_buckets: 3\n", ""))
    args = argparse.Namespace(train_data="t", valid_data="v", seed=1)
    conf = load_config(conf_file, [], train.DEFAULTS, train.FREE)
    legacy = copy.deepcopy(conf)
    for key in ("pin_memory", "persistent_workers", "prefetch_factor", "batch_seconds", "num_buckets"):
        legacy.pop(key)
    legacy["num_workers"] = 0
    key = train._run_key(conf, args)
    assert key == train._run_key(legacy, args)
    assert key == train._run_key({**conf, "num_workers": 4, "pin_memory": True, "prefetch_factor": 8}, args)
    assert key != train._run_key({**conf, "batch_seconds": 30}, args)
