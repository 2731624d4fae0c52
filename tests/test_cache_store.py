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
