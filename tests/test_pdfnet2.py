"""pDeepFilterNet2: ERB filterbank and DF operator by hand, parameter count by hand, shapes, conditioning,
causality with its look-ahead, gradients, MACs."""

import math

import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters
from kdspeech.models.calling import call_model
from kdspeech.models.complexity import count_macs, example_inputs, macs_per_second
from kdspeech.models.deep_filter import deep_filter
from kdspeech.models.erb import erb_filterbank, erb_widths
from kdspeech.models.pdfnet2_blocks import exp_smooth, norm_alpha

# 33 bins, 8 bands, 8 deep-filtered bins; the grouped linear sizes are multiples of 4 groups
TINY = {"n_fft": 64, "hop": 32, "erb_bands": 8, "df_bins": 8, "conv_ch": 8, "emb_hidden": 16, "df_hidden": 16,
        "lin_groups": 4, "emb_dim": 6}
PAPER_PARAMS = 2.23e6  # Serre et al., Table I


# -- ERB filterbank ----------------------------------------------------------------------------------

def test_erb_widths_by_hand():
    # 8 kHz, n_fft 16: 9 bins of 500 Hz.  ERB-rate of 4 kHz: 9.265 ln(1 + 4000 / 228.8455) = 27.0226,
    # steps of 9.0075; band edges erb2freq(9.0075 i) = 376.2 Hz, 1370.7 Hz, 4000 Hz -> bins 0.75, 2.74, 8
    # -> rounded 1, 3, 8.  Widths 1, 2, 5 (+1, the Nyquist bin, on the last band).
    assert erb_widths(8000, 16, 3, min_bins=1) == [1, 2, 6]
    # min 2 bins: band 1 takes 2 (one borrowed), band 2 has 3 - 2 = 1 left -> 2, band 3: 8 - 4 = 4, +1.
    assert erb_widths(8000, 16, 3, min_bins=2) == [2, 2, 5]
    # 16 kHz, n_fft 320, 24 bands (pDeepFilterNet2): ERB-rate of 8 kHz 33.1905, steps of 1.38294; the
    # band edges 36.8, 79.6, 129.2, 186.9, 253.8, 331.5, 421.7, 526.4, 648.0, 789.2, 953.0, 1143.3,
    # 1364.2, 1620.6, 1918.3, 2263.9, 2665.2, 3131.0, 3671.9, 4299.8, 5028.7, 5875.1, 6857.6, 8000 Hz
    # are bins 1, 2, 3, 4, 5, 7, 8, 11, 13, 16, 19, 23, 27, 32, 38, 45, 53, 63, 73, 86, 101, 118, 137,
    # 160: the first 12 bands need the minimum of 2 (24 bins), then 27 - 24 = 3, 32 - 27 = 5, ...
    assert erb_widths(16000, 320, 24) == [2] * 12 + [3, 5, 6, 7, 8, 10, 10, 13, 15, 17, 19, 24]
    # DeepFilterNet2's own 48 kHz filterbank (960-point FFT, 32 bands)
    widths = erb_widths(48000, 960, 32)
    assert sum(widths) == 481 and widths[:13] == [2] * 13 and widths[-6:] == [31, 37, 42, 50, 56, 67]


@pytest.mark.parametrize("sr, n_fft, bands",
                         [(16000, 320, 24), (16000, 64, 8), (48000, 960, 32), (8000, 256, 16)])
def test_erb_filterbank_partitions_the_bins(sr, n_fft, bands):
    widths = erb_widths(sr, n_fft, bands)
    bins = n_fft // 2 + 1
    assert len(widths) == bands and sum(widths) == bins and min(widths) >= 2
    forward, inverse = erb_filterbank(widths)
    assert forward.shape == (bins, bands) and inverse.shape == (bands, bins)
    # every bin belongs to exactly one band: a partition of unity
    assert torch.equal(inverse.sum(0), torch.ones(bins))
    assert torch.all((inverse == 0) | (inverse == 1))
    # bands are contiguous and in order: the band index of each bin never decreases
    band_of_bin = inverse.argmax(0)
    assert torch.all(band_of_bin[1:] - band_of_bin[:-1] >= 0) and band_of_bin[0] == 0
    assert band_of_bin[-1] == bands - 1
    # the forward matrix averages: each column sums to one, over the bins of its band only
    torch.testing.assert_close(forward.sum(0), torch.ones(bands))
    assert torch.equal(forward > 0, inverse.t() > 0)
    # mean power per band against a loop over the band slices
    power = torch.rand(3, bins)
    start, expected = 0, []
    for width in widths:
        expected.append(power[:, start:start + width].mean(1))
        start += width
    torch.testing.assert_close(power @ forward, torch.stack(expected, 1))
    # a band-constant gain spread to the bins and averaged back is the gain
    gains = torch.rand(2, bands)
    torch.testing.assert_close(gains @ inverse @ forward, gains)


def test_erb_rejects_too_many_bands():
    with pytest.raises(KdError, match="do not fit"):
        erb_widths(16000, 64, 20)


# -- feature normalisation and the deep filter -----------------------------------------------------------

def test_norm_alpha_is_deepfilternets():
    assert norm_alpha(16000, 160, 1.0) == 0.99  # exp(-0.01) = 0.99005, 3 decimals
    assert norm_alpha(48000, 480, 1.0) == 0.99
    assert norm_alpha(16000, 160, 100.0) == 0.9999  # 0.9999 rounds to 1.0 at 3 decimals: one more


@pytest.mark.parametrize("alpha, frames", [(0.99, 300), (0.5, 50), (0.9, 7)])
def test_exp_smooth_matches_the_recursion(alpha, frames):
    torch.manual_seed(0)
    x = torch.randn(2, frames, 3, dtype=torch.float64)
    init = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    state, expected = init.expand(2, 3), []
    for t in range(frames):
        state = alpha * state + (1 - alpha) * x[:, t]
        expected.append(state)
    torch.testing.assert_close(exp_smooth(x, alpha, init), torch.stack(expected, 1))


def test_deep_filter_against_a_loop():
    torch.manual_seed(1)
    spec = torch.randn(2, 9, 4, dtype=torch.cfloat)
    coefs = torch.randn(2, 9, 4, 5, dtype=torch.cfloat)
    for lookahead in (0, 2):
        expected = torch.zeros_like(spec)
        for t in range(9):
            for n in range(5):
                source = t + n - (5 - 1 - lookahead)  # tap 5 - 1 - lookahead is the current frame
                if 0 <= source < 9:
                    expected[:, t] += coefs[:, t, :, n] * spec[:, source]
        torch.testing.assert_close(deep_filter(spec, coefs, lookahead), expected)
    with pytest.raises(KdError, match="look-ahead"):
        deep_filter(spec, coefs, 5)


# -- size --------------------------------------------------------------------------------------------

def _conv(c_in, c_out, kt, kf):
    """Conv2dNormAct: (grouped) conv without bias, a 1x1 conv when grouped, BatchNorm (2 per channel)."""
    groups = math.gcd(c_in, c_out) if kt * kf > 1 else 1
    return c_out * (c_in // groups) * kt * kf + (c_out * c_out if groups > 1 else 0) + 2 * c_out


def _grouped(n_in, n_out, groups):
    return math.ceil(n_in / groups) * groups * n_out // groups


def _gru(n_in, hidden, layers):
    return sum(3 * hidden * ((n_in if i == 0 else hidden) + hidden) + 6 * hidden for i in range(layers))


def _squeezed(n_in, hidden, n_out, layers, groups=8):
    out = _grouped(hidden, n_out, groups) if n_out else 0
    return _grouped(n_in, hidden, groups) + _gru(hidden, hidden, layers) + out


def paper_count(emb_dim):
    ch, bands, df_bins, order = 64, 24, 96, 5
    width = ch * bands // 4  # 384
    encoder = (_conv(1, ch, 3, 3) + 3 * _conv(ch, ch, 1, 3) + _conv(2, ch, 3, 3) + _conv(ch, ch, 1, 3)
               + _grouped(ch * df_bins // 2, width, 8) + _squeezed(2 * width + emb_dim, 256, None, 1))
    erb_decoder = (_squeezed(256, 256, width, 2) + 4 * _conv(ch, ch, 1, 1) + 3 * _conv(ch, ch, 1, 3)
                   + _conv(ch, 1, 1, 3))  # convt3 and the two transposed convs have the same count
    df_decoder = (_conv(ch, 2 * order, 5, 1) + _squeezed(256, 256, None, 2)
                  + _grouped(256, df_bins * 2 * order, 8))
    return encoder + erb_decoder + df_decoder


def test_paper_size_parameter_count():
    assert count_parameters(build_model("pdfnet2", {"emb_dim": 0})) == paper_count(0) == 2_260_410
    model = build_model("pdfnet2", {})  # a 192-dimensional ECAPA embedding
    assert count_parameters(model) == paper_count(192) == 2_266_554
    assert abs(count_parameters(model) / PAPER_PARAMS - 1) < 0.03  # 1.6 % above the paper's 2.23M
    # the similarity-refined embedding (D + 1 = 193) pads the embedding GRU's input to 968 = 8 x 121
    assert count_parameters(build_model("pdfnet2", {"emb_dim": 193})) == paper_count(193)


def test_paper_size_macs_per_second():
    torch.set_num_threads(1)
    macs = macs_per_second(build_model("pdfnet2", {}))
    assert 0.33e9 * 0.95 < macs < 0.33e9 * 1.15  # 0.356 G; the paper's Table I: 0.33 G


def test_macs_count_the_grus_grouped_linears_and_the_deep_filter():
    model = build_model("pdfnet2", TINY)
    frames = model.num_frames(1000)
    total, by_layer = count_macs(model, example_inputs(model, 1000), by_layer=True)
    assert total == sum(by_layer.values())
    # the deep filter (complex: 4 real MACs per tap) and the gains spread to the bins, in the model itself
    assert by_layer[""] == frames * (8 * 5 * 4 + 8 * 33)
    assert by_layer["enc.emb_gru.gru"] == frames * 3 * 16 * (16 + 16)
    # 2 x 16 encoder features + 6 embedding values, zero-padded to 40 = 4 groups of 10, to 16 outputs
    assert by_layer["enc.emb_gru.linear_in.0"] == frames * 4 * 10 * 4
    assert by_layer["df_dec.df_out.0"] == frames * 16 * 80 // 4


# -- behaviour ---------------------------------------------------------------------------------------------

def _tiny(**conf):
    torch.manual_seed(0)
    return build_model("pdfnet2", {**TINY, **conf})


@pytest.mark.parametrize("length", [16000, 1234, 40])
def test_shapes_any_length(length):
    model = _tiny().eval()
    frames = model.num_frames(length)
    assert frames == 1 + length // 32
    emb = torch.randn(2, 6)
    with torch.no_grad():
        out = model(torch.randn(2, length), emb)
        assert list(out)[0] == "out" and out["out"].shape == (2, length)
        assert out["spec"].shape == (2, 2, 33, frames) and out["mask"].shape == (2, 33, frames)
        assert model(torch.randn(2, 1, length), emb)["out"].shape == (2, 1, length)


def test_num_frames_is_the_internal_frame_count():
    model = _tiny()
    for length in (1, 31, 32, 33, 1000):
        assert model.stft(torch.zeros(1, length)).shape[-1] == model.num_frames(length)


def test_embedding_conditions_the_output():
    model = _tiny().eval()
    x = torch.randn(2, 2000)
    with torch.no_grad():
        a = model(x, torch.randn(2, 6))["out"]
        b = model(x, torch.randn(2, 6))["out"]
    assert not torch.allclose(a, b)


def test_framewise_and_utterance_embeddings_agree():
    model = _tiny().eval()
    x, emb = torch.randn(2, 2000), torch.randn(2, 6)
    frames = model.num_frames(2000)
    with torch.no_grad():
        a = model(x, emb)
        b = model(x, emb[:, None, :].repeat(1, frames, 1).contiguous())
    for key in a:
        torch.testing.assert_close(a[key], b[key])


def test_framewise_embedding_acts_from_its_frame_on():
    """The embedding enters after the encoder; the deep filter of frame t reads the stage-1 output up to
    frame t + df_lookahead, so changing it from frame k on leaves frames before k - 2 unchanged."""
    model = _tiny().eval()
    x, frames = torch.randn(1, 2000), model.num_frames(2000)
    emb = torch.randn(1, frames, 6)
    changed = emb.clone()
    k = 40
    changed[:, k:] = torch.randn(1, frames - k, 6)
    with torch.no_grad():
        a, b = model(x, emb)["spec"], model(x, changed)["spec"]
    torch.testing.assert_close(a[..., :k - 2], b[..., :k - 2])
    assert not torch.allclose(a[..., k:], b[..., k:])


def test_causal_up_to_the_look_ahead():
    """Output frame t depends on input frames up to t + conv_lookahead + df_lookahead = t + 4."""
    model = _tiny().eval()
    x = torch.randn(1, 3000)
    y = x.clone()
    s = 2000
    y[:, s:] = torch.randn(1, 1000)
    emb = torch.randn(1, 6)
    with torch.no_grad():
        a, b = model(x, emb)["spec"], model(y, emb)["spec"]
    last_clean_input = (s - 32) // 32  # input frame n covers samples [32 n - 32, 32 n + 32)
    keep = last_clean_input - 4 + 1
    torch.testing.assert_close(a[..., :keep], b[..., :keep])
    assert not torch.allclose(a[..., keep:keep + 6], b[..., keep:keep + 6])


def test_gradient_reaches_every_parameter():
    model = _tiny().train()
    out = model(torch.randn(3, 1500), torch.randn(3, 6))
    (out["out"].pow(2).mean() + out["spec"].pow(2).mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_embedding_size_not_a_multiple_of_the_groups():
    model = _tiny(emb_dim=7).eval()  # 2 x 16 + 7 = 39 inputs, padded to 40 for 4 groups
    with torch.no_grad():
        assert model(torch.randn(1, 500), torch.randn(1, 7))["out"].shape == (1, 500)


def test_without_embedding_is_deepfilternet2():
    model = _tiny(emb_dim=0).eval()
    assert model.example_inputs(100).keys() == {"mix"}
    with torch.no_grad():
        assert model(torch.randn(1, 500))["out"].shape == (1, 500)


def test_bad_embeddings_are_named():
    model = _tiny()
    x = torch.randn(2, 500)
    with pytest.raises(KdError, match=r"needs enroll_emb \[B, 6\]"):
        model(x)
    with pytest.raises(KdError, match=r"\[B, D\] = \[2, 6\] or frame-wise \[B, F, D\] = \[2, 16, 6\]"):
        model(x, torch.randn(2, 5))
    with pytest.raises(KdError, match="frame-wise"):
        model(x, torch.randn(2, 15, 6))
    with pytest.raises(KdError, match="erb_bands 10 is not a multiple of 4"):
        build_model("pdfnet2", {**TINY, "erb_bands": 10})


def test_called_from_a_batch():
    model = _tiny().eval()
    batch = {"input": torch.randn(2, 700), "enroll_emb": torch.randn(2, 6), "target": torch.zeros(2, 700)}
    with torch.no_grad():
        out = call_model(model, batch, tap_keys=["hidden.enc.emb_gru"])
    assert out["out"].shape == (2, 700) and out["hidden.enc.emb_gru"].shape == (2, model.num_frames(700), 16)


def test_vorbis_window_is_power_complementary_and_the_stft_reconstructs():
    model = build_model("pdfnet2", {"emb_dim": 0})
    window = model.stft.window
    assert window.shape == (320,)
    torch.testing.assert_close(window[:160] ** 2 + window[160:] ** 2, torch.ones(160))
    x = torch.randn(2, 4321)
    torch.testing.assert_close(model.stft.inverse(model.stft(x), 4321), x, atol=1e-5, rtol=1e-5)
