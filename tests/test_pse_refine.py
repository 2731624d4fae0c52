"""The on-the-fly similarity-refinement wrapper ``pse_refine`` with real encoders (a random TinyECAPA
read through the kdspeech loader, Resemblyzer's GE2E) around a small test enhancer."""

import pytest
import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS, build_model, count_parameters
from kdspeech.models.complexity import count_macs
from kdspeech.models.pse_refine import cost_split
from kdspeech.models.similarity import cosine_sequence, to_frames
from kdspeech.train.checkpoint import atomic_save

SR = 16000
HOP = 160


class FrameGainEnhancer(nn.Module):
    """The personalized-enhancer contract in miniature: ``forward(mix, enroll_emb)`` with enroll_emb
    ``[B, D]`` or ``[B, F, D]``, ``num_frames(T)``, ``emb_dim``; a per-frame gain from the embedding
    applied to a filtered mixture.  Keeps the embedding it was given, for the tests."""

    def __init__(self, emb_dim=8):
        super().__init__()
        self.emb_dim = emb_dim
        self.gain = nn.Linear(emb_dim, 1)
        self.conv = nn.Conv1d(1, 1, 5, padding=2)
        self.seen = None

    def num_frames(self, num_samples):
        return num_samples // HOP + 1

    def forward(self, mix, enroll_emb):
        frames = self.num_frames(mix.shape[-1])
        if enroll_emb.dim() == 2:
            enroll_emb = enroll_emb[:, None].expand(-1, frames, -1)
        assert enroll_emb.shape[1:] == (frames, self.emb_dim)
        self.seen = enroll_emb.detach()
        gain = torch.sigmoid(self.gain(enroll_emb)).squeeze(-1)                 # [B, F]
        gain = gain.repeat_interleave(HOP, dim=1)[:, :mix.shape[-1]]
        return {"out": self.conv(mix[:, None]).squeeze(1) * gain, "gain": gain}


if "test_frame_gain_enhancer" not in MODELS.names():
    MODELS.register("test_frame_gain_enhancer")(FrameGainEnhancer)
ENHANCER = {"name": "test_frame_gain_enhancer"}


def tiny_ecapa_file(path, **conf):
    torch.manual_seed(0)
    conf = {"emb_dim": 32, **conf}
    model = build_model("tiny_ecapa", conf)
    atomic_save({"model_name": "tiny_ecapa", "model_conf": conf, "model": model.state_dict()}, path)
    return {"loader": "kdspeech", "path": str(path)}


@pytest.fixture
def tiny_spec(tmp_path):
    return tiny_ecapa_file(tmp_path / "tiny.pth")


@pytest.fixture
def tiny_chunked_spec(tmp_path):
    return tiny_ecapa_file(tmp_path / "tiny_chunked.pth", chunk=1.0)


def inputs(batch=2, seconds=2.5, dim=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, int(seconds * SR), generator=g), torch.randn(batch, dim, generator=g)


def build(encoder, **conf):
    return build_model("pse_refine", {"enhancer": ENHANCER, "encoder": encoder, "chunk": 1.0, **conf})


def test_shapes_and_refined_embedding_with_tiny_ecapa(tiny_spec):
    model = build(tiny_spec, alpha=6.0)
    assert model.chunking == "wave" and model.emb_dim == 32 and model.enhancer.emb_dim == 33
    mix, emb = inputs()
    out = model(mix, emb)
    frames = mix.shape[-1] // HOP + 1
    assert list(out)[:3] == ["out", "similarity", "similarity_chunks"] and "gain" in out
    assert out["out"].shape == mix.shape
    assert out["similarity"].shape == (2, frames)
    assert out["similarity_chunks"].shape == (2, 4)            # 2.5 s, T' = 1 s: chunks at 0, .5, 1, 1.5 s
    assert out["similarity"].min() >= 0 and out["similarity"].max() <= 1
    seen = model.enhancer.seen                                   # [B, F, D + 1]
    assert torch.equal(seen[..., :32], emb[:, None].expand(-1, frames, -1))
    assert torch.equal(seen[..., 32], out["similarity"])


def test_chunk_similarities_are_the_encoders_embeddings_of_each_chunk(tiny_spec):
    model = build(tiny_spec)
    mix, emb = inputs()
    out = model(mix, emb)
    with torch.no_grad():
        per_chunk = torch.stack([model.encoder(mix[:, k * 8000:k * 8000 + 16000])["emb"] for k in range(4)], 1)
    torch.testing.assert_close(out["similarity_chunks"], cosine_sequence(per_chunk, emb), atol=1e-5, rtol=1e-5)


def test_alpha_null_clips_and_alpha_k_scales(tiny_spec):
    mix, emb = inputs()
    plain, scaled = build(tiny_spec, alpha=None), build(tiny_spec, alpha=4.0)
    out_plain, out_scaled = plain(mix, emb), scaled(mix, emb)
    raw = out_plain["similarity_chunks"]
    torch.testing.assert_close(out_scaled["similarity_chunks"], raw)
    up = to_frames(raw, out_plain["similarity"].shape[1], mix.shape[-1], 16000, 8000)
    torch.testing.assert_close(out_plain["similarity"], up.clamp(0, 1))
    torch.testing.assert_close(out_scaled["similarity"], (4.0 * up).clamp(0, 1))
    with pytest.raises(KdError, match="alpha"):
        build(tiny_spec, alpha=0)


def test_encoder_is_frozen_through_training(tiny_spec):
    model = build(tiny_spec, alpha=6.0)
    model.train()
    assert model.training and model.enhancer.training and not model.encoder.training
    assert all(not p.requires_grad for p in model.encoder.parameters())
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    enhancer_before = {k: v.clone() for k, v in model.enhancer.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    mix, emb = inputs()
    for _ in range(2):
        optimizer.zero_grad()
        model(mix, emb)["out"].pow(2).mean().backward()
        optimizer.step()
    assert all(p.grad is None for p in model.encoder.parameters())
    for k, v in model.encoder.state_dict().items():       # weights and BatchNorm statistics
        assert torch.equal(v, encoder_before[k]), k
    assert any(not torch.equal(v, enhancer_before[k]) for k, v in model.enhancer.state_dict().items())


def test_encoder_chunking_uses_the_encoders_chunk_embeddings(tiny_chunked_spec, tmp_path):
    model = build(tiny_chunked_spec)
    assert model.chunking == "encoder"
    mix, emb = inputs(seconds=3.0)
    out = model(mix, emb)
    with torch.no_grad():
        chunks = model.encoder(mix)["emb_chunks"]
    assert chunks.shape[1] == 5                                  # 2 x 3 / 1 - 1
    torch.testing.assert_close(out["similarity_chunks"], cosine_sequence(chunks, emb))
    assert build(tiny_chunked_spec, chunking="wave").chunking == "wave"
    half = tiny_ecapa_file(tmp_path / "half.pth", chunk=0.5)
    with pytest.raises(KdError, match="chunk embeddings"):
        build(half, chunking="encoder")
    with pytest.raises(KdError, match="chunk embeddings"):   # auto picks the encoder's chunks: checked
        build(half)
    assert build(half, chunking="wave").chunking == "wave"


def test_errors(tiny_spec, tmp_path):
    model = build(tiny_spec)
    mix, emb = inputs()
    with pytest.raises(KdError, match="shorter than one chunk"):
        model(mix[:, :15999], emb)
    with pytest.raises(KdError, match=r"enroll_emb must be .*\[B, 32\]"):
        model(mix, emb[:, :16])
    with pytest.raises(KdError, match="emb_dim"):
        build(tiny_spec, emb_dim=256)
    with pytest.raises(KdError, match="emb_dim"):
        build_model("pse_refine", {"enhancer": {**ENHANCER, "conf": {"emb_dim": 7}}, "encoder": tiny_spec})
    with pytest.raises(KdError, match="emb_chunks"):
        build(tiny_spec, chunking="encoder")
    with pytest.raises(KdError, match="chunking"):
        build(tiny_spec, chunking="pool")


def test_complexity_includes_the_encoder(tiny_spec):
    model = build(tiny_spec, alpha=6.0)
    parts = cost_split(model, SR)
    assert parts["encoder"]["params"] == count_parameters(model.encoder) > 0
    assert parts["enhancer"]["params"] == count_parameters(model.enhancer) > 0
    assert parts["total"]["params"] == count_parameters(model) == \
        parts["encoder"]["params"] + parts["enhancer"]["params"]
    # one second = one chunk: the encoder's MACs are those of the encoder alone on that chunk
    x = model.example_inputs(SR)
    assert count_macs(model.encoder, x["mix"]) == parts["encoder"]["macs"] > 0
    assert count_macs(model.enhancer, {"mix": x["mix"], "enroll_emb": torch.zeros(1, 33)}) \
        == parts["enhancer"]["macs"] > 0
    assert parts["total"]["macs"] == parts["encoder"]["macs"] + parts["enhancer"]["macs"]
    assert count_macs(model, x) == parts["total"]["macs"]
    assert not model.encoder.training and model.training          # count_macs restores the mode


def test_checkpoint_round_trip(tiny_spec, tmp_path):
    from kdspeech.train.checkpoint import load_model
    conf = {"enhancer": ENHANCER, "encoder": tiny_spec, "chunk": 1.0, "alpha": 6.0}
    model = build_model("pse_refine", conf)
    with torch.no_grad():
        model.enhancer.gain.weight.fill_(0.5)
    atomic_save({"model_name": "pse_refine", "model_conf": conf, "model": model.state_dict()}, tmp_path / "m.pth")
    again = load_model(tmp_path / "m.pth")
    mix, emb = inputs()
    torch.testing.assert_close(again(mix, emb)["out"], model.eval()(mix, emb)["out"])


# ---------------------------------------------------------------------------------- resemblyzer


@pytest.fixture(scope="module")
def oracle():
    pytest.importorskip("resemblyzer")
    return build({"loader": "resemblyzer", "path": "builtin"}, alpha=2.0)


def test_resemblyzer_oracle_encoder(oracle):
    assert oracle.chunking == "wave" and oracle.emb_dim == 256 and oracle.enhancer.emb_dim == 257
    mix, emb = inputs(seconds=2.0, dim=256)
    out = oracle(mix, emb)
    assert out["out"].shape == mix.shape and out["similarity"].shape == (2, 2 * SR // HOP + 1)
    assert out["similarity_chunks"].shape == (2, 3)
    per_chunk = torch.stack([oracle.encoder(mix[:, k * 8000:k * 8000 + 16000])["emb"] for k in range(3)], 1)
    torch.testing.assert_close(out["similarity_chunks"], cosine_sequence(per_chunk, emb), atol=1e-5, rtol=1e-5)
    oracle.train()
    assert not oracle.encoder.training
    assert all(not p.requires_grad for p in oracle.encoder.parameters())
    parts = cost_split(oracle, SR)
    assert parts["encoder"]["params"] == 1_423_616 and parts["encoder"]["macs"] > 0


def test_onnx_export_matches_torch(tiny_spec, tmp_path):
    pytest.importorskip("onnxruntime")
    from kdspeech.deploy.onnx_check import check_onnx
    from kdspeech.deploy.onnx_export import export_onnx
    model = build(tiny_spec, alpha=6.0).eval()
    x = model.example_inputs(2 * SR)
    with torch.no_grad():
        reference = model(**x)
    export_onnx(model, x, tmp_path / "m.onnx")
    assert check_onnx(tmp_path / "m.onnx", x, reference)["passed"]


def test_wraps_an_enhancer_whose_primary_output_is_not_named_out(tiny_spec):
    """pDCCRN (dccrn with emb_dim) returns wav/spec/mask: its first output is the enhanced speech."""
    enhancer = {"name": "dccrn", "conf": {"channels": [4, 8], "lstm_units": 8, "lstm_layers": 1}}
    model = build_model("pse_refine", {"enhancer": enhancer, "encoder": tiny_spec, "chunk": 1.0, "alpha": 2.0})
    mix, emb = inputs(batch=1)
    out = model(mix, emb)
    assert list(out)[:2] == ["out", "similarity"] and out["out"].shape == mix.shape
    assert "wav" not in out and "spec" in out
