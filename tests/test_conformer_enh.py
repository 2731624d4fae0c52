"""Conformer enhancement teacher: parameter counts by hand, relative attention against a loop, outputs."""

import math

import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters
from kdspeech.models.conformer_enh import RelPositionAttention, rel_positions, rel_shift

TINY = {"dim": 32, "heads": 2, "layers": 2, "units": 64, "kernel": 3, "n_fft": 64, "win_length": 48,
        "hop": 16}


def block_count(d, units, kernel):
    ffn = 2 * (d * units + units + units * d + d)
    attention = 4 * (d * d + d) + d * d + 2 * d  # q, k, v, out; position projection; biases u, v
    conv = (d * 2 * d + 2 * d) + (d * kernel + d) + 2 * d + (d * d + d)  # pw1, depthwise, BN, pw2
    norms = 5 * 2 * d
    return ffn + attention + conv + norms


def model_count(bins, d, units, kernel, layers, width_factor=1):
    width = width_factor * bins
    return (width * d + d) + 2 * d + layers * block_count(d, units, kernel) + (d * width + width)


def test_paper_size_parameter_count():
    model = build_model("conformer_enh", {})
    assert block_count(384, 1536, 7) == 3_553_920
    assert count_parameters(model.blocks[0]) == 3_553_920
    expected = model_count(257, 384, 1536, 7, 6)
    assert expected == 21_522_305  # ESPnet's separator defaults with one output (~21.5M)
    assert count_parameters(model) == expected


@pytest.mark.parametrize("output, factor", [("mask", 1), ("mapping", 2)])
def test_tiny_counts_and_shapes(output, factor):
    model = build_model("conformer_enh", {**TINY, "output": output}).eval()
    assert count_parameters(model) == model_count(33, 32, 64, 3, 2, factor)
    with torch.no_grad():
        out = model(torch.randn(2, 1000))
    assert list(out)[:2] == ["wav", "spec"]
    assert out["wav"].shape == (2, 1000)
    assert out["spec"].shape == (2, 2, 33, 1 + 1000 // 16)
    assert ("mask" in out) == (output == "mask")


def test_mask_mode_keeps_the_noisy_phase():
    model = build_model("conformer_enh", TINY).eval()
    x = torch.randn(1, 500)
    with torch.no_grad():
        out = model(x)
    noisy = model.stft(x)
    est = torch.complex(out["spec"][:, 0], out["spec"][:, 1])
    assert torch.all(out["mask"] >= 0)
    torch.testing.assert_close(est, noisy * out["mask"])
    torch.testing.assert_close(out["wav"], model.stft.inverse(est, 500))


def test_spec_layout_matches_dccrn():
    teacher = build_model("conformer_enh", TINY).eval()
    student = build_model("dccrn", {"channels": [8, 8], "lstm_units": 16, "n_fft": 64, "win_length": 48,
                                    "hop": 16}).eval()
    x = torch.randn(2, 777)
    with torch.no_grad():
        assert teacher(x)["spec"].shape == student(x)["spec"].shape
    paper_t, paper_s = build_model("conformer_enh", {}), build_model("dccrn", {})
    assert (paper_t.stft.n_fft, paper_t.stft.win_length, paper_t.stft.hop) == (512, 400, 100)
    assert (paper_s.stft.n_fft, paper_s.stft.win_length, paper_s.stft.hop) == (512, 400, 100)


def test_rel_shift_picks_position_i_minus_j():
    t = 4
    # column n of row i holds the relative position T-1-n it stands for, plus 100 i
    scores = torch.tensor([[100.0 * i + (t - 1 - n) for n in range(2 * t - 1)] for i in range(t)])
    shifted = rel_shift(scores[None, None])[0, 0]
    assert shifted.tolist() == [[100.0 * i + (i - j) for j in range(t)] for i in range(t)]


def test_rel_positions_sinusoids():
    emb = rel_positions(3, 4)
    assert emb.shape == (5, 4)
    pos = 2 - 4  # row 4 stands for position -2
    assert emb[4, 0].item() == pytest.approx(math.sin(pos))
    assert emb[4, 1].item() == pytest.approx(math.cos(pos))
    assert emb[4, 2].item() == pytest.approx(math.sin(pos / 100))


def test_relative_attention_against_a_loop():
    torch.manual_seed(0)
    att = RelPositionAttention(8, 2).eval()
    x = torch.randn(1, 5, 8)
    pos = rel_positions(5, 8)
    out = att(x, pos)
    q, k, v = att.q(x)[0], att.k(x)[0], att.v(x)[0]
    p = att.pos(pos)
    heads = []
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        scores = torch.empty(5, 5)
        for i in range(5):
            for j in range(5):
                row = 5 - 1 - (i - j)  # the embedding of position i - j
                scores[i, j] = ((q[i, sl] + att.bias_u[h]) @ k[j, sl]
                                + (q[i, sl] + att.bias_v[h]) @ p[row, sl]) / 2.0
        heads.append(torch.softmax(scores, -1) @ v[:, sl])
    ref = att.out(torch.cat(heads, -1))
    torch.testing.assert_close(out[0], ref, atol=1e-5, rtol=1e-5)


def test_bad_options():
    with pytest.raises(KdError, match="output"):
        build_model("conformer_enh", {"output": "wave"})
    with pytest.raises(KdError, match="heads"):
        build_model("conformer_enh", {**TINY, "heads": 3})
