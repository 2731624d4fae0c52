"""ECAPA-TDNN checkpoints in the TaoRuijie and SpeechBrain key layouts, and the resemblyzer teacher."""

import numpy as np
import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.models.loaders import load_member


def _randomized(model, seed=0):
    """Random weights and BatchNorm statistics, so that a loader that dropped or swapped any tensor
    would change the embedding."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.05 if p.dim() > 1 else 0.5))
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm1d):
                mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
    return model.eval()


def _wav(seconds=1.5, batch=2, seed=1):
    return torch.randn(batch, int(seconds * 16000), generator=torch.Generator().manual_seed(seed)) * 0.1


def _taoruijie_file(tmp_path, model, prefix="", name="pretrain.model"):
    """``ECAPAModel.state_dict()`` as TaoRuijie's trainer saves it: encoder + AAM-softmax classes."""
    state = {f"{prefix}speaker_encoder.{k}": v for k, v in model.state_dict().items()}
    state[f"{prefix}speaker_loss.weight"] = torch.randn(5994, model.fc6.out_features)
    path = tmp_path / name
    torch.save(state, path)
    return path


def _speechbrain_file(tmp_path, model, prefix="", name="embedding_model.ckpt"):
    """SpeechBrain's ``embedding_model.ckpt``: the embedding model's state dict, no front end."""
    state = {prefix + k: v for k, v in model.state_dict().items() if not k.startswith("frontend.")}
    path = tmp_path / name
    torch.save(state, path)
    return path


def _same(a, b, wav):
    with torch.no_grad():
        return torch.allclose(a(wav)["emb"], b(wav)["emb"], atol=1e-5)


def test_taoruijie_checkpoint_loads_full_size(tmp_path):
    model = _randomized(build_model("ecapa_tdnn", {"layout": "taoruijie"}))
    path = _taoruijie_file(tmp_path, model)
    keys = torch.load(path, weights_only=True)
    assert "speaker_encoder.layer1.convs.6.weight" in keys and "speaker_encoder.attention.4.bias" in keys
    assert "speaker_encoder.torchfbank.1.mel_scale.fb" in keys
    loaded = load_member({"loader": "ecapa_taoruijie", "path": str(path)})
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training
    assert _same(model, loaded, _wav())
    assert _same(model, load_member({"loader": "ecapa", "path": str(path)}), _wav(seed=2))


def test_taoruijie_reduced_width_and_dataparallel_prefix(tmp_path):
    model = _randomized(build_model("ecapa_tdnn", {"layout": "taoruijie", "channels": 128}), seed=3)
    path = _taoruijie_file(tmp_path, model, prefix="module.")
    loaded = load_member({"loader": "ecapa_taoruijie", "path": str(path)})
    assert loaded.conv1.out_channels == 128
    assert _same(model, loaded, _wav())


def test_speechbrain_checkpoint_loads_full_size(tmp_path):
    model = _randomized(build_model("ecapa_tdnn", {"layout": "speechbrain"}), seed=4)
    path = _speechbrain_file(tmp_path, model)
    keys = torch.load(path, weights_only=True)
    assert keys["blocks.0.conv.conv.weight"].shape == (1024, 80, 5)
    assert keys["asp.tdnn.conv.conv.weight"].shape == (128, 9216, 1)
    assert keys["fc.conv.weight"].shape == (192, 6144, 1)
    assert "blocks.3.res2net_block.blocks.6.norm.norm.running_var" in keys
    loaded = load_member({"loader": "ecapa_speechbrain", "path": str(path)})
    assert _same(model, loaded, _wav())
    assert _same(model, load_member({"loader": "ecapa", "path": str(path)}), _wav(seed=2))


def test_speechbrain_prefixed_reduced_width(tmp_path):
    model = _randomized(build_model("ecapa_tdnn", {"layout": "speechbrain", "channels": 64,
                                                   "emb_dim": 48}), seed=5)
    path = _speechbrain_file(tmp_path, model, prefix="embedding_model.")
    loaded = load_member({"loader": "ecapa_speechbrain", "path": str(path)})
    assert loaded.fc.conv.out_channels == 48
    assert _same(model, loaded, _wav())


def test_keys_matching_neither_layout_are_listed(tmp_path):
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"encoder.weight": torch.zeros(3), "head.bias": torch.zeros(2)}, foreign)
    for loader in ("ecapa_taoruijie", "ecapa_speechbrain"):
        with pytest.raises(KdError) as err:
            load_member({"loader": loader, "path": str(foreign)})
        text = str(err.value)
        assert str(foreign) in text and "first missing keys" in text and "'encoder.weight'" in text
    with pytest.raises(KdError, match="neither ECAPA-TDNN layout"):
        load_member({"loader": "ecapa", "path": str(foreign)})

    # one key renamed in an otherwise valid TaoRuijie file: that key is missing, the new one unexpected
    model = build_model("ecapa_tdnn", {"layout": "taoruijie", "channels": 64})
    state = {f"speaker_encoder.{k}": v for k, v in model.state_dict().items()}
    state["speaker_encoder.layer2.conv_3.weight"] = state.pop("speaker_encoder.layer2.conv3.weight")
    path = tmp_path / "renamed.model"
    torch.save(state, path)
    with pytest.raises(KdError) as err:
        load_member({"loader": "ecapa_taoruijie", "path": str(path)})
    assert "['layer2.conv3.weight']" in str(err.value) and "['layer2.conv_3.weight']" in str(err.value)

    # a SpeechBrain file given to the TaoRuijie loader
    sb = _speechbrain_file(tmp_path, build_model("ecapa_tdnn", {"layout": "speechbrain", "channels": 64}))
    with pytest.raises(KdError, match="taoruijie ECAPA-TDNN layout"):
        load_member({"loader": "ecapa_taoruijie", "path": str(sb)})
    with pytest.raises(KdError, match="not found"):
        load_member({"loader": "ecapa_speechbrain", "path": str(tmp_path / "absent.ckpt")})


# ------------------------------------------------------------------------------------ resemblyzer


@pytest.fixture(scope="module")
def resemblyzer_teacher():
    pytest.importorskip("resemblyzer")
    return load_member({"loader": "resemblyzer", "path": "builtin"})


def test_resemblyzer_partials_follow_the_package(resemblyzer_teacher):
    from resemblyzer import VoiceEncoder
    from kdspeech.models.loaders.resemblyzer import partial_starts
    for n in (1000, 16000, 25600, 40000, 48000, 123457):
        _, mel_slices = VoiceEncoder.compute_partial_slices(n, 1.3, 0.75)
        assert partial_starts(n) == [s.start for s in mel_slices], n
    # 3 s: ceil(48001 / 160) = 301 frames, a partial every round(16000 / 1.3 / 160) = 77 frames;
    # the one at 154 is (48000 - 154 * 160) / 25600 = 91 % audio >= 75 %: kept
    assert partial_starts(48000) == [0, 77, 154]
    assert sum(p.numel() for p in resemblyzer_teacher.parameters()) == 1_423_616


def _speakers(corpora):
    root = corpora / "librispeech" / "LibriSpeech" / "test-other"
    speakers = sorted(p for p in root.iterdir() if p.is_dir())[:2] if root.exists() else []
    if len(speakers) < 2:
        pytest.skip("librispeech/test-other not in the corpora")
    return [sorted(s.rglob("*.flac"))[:2] for s in speakers]


def test_resemblyzer_on_real_speech(resemblyzer_teacher, corpora):
    import soundfile as sf
    from resemblyzer import VoiceEncoder

    (a0, a1), (b0, _) = _speakers(corpora)
    wavs = [sf.read(str(p), dtype="float32")[0][:8 * 16000] for p in (a0, a1, b0)]
    with torch.no_grad():
        embs = [resemblyzer_teacher(torch.from_numpy(w)[None])["emb"][0].numpy() for w in wavs]
    # same as the package's own embed_utterance
    reference = VoiceEncoder("cpu", verbose=False).embed_utterance(wavs[0])
    assert np.abs(embs[0] - reference).max() < 1e-4
    same, other = float(embs[0] @ embs[1]), max(float(embs[0] @ embs[2]), float(embs[1] @ embs[2]))
    assert same > other, (same, other)

    # a batch of equal-length crops is embedded as each crop alone
    crops = torch.stack([torch.from_numpy(w[:48000]) for w in wavs])
    with torch.no_grad():
        out = resemblyzer_teacher(crops)
        alone = torch.cat([resemblyzer_teacher(c[None])["emb"] for c in crops])
    assert out["emb"].shape == (3, 256) and out["emb_partials"].shape == (3, 3, 256)
    assert torch.allclose(out["emb"], alone, atol=1e-5)


def test_resemblyzer_bad_weights(tmp_path):
    pytest.importorskip("resemblyzer")
    path = tmp_path / "weights.pt"
    torch.save({"something": torch.zeros(1)}, path)
    with pytest.raises(KdError, match="model_state"):
        load_member({"loader": "resemblyzer", "path": str(path)})
