"""DeepFilterNet2 / pDCCRN loss terms against hand computations in numpy."""

import numpy as np
import pytest
import torch

from kdspeech.distill.losses import build_loss_terms, total_loss
from kdspeech.errors import KdError

SR = 16000


def term(spec):
    return build_loss_terms([spec])[0][2]


def np_stft(x, win, hop):
    """Periodic Hann window of ``win`` (n_fft = win), frames centred with n_fft/2 zeros on both sides,
    scaled by 1/sqrt(n_fft): ``[B, frames, bins]``."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    padded = np.pad(x, ((0, 0), (win // 2, win // 2)))
    frames = 1 + x.shape[-1] // hop
    out = np.stack([np.fft.rfft(padded[:, i * hop:i * hop + win] * window, axis=-1)
                    for i in range(frames)], axis=1)
    return out / np.sqrt(win)


def np_spectral(y, s, win, hop, c, f_m=1.0, f_c=1.0):
    Y, S = np_stft(y, win, hop), np_stft(s, win, hop)
    magnitude = np.mean((np.abs(Y) ** c - np.abs(S) ** c) ** 2)
    y_c = np.abs(Y) ** c * np.exp(1j * np.angle(Y))
    s_c = np.abs(S) ** c * np.exp(1j * np.angle(S))
    d = y_c - s_c
    complex_ = np.mean(np.concatenate([d.real.ravel() ** 2, d.imag.ravel() ** 2]))
    return f_m * magnitude + f_c * complex_


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    s = 0.3 * rng.standard_normal((2, 1200))
    y = s + 0.1 * rng.standard_normal((2, 1200))
    return y, s


def run(loss, y, s, key="out"):
    out = {key: torch.tensor(y, dtype=torch.float32)}
    return loss(out, {"target": torch.tensor(s, dtype=torch.float32)}, {}).item()


def test_stft_matches_numpy(pair):
    from kdspeech.distill.loss_dfnet import stft
    y, _ = pair
    got = stft(torch.tensor(y), 320, 160).numpy()           # [B, bins, frames]
    np.testing.assert_allclose(got.transpose(0, 2, 1), np_stft(y, 320, 160), rtol=1e-6, atol=1e-8)


def test_df_spectral_hand_computation(pair):
    y, s = pair
    # 20 ms window, 10 ms hop at 16 kHz; c = 0.3
    want = np_spectral(y, s, 320, 160, 0.3)
    assert run(term({"name": "df_spectral"}), y, s) == pytest.approx(want, rel=1e-4)
    want = np_spectral(y, s, 320, 160, 0.6, f_m=2.0, f_c=0.5)
    got = run(term({"name": "df_spectral", "c": 0.6, "factor_magnitude": 2.0, "factor_complex": 0.5}), y, s)
    assert got == pytest.approx(want, rel=1e-4)
    assert run(term({"name": "df_spectral"}), s, s) == pytest.approx(0.0, abs=1e-10)


def test_df_spectral_plcpa_mapping(pair):
    """Eskimez et al.'s PLCPA (alpha = 0.5, complex term per bin) = df_spectral(0.5, 1.0)."""
    y, s = pair
    Y, S = np_stft(y, 320, 160), np_stft(s, 320, 160)
    p, alpha = 0.3, 0.5
    a = np.mean((np.abs(S) ** p - np.abs(Y) ** p) ** 2)
    phase = np.mean(np.abs(np.abs(S) ** p * np.exp(1j * np.angle(S)) - np.abs(Y) ** p * np.exp(1j * np.angle(Y))) ** 2)
    want = alpha * a + (1 - alpha) * phase
    got = run(term({"name": "df_spectral", "factor_magnitude": alpha, "factor_complex": 2 * (1 - alpha)}), y, s)
    assert got == pytest.approx(want, rel=1e-4)


def test_mr_stft_hand_computation(pair):
    y, s = pair
    # windows 5, 10, 20, 40 ms = 80, 160, 320, 640 samples, hop = window / 4, summed
    want = sum(np_spectral(y, s, w, w // 4, 0.3) for w in (80, 160, 320, 640))
    assert run(term({"name": "mr_stft"}), y, s) == pytest.approx(want, rel=1e-4)
    want = np_spectral(y, s, 160, 40, 0.3, f_m=1.0, f_c=0.0)
    got = run(term({"name": "mr_stft", "windows_ms": [10], "factor_complex": 0.0}), y, s)
    assert got == pytest.approx(want, rel=1e-4)


def test_over_suppression_hand_computation(pair):
    y, s = pair
    Y, S = np_stft(y, 320, 160), np_stft(s, 320, 160)
    want = np.mean(np.maximum(np.abs(S) ** 0.3 - np.abs(Y) ** 0.3, 0) ** 2)
    loss = term({"name": "over_suppression"})
    assert run(loss, y, s) == pytest.approx(want, rel=1e-4)
    # a louder estimate is never penalised; half the target: (1 - 0.5^c)^2 |S|^2c in every bin
    assert run(loss, 2 * s, s) == pytest.approx(0.0, abs=1e-12)
    want = (1 - 0.5 ** 0.3) ** 2 * np.mean(np.abs(S) ** 0.6)
    assert run(loss, 0.5 * s, s) == pytest.approx(want, rel=1e-4)


def test_terms_read_the_configured_output_and_weights(pair):
    y, s = pair
    terms = build_loss_terms([{"name": "df_spectral", "weight": 1000},
                              {"name": "mr_stft", "weight": 500},
                              {"name": "over_suppression", "weight": 500, "student_key": "wav"}])
    out = {"out": torch.tensor(y, dtype=torch.float32), "wav": torch.tensor(0.5 * s, dtype=torch.float32)}
    total, parts = total_loss(terms, out, {"target": torch.tensor(s, dtype=torch.float32)}, {})
    assert set(parts) == {"df_spectral", "mr_stft", "over_suppression"}
    assert parts["df_spectral"].item() == pytest.approx(np_spectral(y, s, 320, 160, 0.3), rel=1e-4)
    S = np_stft(s, 320, 160)
    assert parts["over_suppression"].item() == pytest.approx((1 - 0.5 ** 0.3) ** 2 * np.mean(np.abs(S) ** 0.6),
                                                             rel=1e-4)
    assert total.item() == pytest.approx(sum(w * parts[n].item() for n, w, _ in terms), rel=1e-6)


def test_gradients_are_finite_at_silence():
    est = torch.zeros(1, 800, requires_grad=True)
    target = torch.randn(1, 800)
    for name in ("df_spectral", "mr_stft", "over_suppression"):
        loss = term({"name": name})({"out": est}, {"target": target}, {})
        (grad,) = torch.autograd.grad(loss, est)
        assert torch.isfinite(loss) and torch.isfinite(grad).all(), name


def test_errors():
    loss = term({"name": "df_spectral"})
    with pytest.raises(KdError, match="differ"):
        loss({"out": torch.zeros(1, 400)}, {"target": torch.zeros(1, 401)}, {})
    with pytest.raises(KdError, match="compression exponent"):
        term({"name": "over_suppression", "c": 0.0})
    with pytest.raises(KdError, match="no option"):
        term({"name": "mr_stft", "win_ms": 20})
