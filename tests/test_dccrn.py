"""DCCRN-CL: complex layers against complex arithmetic, parameter counts by hand, shapes, causality."""

import pytest
import torch
import torch.nn.functional as F

from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters
from kdspeech.models.complex_nn import (ComplexBatchNorm, ComplexConv2d, ComplexConvTranspose2d,
                                        ComplexLSTM, complex_cat)

TINY = {"channels": [8, 8, 16, 16], "lstm_units": 32, "n_fft": 64, "win_length": 48, "hop": 16}


def _complex_conv_count(c_in, c_out, taps):
    return 2 * ((c_in // 2) * (c_out // 2) * taps + c_out // 2)  # two real convs with biases


def _lstm_count(d_in, d_h):
    return 4 * d_h * (d_in + d_h) + 8 * d_h  # weights and the two bias vectors


def published_count(complex_bn):
    channels = [2, 32, 64, 128, 256, 256, 256]
    taps = 5 * 2
    enc = sum(_complex_conv_count(a, b, taps) for a, b in zip(channels[:-1], channels[1:]))
    dec = sum(_complex_conv_count(2 * channels[i], channels[i - 1], taps) for i in range(6, 0, -1))
    norm_per_channel = 2.5 if complex_bn else 2  # complex BN: 5 per complex channel
    norms = norm_per_channel * (sum(channels[1:]) + sum(channels[1:6]))
    prelu = 6 + 5
    features = 256 * 4  # 256 channels (real + imaginary) x 4 bins left of 256
    lstm = 2 * _lstm_count(features // 2, 128) + 2 * _lstm_count(128, 128) + 2 * (128 * 512 + 512)
    return int(enc + dec + norms + prelu + lstm)


@pytest.mark.parametrize("complex_bn, expected", [(True, 3_671_917), (False, 3_671_053)])
def test_published_size_parameter_count(complex_bn, expected):
    model = build_model("dccrn", {"complex_bn": complex_bn})
    assert published_count(complex_bn) == expected
    assert count_parameters(model) == expected  # about 3.67M, the paper's 3.7M


@pytest.mark.parametrize("length", [16000, 1234, 50])
def test_shapes_any_length(length):
    model = build_model("dccrn", TINY).eval()
    with torch.no_grad():
        out = model(torch.randn(2, length))
        assert list(out) == ["wav", "spec", "mask"]
        frames = 1 + length // 16
        assert out["wav"].shape == (2, length)
        assert out["spec"].shape == (2, 2, 33, frames) and out["mask"].shape == (2, 2, 33, frames)
        assert model(torch.randn(2, 1, length))["wav"].shape == (2, 1, length)


def test_published_size_runs():
    model = build_model("dccrn", {}).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 4000))
    assert out["spec"].shape == (1, 2, 257, 41)


def test_e_mask_is_bounded_and_applied_to_the_noisy_spectrum():
    torch.manual_seed(0)
    model = build_model("dccrn", TINY).eval()
    x = torch.randn(1, 800)
    with torch.no_grad():
        out = model(x)
    noisy = model.stft(x)
    mask = torch.complex(out["mask"][:, 0], out["mask"][:, 1])
    est = torch.complex(out["spec"][:, 0], out["spec"][:, 1])
    assert mask.abs().max() <= 1  # tanh of the magnitude (1.0 in float32 beyond about 9)
    assert torch.all(mask[:, 0] == 0)  # the DC bin
    torch.testing.assert_close(est, noisy * mask)
    torch.testing.assert_close(out["wav"], model.stft.inverse(est, 800))


def test_stft_reconstructs():
    model = build_model("dccrn", {})
    x = torch.randn(2, 3001)
    torch.testing.assert_close(model.stft.inverse(model.stft(x), 3001), x, atol=1e-5, rtol=1e-5)


def test_causal_in_frames():
    """Changing samples from s on leaves every frame whose window ends before s unchanged."""
    model = build_model("dccrn", TINY).eval()
    x = torch.randn(1, 1600)
    y = x.clone()
    s = 1000
    y[:, s:] = torch.randn(1, 600)
    with torch.no_grad():
        a, b = model(x)["spec"], model(y)["spec"]
    last_clean = (s - 32) // 16  # frame n covers samples [16 n - 32, 16 n + 32)
    torch.testing.assert_close(a[..., :last_clean + 1], b[..., :last_clean + 1])
    assert not torch.allclose(a[..., last_clean + 3:], b[..., last_clean + 3:])


def test_complex_conv_matches_complex_arithmetic():
    torch.manual_seed(0)
    conv = ComplexConv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0))
    x = torch.randn(2, 4, 9, 5)
    w = torch.complex(conv.real.weight, conv.imag.weight)
    bias = torch.complex(conv.real.bias - conv.imag.bias, conv.real.bias + conv.imag.bias)
    xc = torch.complex(x[:, :2], x[:, 2:])
    ref = F.conv2d(xc, w, stride=(2, 1), padding=(1, 0)) + bias[None, :, None, None]
    y = conv(x)
    torch.testing.assert_close(torch.complex(y[:, :3], y[:, 3:]), ref, atol=1e-5, rtol=1e-5)


def test_complex_transposed_conv_matches_complex_arithmetic_and_is_causal():
    torch.manual_seed(1)
    deconv = ComplexConvTranspose2d(4, 2, (5, 2), stride=(2, 1), padding=(2, 0), output_padding=(1, 0),
                                    causal_time=True)
    x = torch.randn(1, 4, 4, 6)
    w = torch.complex(deconv.real.weight, deconv.imag.weight)
    bias = torch.complex(deconv.real.bias - deconv.imag.bias, deconv.real.bias + deconv.imag.bias)
    xc = torch.complex(x[:, :2], x[:, 2:])
    ref = F.conv_transpose2d(xc, w, stride=(2, 1), padding=(2, 0), output_padding=(1, 0))
    ref = ref[..., :6] + bias[None, :, None, None]
    y = deconv(x)
    assert y.shape == (1, 2, 8, 6)
    torch.testing.assert_close(torch.complex(y[:, :1], y[:, 1:]), ref, atol=1e-5, rtol=1e-5)


def test_complex_lstm_combines_real_lstms():
    torch.manual_seed(2)
    lstm = ComplexLSTM(6, 8, projection=4)
    x = torch.randn(2, 5, 6)
    xr, xi = x[..., :3], x[..., 3:]
    real = lstm.real(xr)[0] - lstm.imag(xi)[0]
    imag = lstm.real(xi)[0] + lstm.imag(xr)[0]
    ref = torch.cat([lstm.proj_r(real), lstm.proj_i(imag)], -1)
    torch.testing.assert_close(lstm(x), ref)


def test_complex_batch_norm_whitens():
    torch.manual_seed(3)
    bn = ComplexBatchNorm(2)
    with torch.no_grad():
        bn.Wrr.fill_(1.0)
        bn.Wii.fill_(1.0)
    r = torch.randn(64, 1, 10, 10)
    x = torch.cat([3 * r + 1, 2 * r + 0.5 * torch.randn_like(r) - 2], 1)  # correlated parts
    y = bn(x)
    yr, yi = y[:, 0].flatten(), y[:, 1].flatten()
    assert abs(yr.mean()) < 1e-5 and abs(yi.mean()) < 1e-5
    cov = torch.stack([yr, yi]) @ torch.stack([yr, yi]).T / yr.numel()
    torch.testing.assert_close(cov, torch.eye(2), atol=1e-3, rtol=0)
    torch.testing.assert_close(bn.running_mr, torch.tensor([0.1]), atol=0.02, rtol=0)  # 0.1 x mean 1
    bn.eval()
    assert bn(x).shape == x.shape


def test_complex_cat_layout():
    a = torch.arange(4.0).view(1, 4, 1, 1)  # real 0, 1; imaginary 2, 3
    b = torch.arange(10.0, 12.0).view(1, 2, 1, 1)  # real 10; imaginary 11
    assert complex_cat([a, b]).flatten().tolist() == [0, 1, 10, 2, 3, 11]


def test_bad_options():
    with pytest.raises(KdError, match="masking"):
        build_model("dccrn", {"masking": "X"})
    with pytest.raises(KdError, match="even"):
        build_model("dccrn", {"channels": [3, 4]})


def test_gradient_reaches_every_parameter():
    model = build_model("dccrn", TINY)
    model(torch.randn(2, 400))["wav"].pow(2).mean().backward()
    assert all(p.grad is not None for p in model.parameters())
