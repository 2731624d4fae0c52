"""Teachers from anywhere: external checkpoint formats through the loader registry, verified caches."""

import json
import numpy as np
import pytest
import torch
from torch import nn

from kdspeech.distill.teachers import build_teacher_sets
from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.models.loaders import load_member
from kdspeech.models.loaders.panns import to_official_state
from kdspeech.train.checkpoint import atomic_save


def test_official_panns_checkpoint_loads_as_an_audioset_tagger(tmp_path):
    torch.manual_seed(0)
    src = build_model("cnn14", {"num_classes": 3, "width": 0.125}).eval()
    official = to_official_state(src)
    torch.save(official, tmp_path / "Cnn14.pth")
    tagger = load_member({"loader": "panns", "path": str(tmp_path / "Cnn14.pth"), "model": "cnn14",
                          "conf": {"width": 0.125}})
    assert torch.equal(tagger.fc_transfer.weight, official["model"]["fc_audioset.weight"])
    wav = torch.randn(2, 16000) * 0.1
    with torch.no_grad():
        logits = tagger(wav)
    assert logits.shape == (2, 527)
    # The backbone is the source model's: the 527-way head applied to its penultimate layer.
    feats = {}
    src.fc_transfer.register_forward_hook(lambda m, i, o: feats.setdefault("x", i[0]))
    with torch.no_grad():
        src(wav)
    expected = feats["x"] @ official["model"]["fc_audioset.weight"].T + official["model"]["fc_audioset.bias"]
    assert torch.allclose(logits, expected, atol=1e-5)


def test_onnx_teacher_gives_the_exported_model_outputs_by_name(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.Tanh()).eval()
    torch.onnx.export(net, (torch.randn(1, 4),), str(tmp_path / "t.onnx"), input_names=["feats"],
                      output_names=["emb"], dynamic_axes={"feats": {0: "b"}, "emb": {0: "b"}}, dynamo=False)
    sets = build_teacher_sets({"big": {"members": [{"loader": "onnx", "path": str(tmp_path / "t.onnx")}]}}, "cpu")
    x = torch.randn(5, 4)
    out = sets["big"]({"input": x})
    assert list(out) == ["emb"]
    assert torch.allclose(out["emb"], net(x), atol=1e-6)
    with pytest.raises(KdError, match="not a readable ONNX model"):
        load_member({"loader": "onnx", "path": str(tmp_path / "conf.yaml")})
    with pytest.raises(KdError, match="unknown model loader 'hf'"):
        load_member({"loader": "hf", "path": "x"})


def test_torchscript_teacher(tmp_path):
    net = torch.jit.script(nn.Linear(3, 2).eval())
    net.save(str(tmp_path / "t.pt"))
    teacher = load_member({"loader": "torchscript", "path": str(tmp_path / "t.pt")})
    x = torch.randn(2, 3)
    assert torch.allclose(teacher(x), net(x))


def _small_model_file(path, seed):
    torch.manual_seed(seed)
    model = build_model("waveunet", {"num_layers": 2, "base_channels": 4, "growth": 2, "num_decimations": 2})
    atomic_save({"model_name": "waveunet", "model_conf": {"num_layers": 2, "base_channels": 4, "growth": 2,
                 "num_decimations": 2}, "model": model.state_dict()}, path)
    return model.eval()


def test_precomputed_outputs_are_checked_against_the_live_teacher(tmp_path):
    good = _small_model_file(tmp_path / "good.pth", 0)
    _small_model_file(tmp_path / "other.pth", 1)
    x = torch.randn(3, 256) * 0.1
    keys = ["a@0", "b@0", "c@0"]
    with torch.no_grad():
        wav = good(x).numpy()
    np.savez(tmp_path / "cache.npz", keys=np.array(keys), wav=wav, view=np.array("input"))
    batch = {"input": x, "key": keys}
    spec = {"precomputed": [str(tmp_path / "cache.npz")], "members": [str(tmp_path / "good.pth")]}
    out = build_teacher_sets({"t": spec}, "cpu")["t"](batch)
    assert torch.allclose(out["wav"], torch.from_numpy(wav))
    stale = {**spec, "members": [str(tmp_path / "other.pth")]}
    with pytest.raises(KdError, match="the cache is stale"):
        build_teacher_sets({"t": stale}, "cpu")["t"](batch)
    with pytest.raises(KdError, match="computed on view 'input', the set reads 'input_16k'"):
        build_teacher_sets({"t": {**spec, "input": "input_16k"}}, "cpu")


def test_cache_verb_writes_a_table_the_trainer_trusts(tmp_path):
    from enh_fixtures import make_mix_dir
    from kdspeech.bin import cache_teacher, train

    data = make_mix_dir(tmp_path / "mix", n=4)
    _small_model_file(tmp_path / "t.pth", 0)
    conf = tmp_path / "kd.yaml"
    conf.write_text(f"""\
task: enhancement
data: {{segment: 2048}}
batch_size: 2
model: {{name: waveunet, conf: {{num_layers: 2, base_channels: 4, growth: 2, num_decimations: 2}}}}
teachers: {{t: {{members: [{tmp_path / 't.pth'}]}}}}
loss: [{{name: mse_teacher, teacher: t}}]
trainer: {{max_epochs: 1, tensorboard: false, num_threads: 1}}
""")
    cache_teacher.main(["--config", str(conf), "--teacher", "t", "--data", str(data), "--out",
                        str(tmp_path / "valid.npz")])
    z = np.load(tmp_path / "valid.npz")
    assert sorted(z.files) == ["keys", "out", "view"] and z["out"].shape == (4, 2048)
    # The validation loss read from the cached table equals the one of the live teacher.
    common = ["--config", str(conf), "--train_data", str(data), "--valid_data", str(data)]
    train.main(common + ["--out_dir", str(tmp_path / "live"), "optim.lr=0.0"])
    train.main(common + ["--out_dir", str(tmp_path / "cached"), "optim.lr=0.0",
                         "valid_loss=[{name: mse_teacher, teacher: tc}]",
                         f"teachers.tc={{precomputed: [{tmp_path / 'valid.npz'}], members: [{tmp_path / 't.pth'}]}}"])
    live = json.loads((tmp_path / "live/history.json").read_text())[0]["valid_loss"]
    cached = json.loads((tmp_path / "cached/history.json").read_text())[0]["valid_loss"]
    assert cached == pytest.approx(live, rel=1e-5)
