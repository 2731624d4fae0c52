"""E3Net: parameter count and MACs by hand, framing, conditioning, causality, gradients."""

import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters
from kdspeech.models.calling import call_model
from kdspeech.models.complexity import macs_per_second

TINY = {"emb_dim": 5, "filters": 24, "win": 32, "hop": 16, "fusion_dim": 12, "blocks": 2, "ffn_dim": 20,
        "lstm_units": 12}
PAPER_PARAMS = 6.62e6  # Serre et al., Table I


def _linear(n_in, n_out):
    return n_in * n_out + n_out


def paper_count(emb_dim, filters=2048, win=320, dim=256, ffn=1024, units=256, blocks=4):
    encoder = filters * win + filters + 1 + 2 * filters          # conv with bias, PReLU, LayerNorm
    fusion = _linear(filters + emb_dim, dim) + 1 + 2 * dim          # linear, PReLU, LayerNorm
    block = (_linear(dim, ffn) + 1 + _linear(ffn, dim) + 1 + 2 * dim  # feed-forward projection, LayerNorm
             + 4 * units * (dim + units) + 8 * units + 2 * dim + 2 * dim)  # LSTM, two LayerNorms
    mask = _linear(dim, filters)
    decoder = filters * win + 1
    return encoder + fusion + blocks * block + mask + decoder


def test_paper_size_parameter_count():
    model = build_model("e3net", {})  # a 192-dimensional ECAPA embedding, N = 4 blocks
    assert count_parameters(model) == paper_count(192) == 6_631_179
    assert abs(count_parameters(model) / PAPER_PARAMS - 1) < 0.01  # 0.2 % above the paper's 6.62M
    assert count_parameters(build_model("e3net", {"emb_dim": 0})) == paper_count(0)


def test_paper_size_macs_per_second():
    torch.set_num_threads(1)
    frames = 1 + 16000 // 160
    per_frame = (2 * 2048 * 320             # encoder, and the decoder per input frame
                 + (2048 + 192) * 256       # fusion
                 + 4 * (2 * 256 * 1024 + 4 * 256 * 512)  # feed-forward projections, LSTMs
                 + 256 * 2048)              # mask
    assert macs_per_second(build_model("e3net", {})) == frames * per_frame == 666_877_952


def _tiny(**conf):
    torch.manual_seed(0)
    return build_model("e3net", {**TINY, **conf})


@pytest.mark.parametrize("length", [16000, 1234, 5])
def test_shapes_any_length(length):
    model = _tiny().eval()
    emb = torch.randn(2, 5)
    with torch.no_grad():
        out = model(torch.randn(2, length), emb)
        assert list(out)[0] == "out" and out["out"].shape == (2, length)
        assert out["mask"].shape == (2, 24, model.num_frames(length))
        assert model(torch.randn(2, 1, length), emb)["out"].shape == (2, 1, length)


def test_num_frames_is_the_encoder_frame_count():
    model = _tiny()
    frames = {}
    model.encoder.register_forward_hook(lambda m, i, o: frames.update(n=o.shape[-1]))
    for length in (1, 15, 16, 17, 1000):
        model(torch.randn(1, length), torch.randn(1, 5))
        assert frames["n"] == model.num_frames(length) == 1 + -(-length // 16)  # ceil(T / hop) + 1


def test_identity_filterbank_reconstructs():
    """Encoder and decoder cover every sample, the last ones too, with win / hop = 2 frames: with the
    encoder a unit impulse per filter tap, the decoder the same taps halved and the mask at 1, the
    output is the input."""
    model = build_model("e3net", {**TINY, "filters": 32, "emb_dim": 0}).eval()
    with torch.no_grad():
        model.encoder.weight.copy_(torch.eye(32)[:, None, :])
        model.encoder.bias.zero_()
        model.decoder.weight.copy_(0.5 * torch.eye(32)[:, None, :])
        model.decoder.bias.zero_()
        model.mask.weight.zero_()
        model.mask.bias.fill_(30.0)  # sigmoid = 1
        x = torch.randn(2, 999)
        torch.testing.assert_close(model(x)["out"], x, atol=1e-5, rtol=1e-5)


def test_causal_up_to_its_frame():
    """Output sample n comes from frames up to n // hop + 1, which end at sample hop (n // hop + 2)."""
    model = _tiny().eval()
    x = torch.randn(1, 800)
    y = x.clone()
    s = 400
    y[:, s:] = torch.randn(1, 400)
    emb = torch.randn(1, 5)
    with torch.no_grad():
        a, b = model(x, emb)["out"], model(y, emb)["out"]
    keep = 16 * (s // 16 - 1)  # n // 16 <= s // 16 - 2
    torch.testing.assert_close(a[:, :keep], b[:, :keep])
    assert not torch.allclose(a[:, keep:keep + 16], b[:, keep:keep + 16])


def test_embedding_conditions_the_output():
    model = _tiny().eval()
    x = torch.randn(2, 1000)
    with torch.no_grad():
        assert not torch.allclose(model(x, torch.randn(2, 5))["out"], model(x, torch.randn(2, 5))["out"])


def test_framewise_and_utterance_embeddings_agree():
    model = _tiny().eval()
    x, emb = torch.randn(2, 1000), torch.randn(2, 5)
    repeated = emb[:, None, :].repeat(1, model.num_frames(1000), 1).contiguous()
    with torch.no_grad():
        a, b = model(x, emb), model(x, repeated)
    for key in a:
        torch.testing.assert_close(a[key], b[key])


def test_gradient_reaches_every_parameter():
    model = _tiny().train()
    model(torch.randn(3, 700), torch.randn(3, 5))["out"].pow(2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_lstm_units_other_than_the_block_width_are_projected():
    model = _tiny(lstm_units=8)
    assert model.blocks[0].proj is not None
    assert model(torch.randn(1, 300), torch.randn(1, 5))["out"].shape == (1, 300)


def test_bad_embeddings_are_named_and_the_batch_calls_it():
    model = _tiny()
    with pytest.raises(KdError, match=r"e3net: emb_dim is 5, so forward needs enroll_emb"):
        model(torch.randn(2, 100))
    with pytest.raises(KdError, match=r"\[B, F, D\] = \[2, 8, 5\]"):
        model(torch.randn(2, 100), torch.randn(2, 6, 5))
    with pytest.raises(KdError, match="0 < hop <= win"):
        build_model("e3net", {"win": 100, "hop": 160})
    batch = {"input": torch.randn(2, 300), "enroll_emb": torch.randn(2, 5)}
    assert call_model(model.eval(), batch)["out"].shape == (2, 300)
    assert model.example_inputs(100).keys() == {"mix", "enroll_emb"}
