"""Deployment of personalized and two-part systems: a model taking (mix, enroll_emb) without its own
example inputs, and a refiner made of an enhancer and an on-the-fly similarity encoder reported part
by part and whole (parameters, MACs, RTF at 1 thread, ONNX parity in onnxruntime)."""

import json

import pytest
import torch
from torch import nn

from kdspeech.bin import deploy
from kdspeech.deploy.inputs import deploy_inputs
from kdspeech.errors import KdError
from kdspeech.models import MODELS, build_model, count_parameters
from kdspeech.models.complexity import count_macs
from kdspeech.train.checkpoint import atomic_save

SR = 16000


class TinyPse(nn.Module):
    """forward(mix, enroll_emb) -> {"out": waveform}: the personalized-enhancer contract."""

    def __init__(self, emb_dim=6, channels=4):
        super().__init__()
        self.emb_dim = emb_dim
        self.conv = nn.Conv1d(1, channels, 5, padding=2)
        self.film = nn.Linear(emb_dim, channels)
        self.proj = nn.Conv1d(channels, 1, 1)

    def forward(self, mix, enroll_emb):
        h = torch.tanh(self.conv(mix.unsqueeze(1))) * torch.sigmoid(self.film(enroll_emb)).unsqueeze(-1)
        return {"out": self.proj(h).squeeze(1)}


class TinyEncoder(nn.Module):
    """forward(wav) -> {"emb": [B, D]}."""

    def __init__(self, emb_dim=6, channels=3):
        super().__init__()
        self.conv = nn.Conv1d(1, channels, 8, stride=4)
        self.fc = nn.Linear(channels, emb_dim)

    def forward(self, wav):
        return {"emb": self.fc(torch.relu(self.conv(wav.unsqueeze(1))).mean(-1))}


class TinyRefine(nn.Module):
    """The pse_refine shape: enhancer output scaled by its similarity to the enrolment embedding."""

    def __init__(self, emb_dim=6, alpha=6.0):
        super().__init__()
        self.enhancer = TinyPse(emb_dim)
        self.encoder = TinyEncoder(emb_dim)
        self.alpha = alpha

    def forward(self, mix, enroll_emb):
        out = self.enhancer(mix, enroll_emb)["out"]
        sim = nn.functional.cosine_similarity(self.encoder(out)["emb"], enroll_emb, dim=-1)
        return {"out": out * torch.sigmoid(self.alpha * sim).unsqueeze(-1), "similarity": sim}


class NoEmbDim(TinyPse):
    def __init__(self):
        super().__init__(emb_dim=5)
        del self.emb_dim


for _name, _cls in (("test2p_pse", TinyPse), ("test2p_refine", TinyRefine), ("test2p_no_emb_dim", NoEmbDim)):
    if _name not in MODELS.names():
        MODELS.register(_name)(_cls)


def save(path, name):
    model = build_model(name, {})
    atomic_save({"model_name": name, "model_conf": {}, "model": model.state_dict()}, path)
    return model


def test_personalized_inputs_from_the_forward_signature():
    inputs = deploy_inputs(TinyPse(emb_dim=7), 320)
    assert {k: list(v.shape) for k, v in inputs.items()} == {"mix": [1, 320], "enroll_emb": [1, 7]}
    assert torch.equal(inputs["mix"], deploy_inputs(TinyPse(emb_dim=7), 320)["mix"])  # seeded
    with pytest.raises(KdError, match="NoEmbDim.forward needs 'enroll_emb'.*give --emb_dim"):
        deploy_inputs(NoEmbDim(), 320)
    assert list(deploy_inputs(NoEmbDim(), 320, emb_dim=5)["enroll_emb"].shape) == [1, 5]


def test_two_part_system_reported_by_part_and_whole_with_onnx(tmp_path):
    refine = save(tmp_path / "refine.pth", "test2p_refine")
    save(tmp_path / "pse.pth", "test2p_pse")
    out = tmp_path / "deploy"
    seconds = 0.25
    rc = deploy.main(["--models", str(tmp_path / "refine.pth"), str(tmp_path / "pse.pth"), "--parts",
                      "enhancer,encoder", "--seconds", str(seconds), "--repeats", "1", "--num_threads", "1",
                      "--onnx", "--out_dir", str(out)])
    assert rc == 0
    report = json.loads((out / "deploy.json").read_text())
    rows = {r["model"]: r for r in report["models"]}
    name = str(tmp_path / "refine.pth")
    assert list(rows) == [f"{name} [enhancer]", f"{name} [encoder]", f"{name} [enhancer+encoder]",
                          str(tmp_path / "pse.pth")]
    enh, enc, whole, plain = rows.values()
    assert [enh["part"], enc["part"], whole["part"]] == ["enhancer", "encoder", "enhancer+encoder"]
    assert "part" not in plain
    n = int(seconds * SR)
    assert enh["inputs"] == {"mix": [1, n], "enroll_emb": [1, 6]} and enc["inputs"] == {"wav": [1, n]}
    assert enh["parameters"] + enc["parameters"] == whole["parameters"] == count_parameters(refine)
    # the encoder embeds the whole enhanced output once: the system's MACs are the two parts' MACs
    assert whole["macs"] == enh["macs"] + enc["macs"] > enh["macs"]
    assert enh["macs"] == count_macs(refine.enhancer, deploy_inputs(refine.enhancer, n))
    for row in rows.values():
        assert row["rtf"] > 0 and row["onnx_status"] == "ok", row
        assert row["onnx_max_abs_diff"] <= row["onnx_tolerance"] and row["onnx_rtf"] > 0
    assert whole["onnx_worst_output"] in ("out", "similarity")
    assert report["num_threads"] == 1
    md = (out / "deploy.md").read_text()
    assert f"| {name} [enhancer+encoder] |" in md
    assert (out / "deploy.tsv").read_text().splitlines()[0].endswith("\tpart")


def test_missing_part_is_an_error_naming_it(tmp_path):
    save(tmp_path / "refine.pth", "test2p_refine")
    with pytest.raises(KdError, match="no child module 'decoder' \\(children: enhancer, encoder\\)"):
        deploy.main(["--models", str(tmp_path / "refine.pth"), "--parts", "enhancer,decoder",
                     "--repeats", "1", "--seconds", "0.1", "--out_dir", str(tmp_path / "d")])


def test_a_model_without_the_first_part_is_measured_whole(tmp_path):
    """DCCRN has a child called 'encoder' but is not a two-part system: one whole row, no error."""
    torch.manual_seed(0)
    model = build_model("dccrn", {"channels": [4, 8], "lstm_units": 8, "lstm_layers": 1})
    atomic_save({"model_name": "dccrn", "model_conf": {"channels": [4, 8], "lstm_units": 8, "lstm_layers": 1},
                 "model": model.state_dict()}, tmp_path / "dccrn.pth")
    assert deploy.main(["--models", str(tmp_path / "dccrn.pth"), "--parts", "enhancer,encoder", "--repeats", "1",
                        "--seconds", "0.1", "--out_dir", str(tmp_path / "d")]) == 0
    rows = json.loads((tmp_path / "d" / "deploy.json").read_text())["models"]
    assert [r["model"] for r in rows] == [str(tmp_path / "dccrn.pth")]
