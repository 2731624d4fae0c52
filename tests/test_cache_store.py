"""Sharded teacher caches (kdspeech.distill.cache_store, cache_teacher --out <dir>): the same outputs as
the single .npz, read lazily from memory-mapped shards, written shard by shard so that a killed run
keeps its finished shards and the next run computes only the others."""

import logging
import pickle

import numpy as np
import pytest
import torch

from enh_fixtures import make_mix_dir
from kdspeech.bin import cache_teacher
from kdspeech.distill.cache_store import ShardWriter, ShardedTable, open_table
from kdspeech.distill.precomputed import PrecomputedTeacher
from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.train.checkpoint import atomic_save

MODEL = {"num_layers": 2, "base_channels": 4, "growth": 2, "num_decimations": 2}


def test_shards_are_read_lazily_and_a_failed_shard_leaves_nothing(tmp_path):
    writer = ShardWriter(tmp_path / "c", {"what": 1})
    writer.write(0, ["a", "b"], {"emb": np.arange(6).reshape(2, 3)})
    with pytest.raises(ValueError):   # killed half-way through a shard: no partial shard is left
        writer.write(1, ["c", "d"], {"emb": np.arange(6).reshape(2, 3), "bad": np.zeros((1, 2))})
    assert not writer.done(1) and sorted(p.name for p in (tmp_path / "c").iterdir()) == ["meta.json", "shard-00000"]
    with pytest.raises(KdError, match="incomplete"):
        ShardedTable(tmp_path / "c")
    writer.write(1, ["c"], {"emb": np.full((1, 3), 7.0)})
    writer.finish(2, ["emb"], "input")
    table = pickle.loads(pickle.dumps(open_table(tmp_path / "c")))   # as a DataLoader worker gets it
    assert not table._maps and "c" in table and "z" not in table
    assert table.get("b")["emb"].tolist() == [3, 4, 5] and table.get("c")["emb"].tolist() == [7, 7, 7]
    assert list(table._maps) == [0, 1]                              # opened on first use, memory-mapped
    assert isinstance(table._maps[0]["emb"], np.memmap)


def _cache(tmp_path, data, out, *extra):
    return cache_teacher.main(["--config", str(tmp_path / "kd.yaml"), "--teacher", "t", "--data", str(data),
                               "--out", str(out), "--device", "cpu", "--batch_size", "2", *extra])


@pytest.fixture()
def setup(tmp_path):
    data = make_mix_dir(tmp_path / "mix", n=5)
    torch.manual_seed(0)
    model = build_model("waveunet", MODEL)
    atomic_save({"model_name": "waveunet", "model_conf": MODEL, "model": model.state_dict()}, tmp_path / "t.pth")
    (tmp_path / "kd.yaml").write_text(f"""\
task: enhancement
data: {{segment: 2048}}
model: {{name: waveunet, conf: {MODEL}}}
teachers: {{t: {{members: [{tmp_path / 't.pth'}]}}}}
""")
    return data


def test_sharded_cache_equals_the_npz_and_resumes_from_finished_shards(tmp_path, setup, caplog):
    data = setup
    _cache(tmp_path, data, tmp_path / "one.npz")
    _cache(tmp_path, data, tmp_path / "sharded", "--shard_size", "2")
    shards = sorted(p.name for p in (tmp_path / "sharded").glob("shard-*"))
    assert shards == ["shard-00000", "shard-00001", "shard-00002"]
    old, new = open_table(tmp_path / "one.npz"), open_table(tmp_path / "sharded")
    assert sorted(old.keys()) == sorted(new.keys()) and len(new.keys()) == 5 and new.view == "input"
    for key in old.keys():
        assert np.allclose(old.get(key)["out"], new.get(key)["out"], atol=1e-6)
    # the trainer's teacher set reads both kinds, and checks them against the live teacher
    keys = sorted(old.keys())[:3]
    batch = {"key": keys, "input": torch.zeros(3, 2048)}
    a = PrecomputedTeacher([tmp_path / "one.npz"], name="t")(batch)["out"]
    b = PrecomputedTeacher([tmp_path / "sharded"], name="t")(batch)["out"]
    assert torch.allclose(a, b, atol=1e-6)

    # a run killed after its first shards: the finished ones are kept, only the others are computed
    stamp = (tmp_path / "sharded/shard-00000/out.npy").stat().st_mtime_ns
    for name in ("shard-00002", "index.json"):
        path = tmp_path / "sharded" / name
        if path.is_dir():
            for f in path.iterdir():
                f.unlink()
            path.rmdir()
        else:
            path.unlink()
    with pytest.raises(KdError, match="incomplete"):
        PrecomputedTeacher([tmp_path / "sharded"], name="t")
    with caplog.at_level(logging.INFO):
        _cache(tmp_path, data, tmp_path / "sharded", "--shard_size", "2")
    assert "2 of 3 shards already finished" in caplog.text
    assert (tmp_path / "sharded/shard-00000/out.npy").stat().st_mtime_ns == stamp
    assert sorted(open_table(tmp_path / "sharded").keys()) == sorted(old.keys())

    # another shard size (or teacher, data, seed): the old shards are not mixed in
    _cache(tmp_path, data, tmp_path / "sharded", "--shard_size", "3")
    assert sorted(p.name for p in (tmp_path / "sharded").glob("shard-*")) == ["shard-00000", "shard-00001"]
    assert sorted(open_table(tmp_path / "sharded").keys()) == sorted(old.keys())


def test_training_reads_a_sharded_cache_in_the_loader_workers(tmp_path, monkeypatch):
    """The loaders' workers read the cache (the training process opens no shard), and the weights are
    those of num_workers 0, where the loader reads it in the training process, and those of the teacher
    set reading its tables itself after collation (as the trainer did before)."""
    import os

    from kdspeech.bin import train
    from kdspeech.train.trainer import Trainer

    data = make_mix_dir(tmp_path / "mix", n=4, dur=0.25)
    torch.manual_seed(0)
    teacher = build_model("waveunet", MODEL)
    atomic_save({"model_name": "waveunet", "model_conf": MODEL, "model": teacher.state_dict()}, tmp_path / "t.pth")
    (tmp_path / "kd.yaml").write_text(f"""\
task: enhancement
data: {{segment: 0}}
batch_size: 2
model: {{name: waveunet, conf: {MODEL}}}
teachers: {{t: {{members: [{tmp_path / 't.pth'}]}}}}
loss: [{{name: mse_teacher, teacher: t}}, {{name: mse_target, weight: 0.5}}]
trainer: {{max_epochs: 2, tensorboard: false, num_threads: 1}}
""")
    _cache(tmp_path, data, tmp_path / "cache", "--shard_size", "3")
    opened = tmp_path / "opened.txt"
    real = ShardedTable._arrays

    def recording(self, shard):   # inherited by forked workers: every process that maps a shard says so
        if shard not in self._maps or self._pid != os.getpid():
            with open(opened, "a") as f:
                f.write(f"{os.getpid()}\n")
        return real(self, shard)

    monkeypatch.setattr(ShardedTable, "_arrays", recording)
    runs = {}
    for run, workers in (("before", 0), ("loader", 0), ("workers", 2)):
        with monkeypatch.context() as patch:
            if run == "before":   # the teacher set reads its tables in the training process
                patch.setattr(Trainer, "_cache_lookups", lambda self, train: [])
            opened.unlink(missing_ok=True)
            train.main(["--config", str(tmp_path / "kd.yaml"), "--train_data", str(data), "--valid_data",
                        str(data), "--out_dir", str(tmp_path / run), f"num_workers={workers}",
                        f"teachers.t.precomputed=[{tmp_path / 'cache'}]", "teachers.t.members=[]"])
        runs[run] = torch.load(tmp_path / run / "checkpoints/last.pth", weights_only=False)["model"]
        pids = set(opened.read_text().split())
        # workers: 2 of the training loader and 2 of the validation loader, each with a batch to read
        assert (str(os.getpid()) in pids) == (workers == 0) and len(pids) == (4 if workers else 1), run
    for run in ("loader", "workers"):
        assert all(torch.equal(runs["before"][k], runs[run][k]) for k in runs[run])
