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


def test_waveunet_identity_init_returns_tanh_of_the_input_until_trained():
    conf = {"num_layers": 3, "base_channels": 4, "growth": 4, "num_decimations": 2}
    x = 0.5 * torch.randn(2, 777)
    model = build_model("waveunet", {**conf, "output_init": "identity"})
    with torch.no_grad():
        assert torch.allclose(model(x), torch.tanh(x), atol=1e-6)
        assert not torch.allclose(build_model("waveunet", conf)(x), torch.tanh(x), atol=1e-2)
    # the decoder is not cut off: one step moves the decoder's output weights
    model(x).sub(0.1 * x).pow(2).mean().backward()
    assert model.output.weight.grad[0, :-1].abs().sum() > 0
    with pytest.raises(ValueError, match="output_init"):
        build_model("waveunet", {**conf, "output_init": "zeros"})


def test_unknown_model_option_is_named():
    with pytest.raises(KdError, match="num_layerz"):
        build_model("waveunet", {"num_layerz": 3}, where="conf/x.yaml")
    with pytest.raises(KdError, match="unknown model 'nope'"):
        build_model("nope", {})


# -- complexity (kdspeech.models.complexity) ------------------------------------------------------

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence  # noqa: E402

from kdspeech.models.complexity import (  # noqa: E402
    count_macs, cpu_latency, example_inputs, macs_per_second,
)


def test_macs_of_a_tiny_waveunet_match_a_hand_count():
    model = build_model("waveunet", {"num_layers": 1, "base_channels": 2, "growth": 1, "num_decimations": 1,
                                     "enc_kernel": 3, "dec_kernel": 1})
    # T = 8: encoder Conv1d(1->2, k3) 16 outputs x 3 = 48; decimate to 4; bottleneck Conv1d(2->3, k3)
    # 12 x 6 = 72; upsample to 8, decoder Conv1d(3+2->2, k1) 16 x 5 = 80; output Conv1d(2+1->1) 8 x 3 = 24.
    total, layers = count_macs(model, torch.zeros(1, 8), by_layer=True)
    assert total == 48 + 72 + 80 + 24
    assert layers["encoder.0.0"] == 48 and layers["output"] == 24
    # keyword inputs (the calling convention) give the same count
    assert count_macs(model, {"wav": torch.zeros(1, 8)}) == total


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


def test_macs_of_strided_conv1d_and_functional_calls():
    # Conv1d(2->4, k3, stride 2) on 11 samples: (11 - 3) // 2 + 1 = 5 frames x 4 channels x (2 x 3) taps.
    assert count_macs(nn.Conv1d(2, 4, 3, stride=2), torch.zeros(1, 2, 11)) == 5 * 4 * 2 * 3

    class MelAndConv(nn.Module):  # functional calls inside a module of no counted type
        def __init__(self):
            super().__init__()
            self.register_buffer("fb", torch.rand(257, 64))
            self.weight = nn.Parameter(torch.randn(8, 64, 3))

        def forward(self, spec):  # [B, 257, frames]
            mel = torch.matmul(spec.transpose(1, 2), self.fb).transpose(1, 2)  # frames x 64 x 257
            return F.conv1d(mel, self.weight)                                    # (frames - 2) x 8 x 64 x 3

    total, layers = count_macs(MelAndConv(), torch.rand(1, 257, 10), by_layer=True)
    assert total == 10 * 64 * 257 + 8 * 8 * 64 * 3 and layers == {"": total}


def test_uncounted_layers_cost_nothing():
    model = nn.Sequential(nn.BatchNorm1d(3), nn.ReLU(), nn.AvgPool1d(2), nn.Upsample(scale_factor=2))
    assert count_macs(model, torch.rand(2, 3, 8)) == 0


def test_macs_of_recurrent_layers():
    # GRU: 3 gates x hidden 4 x (3 + 4) per step and direction, 2 x 5 steps, both directions.
    assert count_macs(nn.GRU(3, 4, bidirectional=True, batch_first=True), torch.zeros(2, 5, 3)) == 10 * 2 * 3 * 4 * 7
    # LSTM with a projection to 2: W_ih 16 x 3, W_hh 16 x 2 (the projected state), W_hr 2 x 4, 5 steps.
    assert count_macs(nn.LSTM(3, 4, proj_size=2), torch.zeros(5, 1, 3)) == 5 * (16 * 3 + 16 * 2 + 2 * 4)
    # A cell on a batch of 2: 2 steps of 4 gates x 4 x (3 + 4).
    assert count_macs(nn.LSTMCell(3, 4), torch.zeros(2, 3)) == 2 * 16 * 7
    # Packed sequences of lengths 5 and 3: 8 steps, padding not counted.
    packed = pack_padded_sequence(torch.zeros(2, 5, 3), torch.tensor([5, 3]), batch_first=True)
    assert count_macs(nn.LSTM(3, 4, batch_first=True), packed) == 8 * 16 * 7


def test_macs_of_attention():
    e, length_q, length_k = 8, 5, 7
    # nn.MultiheadAttention (seq first, batch 3): q/k/v and output projections (E x E each per position),
    # Q K^T and the weighted sum of V (L x S x E each); its inner linear layers are not counted again.
    mha = nn.MultiheadAttention(e, 2)
    q, kv = torch.randn(length_q, 3, e), torch.randn(length_k, 3, e)
    per_item = length_q * e * e + 2 * length_k * e * e + 2 * length_q * length_k * e + length_q * e * e
    total, layers = count_macs(mha, {"query": q, "key": kv, "value": kv}, by_layer=True)
    assert total == 3 * per_item and layers == {"": total}
    # batch first, other key/value sizes (kdim 4, vdim 6), called by keyword from inside a model.
    cross = nn.MultiheadAttention(e, 2, kdim=4, vdim=6, batch_first=True)
    inputs = {"query": torch.randn(2, length_q, e), "key": torch.randn(2, length_k, 4),
              "value": torch.randn(2, length_k, 6)}
    expected = 2 * (length_q * e * e + length_k * 4 * e + length_k * 6 * e + 2 * length_q * length_k * e
                    + length_q * e * e)
    assert count_macs(cross, inputs) == expected

    class Sdpa(nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    class ByHand(nn.Module):
        def forward(self, q, k, v):
            return torch.softmax(q @ k.transpose(-1, -2) / 8 ** 0.5, dim=-1).matmul(v)

    # batch 2 x 4 heads x 5 queries x 7 keys x (8 for Q K^T + 6 for the sum of V)
    qkv = {"q": torch.randn(2, 4, 5, 8), "k": torch.randn(2, 4, 7, 8), "v": torch.randn(2, 4, 7, 6)}
    assert count_macs(Sdpa(), qkv) == count_macs(ByHand(), qkv) == 2 * 4 * 5 * 7 * (8 + 6)


def test_macs_of_einsum():
    class Einsum(nn.Module):
        def forward(self, a, b):
            return torch.einsum("bij,bjk->bik", a, b) + torch.einsum("...ij,...jk->...ik", a, b)

    assert count_macs(Einsum(), {"a": torch.randn(2, 3, 4), "b": torch.randn(2, 4, 5)}) == 2 * (2 * 3 * 4 * 5)


def test_macs_of_complex_convolutions():
    class ComplexConv2d(nn.Module):
        """DCCRN-style: (W_re + i W_im) * (x_re + i x_im) as four real convolutions."""

        def __init__(self):
            super().__init__()
            self.conv_re, self.conv_im = nn.Conv2d(2, 3, (2, 3)), nn.Conv2d(2, 3, (2, 3))

        def forward(self, re, im):
            return self.conv_re(re) - self.conv_im(im), self.conv_re(im) + self.conv_im(re)

    x = {"re": torch.randn(1, 2, 5, 7), "im": torch.randn(1, 2, 5, 7)}
    one = 3 * 4 * 5 * (2 * 2 * 3)  # one real conv: 3 x 4 x 5 outputs x (2 channels x 2 x 3 taps)
    total, layers = count_macs(ComplexConv2d(), x, by_layer=True)
    assert total == 4 * one and layers == {"conv_re": 2 * one, "conv_im": 2 * one}

    class ComplexTensorConv(nn.Module):  # complex dtype: one complex MAC is four real ones
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(3, 2, 2, 3, dtype=torch.cfloat))

        def forward(self, spec):
            return F.conv2d(spec, self.weight)

    assert count_macs(ComplexTensorConv(), torch.randn(1, 2, 5, 7, dtype=torch.cfloat)) == 4 * one


def test_example_inputs_follow_the_calling_convention():
    model = build_model("waveunet", {"num_layers": 1, "base_channels": 2, "growth": 1, "num_decimations": 1})
    inputs = example_inputs(model, 100)
    assert list(inputs) == ["wav"] and inputs["wav"].shape == (1, 100)
    assert torch.equal(inputs["wav"], example_inputs(model, 100)["wav"])  # seeded: repeatable

    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.film = nn.Linear(3, 1)

        def example_inputs(self, num_samples):
            return {"mix": torch.zeros(1, num_samples), "enroll_emb": torch.zeros(1, 3)}

        def forward(self, mix, enroll_emb):
            return mix * self.film(enroll_emb)

    assert {k: tuple(v.shape) for k, v in example_inputs(TwoInputs(), 50).items()} == \
        {"mix": (1, 50), "enroll_emb": (1, 3)}
    assert macs_per_second(TwoInputs(), 16000) == 3  # the FiLM linear once per clip

    class BadExample(TwoInputs):
        def example_inputs(self, num_samples):
            return torch.zeros(1, num_samples)

    with pytest.raises(KdError, match="BadExample.example_inputs must return a dict"):
        example_inputs(BadExample(), 10)


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
