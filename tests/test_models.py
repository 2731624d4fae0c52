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


# -- complexity (kdspeech.models.complexity) ------------------------------------------------------

from torch import nn  # noqa: E402

from kdspeech.models.complexity import count_macs, cpu_latency, macs_per_second  # noqa: E402


def test_macs_of_a_tiny_waveunet_match_a_hand_count():
    model = build_model("waveunet", {"num_layers": 1, "base_channels": 2, "growth": 1, "num_decimations": 1,
                                     "enc_kernel": 3, "dec_kernel": 1})
    # T = 8: encoder Conv1d(1->2, k3) 16 outputs x 3 = 48; decimate to 4; bottleneck Conv1d(2->3, k3)
    # 12 x 6 = 72; upsample to 8, decoder Conv1d(3+2->2, k1) 16 x 5 = 80; output Conv1d(2+1->1) 8 x 3 = 24.
    total, layers = count_macs(model, torch.zeros(1, 8), by_layer=True)
    assert total == 48 + 72 + 80 + 24
    assert layers["encoder.0.0"] == 48 and layers["output"] == 24


def test_macs_of_linear_lstm_and_transposed_conv():
    assert count_macs(nn.Linear(4, 3), torch.zeros(2, 4)) == 2 * 3 * 4
    # One LSTM layer: 4 gates x hidden x (input + hidden) per step, 5 steps.
    assert count_macs(nn.LSTM(3, 2, batch_first=True), torch.zeros(1, 5, 3)) == 5 * 4 * 2 * (3 + 2)
    # Two layers: the second sees the first's hidden state.
    assert count_macs(nn.LSTM(3, 2, num_layers=2), torch.zeros(5, 1, 3)) == 5 * 4 * 2 * ((3 + 2) + (2 + 2))
    # Every input element of a transposed conv is spread over kernel x out_channels outputs.
    assert count_macs(nn.ConvTranspose1d(2, 3, 4), torch.zeros(1, 2, 5)) == 10 * 4 * 3
    # Grouped conv: 4 x 4 x 5 outputs, each from in_channels / groups = 1 channel x 2 x 3 taps.
    assert count_macs(nn.Conv2d(2, 4, (2, 3), groups=2), torch.zeros(1, 2, 5, 7)) == (4 * 4 * 5) * 1 * 2 * 3


def test_waveunet_paper_size_macs_per_second_scale_with_length():
    model = build_model("waveunet", {})
    per_second = macs_per_second(model, 16000)
    # Linear in the length: 2 s cost twice 1 s (the decimation keeps lengths exact at 16000 = 2^7 x 125).
    assert count_macs(model, torch.zeros(1, 32000)) == 2 * per_second
    assert 4.5e9 < per_second < 6e9  # 5.16 G at the paper size


def test_cpu_latency_is_positive():
    model = build_model("waveunet", {"num_layers": 2, "base_channels": 4, "growth": 4, "num_decimations": 2})
    assert cpu_latency(model, seconds=0.1, repeats=1) > 0


# -- CRN (kdspeech.models.crn) --------------------------------------------------------------------

def test_crn_paper_size_parameters_and_shapes():
    model = build_model("crn", {})
    assert count_parameters(model) == 17_579_457  # Tan & Wang (2018) report 17.58 M
    assert [b.conv.out_channels for b in model.encoder] == [16, 32, 64, 128, 256]
    assert model.lstm.input_size == 256 * 4 and model.lstm.num_layers == 2
    model.eval()
    with torch.no_grad():
        y = model(torch.randn(2, 16000))
    assert y.shape == (2, 16000) and torch.isfinite(y).all()


@pytest.mark.parametrize("length", [1000, 16384, 4001])
def test_crn_small_any_length(length):
    model = build_model("crn", {"channels": [4, 8], "lstm_hidden": 16}).eval()
    with torch.no_grad():
        assert model(torch.randn(2, length)).shape == (2, length)
        assert model(torch.randn(3, 1, length)).shape == (3, 1, length)


def test_crn_with_identity_magnitude_gives_back_the_input():
    """The STFT -> magnitude x noisy phase -> iSTFT wrapper is lossless when the magnitude is kept."""
    model = build_model("crn", {"channels": [4, 8], "lstm_hidden": 16}).eval()
    model.enhance_magnitude = lambda mag: mag
    x = torch.randn(2, 4000) * 0.1
    with torch.no_grad():
        assert torch.allclose(model(x), x, atol=1e-5)


def test_crn_is_causal_in_its_network():
    """Magnitude frames after t do not change the estimate of frame t (causal convs, LSTM, deconvs)."""
    model = build_model("crn", {"channels": [4, 8, 8], "lstm_hidden": 16}).eval()
    mag = torch.rand(1, 20, 161)
    changed = mag.clone()
    changed[:, 12:] = torch.rand(1, 8, 161)
    with torch.no_grad():
        a, b = model.enhance_magnitude(mag), model.enhance_magnitude(changed)
    assert torch.allclose(a[:, :12], b[:, :12]) and not torch.allclose(a[:, 12:], b[:, 12:])
