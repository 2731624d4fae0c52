"""ONNX deployment of STFT-domain enhancers through the export hook: the network between STFT and iSTFT
of pdfnet2 and dccrn (real-valued, the same sub-modules as the complex forward) checked in onnxruntime,
the host-side STFT -> core -> iSTFT equal to the forward (also for the magnitude models CRN and
PSM-BiLSTM), and the deploy verb on pdfnet2 and on pse_refine around it."""

import json
from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from kdspeech.bin import deploy
from kdspeech.deploy.onnx_check import DEFAULT_RTOL, check_onnx
from kdspeech.deploy.onnx_export import WHOLE_FORWARD, export_onnx, export_target
from kdspeech.models import build_model
from kdspeech.models.deep_filter import deep_filter
from kdspeech.models.pdfnet2_blocks import deep_filter_parts
from kdspeech.train.checkpoint import atomic_save

SR = 16000
SMALL = {"conv_ch": 8, "emb_hidden": 16, "df_hidden": 16, "emb_dim": 8}
SMALL_DCCRN = {"channels": [8, 8, 16, 16], "lstm_units": 32, "n_fft": 64, "win_length": 48, "hop": 16}
CORE = "network between STFT and iSTFT"


def small_pdfnet2(**conf):
    torch.manual_seed(0)
    model = build_model("pdfnet2", {**SMALL, **conf}).eval()
    with torch.no_grad():  # BatchNorm statistics away from the identity, so that they matter
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model


def mixture(batch=2, samples=4000, seed=0):
    return 0.3 * torch.randn(batch, samples, generator=torch.Generator().manual_seed(seed))


def test_deep_filter_on_parts_is_the_complex_deep_filter():
    g = torch.Generator().manual_seed(1)
    spec = torch.randn(2, 7, 5, dtype=torch.complex64, generator=g)
    coefs = torch.randn(2, 7, 5, 3, 2, generator=g)
    for lookahead in (0, 1, 2):
        want = deep_filter(spec, torch.view_as_complex(coefs), lookahead)
        real, imag = deep_filter_parts(spec.real, spec.imag, coefs, lookahead)
        torch.testing.assert_close(torch.complex(real, imag), want, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("emb", ["utterance", "frame-wise", "none"])
def test_stft_core_istft_is_the_forward(emb):
    model = small_pdfnet2(emb_dim=0) if emb == "none" else small_pdfnet2()
    mix = mixture()
    frames = model.num_frames(mix.shape[-1])
    g = torch.Generator().manual_seed(2)
    enroll = {"utterance": torch.randn(2, 8, generator=g), "frame-wise": torch.randn(2, frames, 8, generator=g),
              "none": None}[emb]
    core = model.spectral_core()
    with torch.no_grad():
        want = model(mix, enroll)
        noisy = model.analysis(mix)
        got = core(noisy, enroll)
        wav = model.synthesis(got["spec"], mix.shape[-1])
    assert noisy.shape == (2, 2, 161, frames) and got["spec"].shape == want["spec"].shape
    torch.testing.assert_close(wav, want["out"], atol=1e-5, rtol=0)
    torch.testing.assert_close(got["spec"], want["spec"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got["mask"], want["mask"], atol=1e-6, rtol=1e-5)
    # the core runs the model's own weights: no copy, nothing added to the checkpoint
    assert {id(p) for p in core.parameters()} == {id(p) for p in model.parameters()}
    assert list(model.state_dict()) == list(small_pdfnet2(emb_dim=0 if emb == "none" else 8).state_dict())


def test_core_exports_without_complex_tensors_and_matches_onnxruntime(tmp_path):
    model = small_pdfnet2()
    inputs = model.example_inputs(4000)
    module, core_inputs, what = export_target(model, inputs)
    assert what == CORE and list(core_inputs) == ["noisy", "enroll_emb"]
    assert torch.equal(core_inputs["noisy"], model.analysis(inputs["mix"]))
    with torch.no_grad():
        reference = module(**core_inputs)
    export_onnx(module, core_inputs, tmp_path / "core.onnx")
    graph = onnx.load(str(tmp_path / "core.onnx")).graph
    assert [i.name for i in graph.input] == ["noisy", "enroll_emb"]
    assert [o.name for o in graph.output] == ["spec", "mask"]
    assert not {"STFT", "DFT"} & {node.op_type for node in graph.node}  # STFT/iSTFT stay on the host
    check = check_onnx(tmp_path / "core.onnx", core_inputs, reference, repeats=1, rtol=DEFAULT_RTOL)
    assert check["passed"], check
    assert check["max_abs_diff"] <= check["tolerance"] == pytest.approx(
        DEFAULT_RTOL * float(reference[check["worst_output"]].abs().max()))


@pytest.mark.parametrize("masking, emb_dim", [("E", 0), ("C", 4), ("R", 4)])
def test_dccrn_core_is_the_forward_and_matches_onnxruntime(tmp_path, masking, emb_dim):
    torch.manual_seed(0)
    model = build_model("dccrn", {**SMALL_DCCRN, "masking": masking, "emb_dim": emb_dim}).eval()
    inputs = model.example_inputs(2000)
    module, core_inputs, what = export_target(model, inputs)
    assert what == CORE and list(core_inputs) == ["noisy"] + (["enroll_emb"] if emb_dim else [])
    with torch.no_grad():
        want = model(**inputs)
        got = module(**core_inputs)
        wav = model.synthesis(got["spec"], 2000)
    torch.testing.assert_close(wav, want["wav"], atol=1e-5, rtol=0)
    torch.testing.assert_close(got["mask"], want["mask"], atol=1e-6, rtol=1e-5)
    export_onnx(module, core_inputs, tmp_path / "dccrn.onnx")
    check = check_onnx(tmp_path / "dccrn.onnx", core_inputs, got, repeats=1, rtol=DEFAULT_RTOL)
    assert check["passed"], check


def test_models_without_the_hook_export_their_forward():
    model = build_model("pdfnet2", SMALL)
    plain = nn.Linear(3, 2)
    inputs = {"input": torch.zeros(1, 3)}
    assert export_target(plain, inputs) == (plain, inputs, WHOLE_FORWARD)

    class BrokenHook(nn.Linear):
        def export_module(self, inputs):
            return model

    with pytest.raises(TypeError, match="export_module must return"):
        export_target(BrokenHook(3, 2), inputs)


def save(path, name, conf):
    model = build_model(name, conf)
    atomic_save({"model_name": name, "model_conf": conf, "model": model.state_dict()}, path)
    return model


def tiny_ecapa_file(path):
    """A random TinyECAPA (32-dimensional embeddings) as a kdspeech model file; its loader spec."""
    torch.manual_seed(0)
    save(path, "tiny_ecapa", {"emb_dim": 32})
    return {"loader": "kdspeech", "path": str(path)}


def run_deploy(tmp_path, models, seconds, *extra):
    out = tmp_path / "deploy"
    rc = deploy.main(["--models", *map(str, models), "--seconds", str(seconds), "--repeats", "1",
                      "--num_threads", "1", "--onnx", "--out_dir", str(out), *extra])
    assert rc == 0
    report = json.loads((out / "deploy.json").read_text())
    return {r["model"]: r for r in report["models"]}, (out / "deploy.md").read_text(), out


@pytest.mark.parametrize("name, conf", [("crn", {"channels": [4, 8, 16], "n_fft": 128, "hop": 64}),
                                        ("psm_blstm", {"hidden": 16, "n_fft": 128, "win_length": 96, "hop": 32})])
def test_magnitude_models_core_is_the_forward_and_matches_onnxruntime(tmp_path, name, conf):
    """CRN and PSM-BiLSTM (the SNR paper's baselines) keep the noisy phase: their core is a real gain."""
    torch.manual_seed(0)
    model = build_model(name, conf).eval()
    wav = mixture(batch=1, samples=2000)
    module, core_inputs, what = export_target(model, {"wav": wav})
    assert what == CORE and list(core_inputs) == ["noisy"]
    with torch.no_grad():
        want = model(wav)
        got = module(**core_inputs)
    want = want["wav"] if isinstance(want, dict) else want
    torch.testing.assert_close(model.synthesis(got["spec"], 2000), want, atol=1e-5, rtol=0)
    assert {id(p) for p in module.parameters()} == {id(p) for p in model.parameters()}
    export_onnx(module, core_inputs, tmp_path / f"{name}.onnx")
    assert not {"STFT", "DFT"} & {n.op_type for n in onnx.load(str(tmp_path / f"{name}.onnx")).graph.node}
    check = check_onnx(tmp_path / f"{name}.onnx", core_inputs, got, repeats=1, rtol=DEFAULT_RTOL)
    assert check["passed"], check


def test_deploy_pdfnet2_checkpoint_exports_its_spectral_core(tmp_path):
    save(tmp_path / "pdfnet2.pth", "pdfnet2", SMALL)
    rows, md, out = run_deploy(tmp_path, [tmp_path / "pdfnet2.pth"], 0.25)
    row = rows[str(tmp_path / "pdfnet2.pth")]
    assert row["onnx_status"] == f"ok ({CORE})" and row["onnx_exported"] == CORE == row["onnx_rtf_of"]
    assert row["inputs"] == {"mix": [1, 4000], "enroll_emb": [1, 8]}
    assert row["onnx_inputs"] == {"noisy": [1, 2, 161, 26], "enroll_emb": [1, 8]}
    assert row["onnx_max_abs_diff"] <= row["onnx_tolerance"] and row["onnx_rtf"] > 0 and row["rtf"] > 0
    assert row["onnx_tolerance"] > 0 and row["onnx_rtol"] == DEFAULT_RTOL
    assert Path(row["onnx_file"]).is_file()
    assert f"ok ({CORE})" in md and "its onnxruntime RTF is that module's alone" in md
    assert (out / "deploy.tsv").read_text().splitlines()[1].split("\t")[-2] == CORE


def test_deploy_pse_refine_with_pdfnet2_by_part_and_whole(tmp_path):
    encoder = tiny_ecapa_file(tmp_path / "tiny.pth")
    conf = {"enhancer": {"name": "pdfnet2", "conf": {k: v for k, v in SMALL.items() if k != "emb_dim"}},
            "encoder": encoder, "chunk": 0.25, "alpha": 6.0}
    refine = save(tmp_path / "refine.pth", "pse_refine", conf)
    seconds = 0.5
    rows, md, _ = run_deploy(tmp_path, [tmp_path / "refine.pth"], seconds, "--parts", "enhancer,encoder")
    name = str(tmp_path / "refine.pth")
    assert list(rows) == [f"{name} [enhancer]", f"{name} [encoder]", f"{name} [enhancer+encoder]"]
    enh, enc, whole = rows.values()
    whole_what = f"encoder, similarity and the enhancer's {CORE}"
    assert enh["onnx_status"] == f"ok ({CORE})" and enh["onnx_inputs"]["enroll_emb"] == [1, 33]
    assert enc["onnx_status"] == "ok" and enc["onnx_exported"] == WHOLE_FORWARD
    assert enc["inputs"] == {"wav": [1, 8000]}
    assert whole["onnx_status"] == f"ok ({whole_what})"
    assert whole["onnx_inputs"] == {"mix": [1, 8000], "noisy": [1, 2, 161, 51], "enroll_emb": [1, 32]}
    for row in rows.values():
        assert row["onnx_max_abs_diff"] <= row["onnx_tolerance"] and row["onnx_rtf"] > 0
    assert whole["parameters"] == enh["parameters"] + enc["parameters"]
    assert f"| {name} [enhancer+encoder] |" in md and whole_what in md
    # the exported system is the forward with STFT/iSTFT on the host
    inputs = refine.eval().example_inputs(int(seconds * SR))
    module, system_inputs, _ = export_target(refine, inputs)
    with torch.no_grad():
        want, got = refine(**inputs), module(**system_inputs)
    torch.testing.assert_close(refine.enhancer.synthesis(got["spec"], inputs["mix"].shape[-1]), want["out"],
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(got["similarity"], want["similarity"])



def test_pse_refine_around_dccrn_exports_encoder_similarity_and_core(tmp_path):
    encoder = tiny_ecapa_file(tmp_path / "tiny.pth")
    torch.manual_seed(0)
    refine = build_model("pse_refine", {"enhancer": {"name": "dccrn", "conf": SMALL_DCCRN}, "encoder": encoder,
                                        "chunk": 0.25, "alpha": 6.0}).eval()
    inputs = refine.example_inputs(8000)
    module, system_inputs, what = export_target(refine, inputs)
    assert what == f"encoder, similarity and the enhancer's {CORE}"
    assert list(system_inputs) == ["mix", "noisy", "enroll_emb"]
    with torch.no_grad():
        want, got = refine(**inputs), module(**system_inputs)
    torch.testing.assert_close(refine.enhancer.synthesis(got["spec"], 8000), want["out"], atol=1e-5, rtol=0)
    export_onnx(module, system_inputs, tmp_path / "system.onnx")
    check = check_onnx(tmp_path / "system.onnx", system_inputs, got, repeats=1, rtol=DEFAULT_RTOL)
    assert check["passed"], check


@pytest.mark.parametrize("output", ["mask", "mapping"])
def test_conformer_core_is_the_forward_and_matches_onnxruntime(tmp_path, output):
    torch.manual_seed(0)
    model = build_model("conformer_enh", {"dim": 16, "heads": 2, "layers": 1, "units": 32, "output": output}).eval()
    inputs = {"wav": 0.1 * torch.randn(1, 2000)}
    module, core_inputs, what = export_target(model, inputs)
    assert what == CORE and list(core_inputs) == ["noisy"]
    with torch.no_grad():
        want = model(**inputs)
        got = module(**core_inputs)
        wav = model.synthesis(got["spec"], 2000)
    torch.testing.assert_close(wav, want["wav"], atol=1e-5, rtol=0)
    export_onnx(module, core_inputs, tmp_path / "conformer.onnx")
    check = check_onnx(tmp_path / "conformer.onnx", core_inputs, got, repeats=1, rtol=DEFAULT_RTOL)
    assert check["passed"], check
