"""pDCCRN: DCCRN with a speaker embedding appended to the complex LSTM's input (``dccrn`` with emb_dim)."""

import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters
from kdspeech.models.calling import call_model
from kdspeech.models.complexity import count_macs, example_inputs

TINY = {"channels": [8, 8, 16, 16], "lstm_units": 32, "n_fft": 64, "win_length": 48, "hop": 16}


def test_parameter_count_grows_by_the_embedding_weights_of_the_first_lstm_layer():
    plain = count_parameters(build_model("dccrn", {}))
    assert plain == 3_671_917  # unchanged DCCRN-CL
    # each of the two real LSTMs of the first complex layer (128 cells, 4 gates) takes D more inputs
    model = build_model("dccrn", {"emb_dim": 192})
    assert count_parameters(model) == plain + 2 * 4 * 128 * 192 == 3_868_525
    assert model.lstm[0].real.input_size == 512 + 192


def _tiny(**conf):
    torch.manual_seed(0)
    return build_model("dccrn", {**TINY, "emb_dim": 6, **conf})


@pytest.mark.parametrize("length", [1600, 333])
def test_shapes_and_num_frames(length):
    model = _tiny().eval()
    with torch.no_grad():
        out = model(torch.randn(2, length), torch.randn(2, 6))
        assert list(out) == ["wav", "spec", "mask"] and out["wav"].shape == (2, length)
        assert out["spec"].shape[-1] == model.num_frames(length) == 1 + length // 16
        assert model(torch.randn(2, 1, length), torch.randn(2, 6))["wav"].shape == (2, 1, length)


def test_embedding_conditions_the_output():
    model = _tiny().eval()
    x = torch.randn(2, 800)
    with torch.no_grad():
        assert not torch.allclose(model(x, torch.randn(2, 6))["wav"], model(x, torch.randn(2, 6))["wav"])


def test_framewise_and_utterance_embeddings_agree():
    model = _tiny().eval()
    x, emb = torch.randn(2, 800), torch.randn(2, 6)
    repeated = emb[:, None, :].repeat(1, model.num_frames(800), 1).contiguous()
    with torch.no_grad():
        a, b = model(x, emb), model(x, repeated)
    for key in a:
        torch.testing.assert_close(a[key], b[key])


def test_framewise_embedding_is_causal():
    """Changing the embedding from frame k on leaves the spectrum of frames before k unchanged."""
    model = _tiny().eval()
    frames = model.num_frames(1600)
    x, emb = torch.randn(1, 1600), torch.randn(1, frames, 6)
    changed = emb.clone()
    changed[:, 50:] = torch.randn(1, frames - 50, 6)
    with torch.no_grad():
        a, b = model(x, emb)["spec"], model(x, changed)["spec"]
    torch.testing.assert_close(a[..., :50], b[..., :50])
    assert not torch.allclose(a[..., 50:], b[..., 50:])


def test_gradient_reaches_every_parameter():
    model = _tiny().train()
    model(torch.randn(3, 640), torch.randn(3, 6))["wav"].pow(2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_plain_dccrn_is_called_as_before_and_ignores_an_embedding():
    model = build_model("dccrn", TINY).eval()
    x = torch.randn(2, 500)
    with torch.no_grad():
        plain = call_model(model, {"input": x})
        with_emb = call_model(model, {"input": x, "enroll_emb": torch.randn(2, 6)})
    torch.testing.assert_close(plain["wav"], with_emb["wav"])
    assert example_inputs(model, 100).keys() == {"wav"}
    generator = torch.Generator().manual_seed(0)  # the complexity module's default example input
    assert torch.equal(example_inputs(model, 100)["wav"], torch.randn(1, 100, generator=generator))


def test_personalized_inputs_from_a_batch_and_for_measurements():
    model = _tiny().eval()
    batch = {"input": torch.randn(2, 500), "enroll_emb": torch.randn(2, 6)}
    with torch.no_grad():
        assert call_model(model, batch)["wav"].shape == (2, 500)
    inputs = example_inputs(model, 320)
    assert inputs.keys() == {"wav", "enroll_emb"} and inputs["enroll_emb"].shape == (1, 6)
    assert count_macs(model, inputs) > 0


def test_bad_embeddings_are_named():
    model = _tiny()
    with pytest.raises(KdError, match=r"dccrn: emb_dim is 6, so forward needs enroll_emb"):
        model(torch.randn(2, 320))
    with pytest.raises(KdError, match=r"\[B, D\] = \[2, 6\] or frame-wise \[B, F, D\] = \[2, 21, 6\]"):
        model(torch.randn(2, 320), torch.randn(2, 7))
    with pytest.raises(KdError, match="emb_dim must be >= 0"):
        build_model("dccrn", {"emb_dim": -1})
