"""TinyECAPA (size, structure, front end, chunking) and ECAPA-TDNN (both layouts) against hand figures."""

import pytest
import torch
import torchaudio

from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters
from kdspeech.models.calling import call_model
from kdspeech.models.tiny_ecapa import chunk_bounds


def _eval(model, seed=0):
    """Random BatchNorm statistics (so eval-mode checks are not trivially identity) and eval mode."""
    g = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm1d):
            mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
    return model.eval()


def _wav(batch, seconds, seed=0):
    return torch.randn(batch, int(seconds * 16000), generator=torch.Generator().manual_seed(seed)) * 0.1


def test_tiny_ecapa_parameter_count_matches_the_paper_by_hand():
    model = build_model("tiny_ecapa", {})
    # block = depthwise (c_in k + c_in) + pointwise (c_in c_out + c_out) + BN (2 c_out) + PReLU (1)
    #         + SE (c_out s + s + s c_out + c_out)
    def block(cin, cout, k, s):
        return cin * k + cin + cin * cout + cout + 2 * cout + 1 + cout * s + s + s * cout + cout
    blocks = [block(80, 80, 3, 20), block(80, 128, 5, 32), block(128, 192, 7, 48)]
    head = 384 * 192 + 192 + 2 * 192
    assert blocks == [10261, 19457, 44849] and head == 74304
    assert [count_parameters(b) for b in model.blocks] == blocks
    assert count_parameters(model) == sum(blocks) + head == 148871     # the paper's "150k"


def test_tiny_ecapa_structure_follows_the_paper():
    model = build_model("tiny_ecapa", {})
    convs = [(b.depthwise.in_channels, b.depthwise.groups, b.depthwise.kernel_size[0],
              b.pointwise.out_channels, b.se.squeeze.out_features) for b in model.blocks]
    assert convs == [(80, 80, 3, 80, 20), (80, 80, 5, 128, 32), (128, 128, 7, 192, 48)]
    assert (model.fc.in_features, model.fc.out_features) == (384, 192)
    assert model.in_dim == 80


def test_mfcc_delta_front_end_by_hand():
    model = build_model("tiny_ecapa", {})
    wav = _wav(1, 1.0)
    feats = model.features(wav)[0]
    assert feats.shape == (80, 101)                  # 26 + 27 + 27 values, 1 + 16000 // 160 frames
    fe = model.frontend
    ceps = (fe.dct @ fe.logmel(wav))[0]              # C0..C26
    assert torch.allclose(feats[:26], ceps[1:], atol=1e-5)
    # HTK regression deltas, window 5: d_t = (c_{t+1} - c_{t-1} + 2 (c_{t+2} - c_{t-2})) / 10
    def delta(c, t):
        return (c[t + 1] - c[t - 1] + 2 * (c[t + 2] - c[t - 2])) / 10
    for t in (2, 40, 98):
        assert float(feats[26, t]) == pytest.approx(float(delta(ceps[0], t)), abs=1e-4)     # delta C0
        assert float(feats[27, t]) == pytest.approx(float(delta(ceps[1], t)), abs=1e-4)     # delta C1
    d1 = torchaudio.functional.compute_deltas(ceps, win_length=5)
    for t in (2, 50):
        assert float(feats[53, t]) == pytest.approx(float(delta(d1[0], t)), abs=1e-4)       # delta2 C0


def test_tiny_ecapa_outputs_and_precomputed_features():
    model = _eval(build_model("tiny_ecapa", {}))
    wav = _wav(3, 2.0)
    with torch.no_grad():
        out = call_model(model, {"input": wav})
        feats = model.features(wav).transpose(1, 2)               # [B, frames, 80]
        again = model(feats)["emb"]
    assert list(out) == ["emb"] and out["emb"].shape == (3, 192)
    assert torch.allclose(out["emb"], again, atol=1e-5)
    with pytest.raises(KdError, match="features"):
        model(torch.randn(2, 100, 78))
    with pytest.raises(KdError, match="waveform"):
        model(torch.randn(1, 1, 2, 3))


def test_chunk_count_and_positions():
    # 3 s at a 10 ms hop: 301 centred frames; T' = 1 s (100 frames), hop 50: 2T/T' - 1 = 5 chunks
    assert chunk_bounds(301, 100, 50) == [(0, 100), (50, 150), (100, 200), (150, 250), (200, 300)]
    assert chunk_bounds(251, 100, 50) == [(0, 100), (50, 150), (100, 200), (150, 250)]
    assert chunk_bounds(60, 100, 50) == [(0, 60)]               # shorter than a chunk: one
    assert chunk_bounds(100, 100, 50) == [(0, 100)]
    with pytest.raises(KdError):
        chunk_bounds(100, 0, 50)
    for chunk, seconds in [(1.0, 2), (1.0, 3), (1.0, 6), (0.5, 3), (1.5, 3)]:
        model = build_model("tiny_ecapa", {"chunk": chunk}).eval()
        with torch.no_grad():
            got = model(_wav(1, seconds))["emb_chunks"].shape[1]
        assert got == int(2 * seconds / chunk - 1), (chunk, seconds)


def _pooled(model, hidden):
    # population std, its variance floored at 1e-5 (tiny_ecapa.STD_EPS)
    stats = torch.cat([hidden.mean(-1), hidden.var(-1, unbiased=False).clamp(min=1e-5).sqrt()], dim=1)
    return model.bn(model.fc(stats))


def test_pool_mode_windows_the_statistics_of_one_pass():
    model = _eval(build_model("tiny_ecapa", {"chunk": 1.0}))
    wav = _wav(2, 3.0)
    with torch.no_grad():
        out = call_model(model, {"input": wav}, tap_keys=["hidden.blocks"])
        hidden = out["hidden.blocks"]
        assert hidden.shape == (2, 192, 301)
        for k, (s, e) in enumerate(chunk_bounds(301, 100, 50)):
            assert torch.allclose(out["emb_chunks"][:, k], _pooled(model, hidden[..., s:e]), atol=1e-4)
        unit = torch.nn.functional.normalize(out["emb_chunks"], dim=-1)
        assert torch.allclose(out["emb"], unit.mean(1), atol=1e-6)


def test_split_mode_embeds_each_window_alone():
    chunked = _eval(build_model("tiny_ecapa", {"chunk": 1.0, "chunk_mode": "split"}))
    plain = build_model("tiny_ecapa", {}).eval()
    plain.load_state_dict(chunked.state_dict())
    wav = _wav(2, 2.5)
    with torch.no_grad():
        chunks = chunked(wav)["emb_chunks"]
        feats = chunked.features(wav)
        assert chunks.shape == (2, 4, 192)
        for k, (s, e) in enumerate(chunk_bounds(feats.shape[-1], 100, 50)):
            alone = plain(feats[..., s:e].transpose(1, 2))["emb"]
            assert torch.allclose(chunks[:, k], alone, atol=1e-4)


def test_bad_tiny_ecapa_options():
    with pytest.raises(KdError, match="chunk_mode"):
        build_model("tiny_ecapa", {"chunk": 1.0, "chunk_mode": "stride"})
    with pytest.raises(KdError, match="one entry per block"):
        build_model("tiny_ecapa", {"kernels": [3, 5]})
    with pytest.raises(KdError, match="no option"):
        build_model("tiny_ecapa", {"chunks": 1.0})


@pytest.mark.parametrize("layout,params", [("taoruijie", 15_444_544), ("speechbrain", 20_767_552)])
def test_ecapa_tdnn_full_size(layout, params):
    model = build_model("ecapa_tdnn", {"layout": layout})
    assert count_parameters(model) == params
    with torch.no_grad():
        emb = model.eval()(_wav(2, 1.0))["emb"]
    assert emb.shape == (2, 192)


@pytest.mark.parametrize("layout", ["taoruijie", "speechbrain"])
def test_ecapa_tdnn_reduced_width_trains_and_accepts_features(layout):
    model = build_model("ecapa_tdnn", {"layout": layout, "channels": 64, "emb_dim": 32})
    out = model(_wav(3, 1.0))["emb"]
    assert out.shape == (3, 32)
    out.pow(2).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    wav = _wav(2, 1.0)
    feats = model.frontend_module(wav).transpose(1, 2)
    with torch.no_grad():
        assert torch.allclose(model(wav)["emb"], model(feats)["emb"], atol=1e-5)


def test_ecapa_tdnn_bad_options():
    with pytest.raises(KdError, match="layout"):
        build_model("ecapa_tdnn", {"layout": "wespeaker"})
    with pytest.raises(KdError, match="multiple"):
        build_model("ecapa_tdnn", {"channels": 100})


def test_speechbrain_conv_pads_by_reflection():
    from kdspeech.models.ecapa_tdnn import SbConv
    conv = SbConv(1, 1, 3, dilation=2)
    with torch.no_grad():
        conv.conv.weight.copy_(torch.tensor([[[1.0, 0.0, 0.0]]]))   # picks x[t - 2]
        conv.conv.bias.zero_()
        y = conv(torch.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]))
    assert y.flatten().tolist() == [3.0, 2.0, 1.0, 2.0, 3.0]         # x[-2] = x[2], x[-1] = x[1]


@pytest.mark.parametrize("conf", [{}, {"chunk": 1.0}])
def test_tiny_ecapa_exports_to_onnx_with_parity(tmp_path, conf):
    pytest.importorskip("onnxruntime")
    from kdspeech.deploy.measure import measure_model
    model = _eval(build_model("tiny_ecapa", conf))
    row = measure_model("tiny_ecapa", model, 3.0, 16000, repeats=1, onnx_path=tmp_path / "tiny.onnx")
    assert row["onnx_status"] == "ok", row["onnx_status"]
