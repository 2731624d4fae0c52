"""psm_blstm (Erdogan et al. 2015 baseline of Hao et al.) and its PSA loss term: shapes, mask range,
gradients, and the loss against a numpy STFT and hand formula."""

import numpy as np
import pytest
import torch

from kdspeech.distill.losses import build_loss_terms, total_loss
from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters

SMALL = {"n_fft": 64, "win_length": 48, "hop": 16, "hidden": 8}


def numpy_stft(x, n_fft, win_length, hop):
    """Centred, zero-padded STFT with a periodic Hann window, written out: [F, frames]."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)
    left = (n_fft - win_length) // 2
    full = np.zeros(n_fft)
    full[left:left + win_length] = window
    padded = np.pad(x, n_fft // 2)
    frames = [padded[i * hop:i * hop + n_fft] * full for i in range(1 + len(x) // hop)]
    return np.stack([np.fft.rfft(f) for f in frames], axis=1)


def test_paper_size_parameters_and_shapes():
    model = build_model("psm_blstm", {})
    # 2 BLSTM layers of 256 per direction on 257 bins, then 512 -> 257 mask layer:
    lstm1 = 2 * 4 * 256 * (257 + 256 + 2)
    lstm2 = 2 * 4 * 256 * (512 + 256 + 2)
    assert count_parameters(model) == lstm1 + lstm2 + 512 * 257 + 257 == 2763521
    out = build_model("psm_blstm", SMALL)(torch.randn(3, 1000))
    assert list(out) == ["wav", "mask"]               # the waveform is the primary output
    assert out["wav"].shape == (3, 1000) and out["mask"].shape == (3, 33, 1 + 1000 // 16)
    assert build_model("psm_blstm", SMALL)(torch.randn(2, 1, 777))["wav"].shape == (2, 1, 777)


def test_mask_is_in_0_1_and_a_unit_mask_gives_back_the_input():
    torch.manual_seed(0)
    model = build_model("psm_blstm", SMALL)
    with torch.no_grad():
        model.mask_layer.bias.fill_(30.0)              # sigmoid(30 + small) = 1 to float precision
        model.mask_layer.weight.mul_(1e-3)
        x = torch.randn(2, 800)
        out = model(x)
    assert torch.allclose(out["wav"], x, atol=1e-4)   # iSTFT(STFT(x)) = x
    with torch.no_grad():
        model.mask_layer.bias.fill_(-30.0)
        out = model(10 * x)
    assert out["mask"].min() >= 0 and out["mask"].max() <= 1e-6 and out["wav"].abs().max() < 1e-3


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = build_model("psm_blstm", SMALL)
    out = model(torch.randn(2, 640))
    out["wav"].pow(2).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def psa_by_hand(mask, noisy, clean, n_fft, win_length, hop, truncate):
    total, count = 0.0, 0
    for b in range(noisy.shape[0]):
        Y = numpy_stft(noisy[b], n_fft, win_length, hop)
        S = numpy_stft(clean[b], n_fft, win_length, hop)
        target = np.abs(S) * np.cos(np.angle(S) - np.angle(Y))
        if truncate:
            target = np.minimum(np.maximum(target, 0.0), np.abs(Y))
        total += ((mask[b] * np.abs(Y) - target) ** 2).sum()
        count += target.size
    return total / count


@pytest.mark.parametrize("truncate", [True, False])
def test_psa_loss_against_a_numpy_hand_computation(truncate):
    rng = np.random.default_rng(3)
    noisy, clean = rng.standard_normal((2, 200)), rng.standard_normal((2, 200))
    stft = {"n_fft": 32, "win_length": 24, "hop": 8}
    mask = rng.uniform(size=(2, 17, 1 + 200 // 8))
    terms = build_loss_terms([{"name": "psa", "weight": 1.0, "truncate": truncate, **stft}])
    _, parts = total_loss(terms, {"wav": torch.zeros(2, 200), "mask": torch.tensor(mask, dtype=torch.float32)},
                          {"input": torch.tensor(noisy, dtype=torch.float32),
                           "target": torch.tensor(clean, dtype=torch.float32)}, {})
    expected = psa_by_hand(mask, noisy, clean, truncate=truncate, **stft)
    assert parts["psa"].item() == pytest.approx(expected, rel=1e-4)


def test_psa_equals_complex_error_minus_what_no_real_mask_can_change():
    # Untruncated: |m Y - S|^2 = (m |Y| - |S| cos d)^2 + |S|^2 sin^2 d, bin by bin.
    rng = np.random.default_rng(5)
    noisy, clean = rng.standard_normal(160), rng.standard_normal(160)
    Y, S = numpy_stft(noisy, 32, 32, 8), numpy_stft(clean, 32, 32, 8)
    mask = rng.uniform(size=Y.shape)
    d = np.angle(S) - np.angle(Y)
    complex_error = np.abs(mask * Y - S) ** 2
    assert np.allclose(complex_error, (mask * np.abs(Y) - np.abs(S) * np.cos(d)) ** 2
                       + np.abs(S) ** 2 * np.sin(d) ** 2)
    term = build_loss_terms([{"name": "psa", "truncate": False, "n_fft": 32, "win_length": 32, "hop": 8}])[0][2]
    value = term({"mask": torch.tensor(mask[None], dtype=torch.float32)},
                 {"input": torch.tensor(noisy[None], dtype=torch.float32),
                  "target": torch.tensor(clean[None], dtype=torch.float32)}, {})
    constant = (np.abs(S) ** 2 * np.sin(d) ** 2).mean()
    assert value.item() == pytest.approx(complex_error.mean() - constant, rel=1e-4)


def test_psa_trains_the_model_and_rejects_another_stft():
    torch.manual_seed(0)
    model = build_model("psm_blstm", SMALL)
    terms = build_loss_terms([{"name": "psa", "n_fft": 64, "win_length": 48, "hop": 16}])
    batch = {"input": torch.randn(2, 640), "target": torch.randn(2, 640)}
    loss, _ = total_loss(terms, model(batch["input"]), batch, {})
    loss.backward()
    assert model.blstm.weight_ih_l0.grad.abs().sum() > 0
    wrong = build_loss_terms([{"name": "psa"}])        # 512-point STFT: 257 bins, not 33
    with pytest.raises(KdError, match="n_fft/win_length/hop must be the model's"):
        total_loss(wrong, model(batch["input"]), batch, {})
