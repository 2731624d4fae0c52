"""PANNs models: published sizes, official-checkpoint loading (new head), clear errors on bad files."""

import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters
from kdspeech.models.loaders.panns import load_pretrained, to_official_state


@pytest.mark.parametrize("name,params", [("cnn14", 80_753_615), ("resnet38", 73_783_247),
                                         ("mobilenetv2", 4_075_343)])
def test_published_parameter_counts_with_audioset_head(name, params):
    # PANNs' reported sizes (527 AudioSet classes): CNN14 80.8 M, ResNet38 73.7 M, MobileNetV2 4.1 M.
    assert count_parameters(build_model(name, {"num_classes": 527})) == params


@pytest.mark.parametrize("name", ["cnn14", "resnet38", "mobilenetv2"])
def test_waveform_and_cached_logmel_give_the_same_logits(name):
    torch.manual_seed(0)
    model = build_model(name, {"num_classes": 7, "width": 0.125}).eval()
    wav = torch.randn(2, 16000) * 0.1
    with torch.no_grad():
        a = model(wav)
        b = model(model.frontend(wav))
    assert a.shape == (2, 7)
    assert torch.allclose(a, b, atol=1e-5)


def _official_file(tmp_path, name, width):
    torch.manual_seed(1)
    src = build_model(name, {"num_classes": 3, "width": width})
    for m in src.modules():  # non-trivial BN statistics so that the check covers buffers too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    path = tmp_path / f"{name}_official.pth"
    torch.save(to_official_state(src), path)
    return src, path


@pytest.mark.parametrize("name", ["cnn14", "resnet38", "mobilenetv2"])
def test_official_layout_loads_backbone_and_replaces_head(tmp_path, name):
    src, path = _official_file(tmp_path, name, 0.125)
    ckpt = torch.load(path, weights_only=False)
    assert ckpt["model"]["fc_audioset.weight"].shape[0] == 527
    assert any(k.startswith("conv_block1.conv1.weight") or k.startswith("features.0.0.weight")
               for k in ckpt["model"])
    torch.manual_seed(2)
    dst = build_model(name, {"num_classes": 10, "width": 0.125, "pretrained": str(path)})
    theirs = ckpt["model"]
    mine = dst.state_dict()
    for key, value in theirs.items():
        if key.startswith(("fc_audioset.", "spectrogram_extractor.", "logmel_extractor.")):
            continue
        assert torch.equal(mine[key], value), key
    assert dst.fc_transfer.out_features == 10
    assert dst.fc_transfer.weight.shape == (10, src.fc1.out_features)


def test_wrong_width_names_the_key_and_shapes(tmp_path):
    _, path = _official_file(tmp_path, "cnn14", 0.125)
    with pytest.raises(KdError, match=r"conv_block1\.conv1\.weight.*checkpoint \(8, 1, 3, 3\) vs model \(16, 1, 3, 3\)"):
        build_model("cnn14", {"num_classes": 10, "width": 0.25, "pretrained": str(path)})


def test_unknown_and_missing_keys_are_listed(tmp_path):
    src, path = _official_file(tmp_path, "cnn14", 0.125)
    ckpt = torch.load(path, weights_only=False)
    ckpt["model"]["conv_block7.conv1.weight"] = torch.zeros(1)
    del ckpt["model"]["bn0.weight"]
    torch.save(ckpt, path)
    with pytest.raises(KdError, match=r"unknown keys \['conv_block7\.conv1\.weight'\].*missing keys \['bn0\.weight'\]"):
        load_pretrained(build_model("cnn14", {"num_classes": 4, "width": 0.125}), path)


def test_not_a_panns_checkpoint(tmp_path):
    path = tmp_path / "x.pth"
    torch.save({"model": {"a": torch.zeros(1)}}, path)
    with pytest.raises(KdError, match="fc_audioset"):
        load_pretrained(build_model("mobilenetv2", {"num_classes": 4, "width": 0.25}), path)
    with pytest.raises(KdError, match="not found"):
        load_pretrained(build_model("mobilenetv2", {"num_classes": 4, "width": 0.25}), tmp_path / "none.pth")
