import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters


def test_waveunet_paper_size_shapes_and_parameters():
    model = build_model("waveunet", {})
    # 12 encoder blocks (48 + 24 i channels, kernel 15), bottleneck, 12 decoder blocks (kernel 5):
    # 12,830,738 parameters counted by hand from the layer sizes.
    assert count_parameters(model) == 12_830_738
    assert len(model.encoder) == 12 and len(model.decoder) == 12
    assert [b[0].out_channels for b in model.encoder] == [48 + 24 * i for i in range(12)]
    model.eval()
    with torch.no_grad():
        y = model(torch.randn(1, 16384))
    assert y.shape == (1, 16384)
    assert y.abs().max() <= 1.0  # tanh output


def test_waveunet_decimates_only_first_layers():
    model = build_model("waveunet", {"num_layers": 4, "base_channels": 4, "growth": 4,
                                     "num_decimations": 2}).eval()
    lengths = []
    hooks = [b.register_forward_hook(lambda m, i, o: lengths.append(o.shape[-1])) for b in model.encoder]
    with torch.no_grad():
        model(torch.randn(2, 64))
    for h in hooks:
        h.remove()
    assert lengths == [64, 32, 16, 16]


@pytest.mark.parametrize("length", [1000, 16384, 777])
def test_waveunet_any_length(length):
    model = build_model("waveunet", {"num_layers": 3, "base_channels": 4, "growth": 4,
                                     "num_decimations": 3}).eval()
    with torch.no_grad():
        assert model(torch.randn(2, length)).shape == (2, length)
        assert model(torch.randn(2, 1, length)).shape == (2, 1, length)


def test_unknown_model_option_is_named():
    with pytest.raises(KdError, match="num_layerz"):
        build_model("waveunet", {"num_layerz": 3}, where="conf/x.yaml")
    with pytest.raises(KdError, match="unknown model 'nope'"):
        build_model("nope", {})
