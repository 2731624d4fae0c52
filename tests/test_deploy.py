"""The deployment verb (kdspeech.bin.deploy) and its parts: MACs, RTF, the ONNX export checked against torch."""

import json

import numpy as np
import pytest
import torch
import torchaudio
from torch import nn

from kdspeech.bin import deploy
from kdspeech.deploy.onnx_check import compare_outputs
from kdspeech.deploy.onnx_rewrites import RealSpectrogram, exportable_copy
from kdspeech.errors import KdError
from kdspeech.models import MODELS, build_model, count_parameters
from kdspeech.train.checkpoint import atomic_save

TINY_WAVEUNET = {"num_layers": 1, "base_channels": 2, "growth": 1, "num_decimations": 1,
                 "enc_kernel": 3, "dec_kernel": 1}
# MACs per sample of TINY_WAVEUNET (test_models.py counts them at T = 8): encoder 2 x 3, bottleneck on
# T/2 samples 3 x 2 x 3 / 2, decoder 2 x 5, output 3.
TINY_WAVEUNET_MACS_PER_SAMPLE = 6 + 9 + 10 + 3


class PersonalEnhancer(nn.Module):
    """Two inputs (mixture and enrolment embedding), dict output: the personalised-enhancer shape."""

    def __init__(self, channels=4, emb_dim=3, kernel=5):
        super().__init__()
        self.emb_dim = emb_dim
        self.conv_in = nn.Conv1d(1, channels, kernel, padding=kernel // 2)
        self.film = nn.Linear(emb_dim, channels)
        self.conv_out = nn.Conv1d(channels, 1, 1)

    def example_inputs(self, num_samples):
        g = torch.Generator().manual_seed(1)
        return {"mix": torch.randn(1, num_samples, generator=g),
                "enroll_emb": torch.randn(1, self.emb_dim, generator=g)}

    def forward(self, mix, enroll_emb):
        h = self.conv_in(mix.unsqueeze(1)) * torch.sigmoid(self.film(enroll_emb)).unsqueeze(-1)
        return {"wav": self.conv_out(h).squeeze(1), "emb": h.mean(-1)}


class ExportsDifferently(nn.Module):
    """Its ONNX graph adds 1 to the output: the check must catch it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 3, padding=1)

    def forward(self, wav):
        y = self.conv(wav.unsqueeze(1)).squeeze(1)
        return y + 1.0 if torch.onnx.is_in_onnx_export() else y


class ComplexStft(nn.Module):
    """A complex STFT in its forward and no export hook: torch.onnx cannot export it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 3, padding=1)

    def forward(self, wav):
        spec = torch.stft(self.conv(wav.unsqueeze(1)).squeeze(1), 64, 16, window=torch.hann_window(64),
                          return_complex=True)
        return torch.istft(spec, 64, 16, window=torch.hann_window(64), length=wav.shape[-1])


for _name, _cls in (("test_personal_enhancer", PersonalEnhancer), ("test_exports_differently", ExportsDifferently),
                    ("test_complex_stft", ComplexStft)):
    if _name not in MODELS.names():
        MODELS.register(_name)(_cls)


def write_model(path, name, conf):
    model = build_model(name, conf)
    atomic_save({"model_name": name, "model_conf": conf, "model": model.state_dict()}, path)
    return model


def read_report(out):
    return json.loads((out / "deploy.json").read_text()), (out / "deploy.md").read_text(), \
        (out / "deploy.tsv").read_text().splitlines()


def test_deploy_end_to_end_with_onnx(tmp_path):
    wun = write_model(tmp_path / "wun.pth", "waveunet", TINY_WAVEUNET)
    cnn = write_model(tmp_path / "cnn" / "best.pth", "cnn14", {"num_classes": 3, "width": 0.0625})
    pers = write_model(tmp_path / "pers.pth", "test_personal_enhancer", {})
    out = tmp_path / "deploy"
    seconds, sr = 0.5, 16000
    samples = int(seconds * sr)
    rc = deploy.main(["--models", str(tmp_path / "wun.pth"), str(tmp_path / "cnn"), str(tmp_path / "pers.pth"),
                      "--seconds", str(seconds), "--sr", str(sr), "--repeats", "1", "--onnx", "--out_dir", str(out)])
    assert rc == 0
    report, md, tsv = read_report(out)
    rows = {r["model"]: r for r in report["models"]}
    wun_row, cnn_row, pers_row = rows[str(tmp_path / "wun.pth")], rows[str(tmp_path / "cnn")], \
        rows[str(tmp_path / "pers.pth")]
    for row, model in ((wun_row, wun), (cnn_row, cnn), (pers_row, pers)):
        assert row["parameters"] == count_parameters(model)
        assert row["rtf"] > 0 and row["onnx_rtf"] > 0
        assert row["onnx_status"] == "ok" and row["onnx_max_abs_diff"] <= row["onnx_tolerance"]
        assert row["onnx_tolerance"] > 0 and row["onnx_rtol"] == 1e-4
        assert (out / "onnx").joinpath(row["onnx_file"].rsplit("/", 1)[-1]).is_file()
    # MACs against hand counts
    assert wun_row["macs"] == TINY_WAVEUNET_MACS_PER_SAMPLE * samples
    assert wun_row["macs_per_second"] == TINY_WAVEUNET_MACS_PER_SAMPLE * sr
    # conv_in T x 4 x 5, film 3 x 4 once, conv_out T x 4
    assert pers_row["macs"] == samples * 4 * 5 + 3 * 4 + samples * 4
    assert pers_row["inputs"] == {"mix": [1, samples], "enroll_emb": [1, 3]}
    assert pers_row["onnx_worst_output"] in ("wav", "emb")
    # the log-mel front end was swapped for an exportable one, and the check still passed against torch
    assert cnn_row["onnx_rewritten"] == ["frontend.logmel.mel.spectrogram"]
    # reports: conditions, compatibility keys of make_results_cls, the Markdown table and the TSV
    assert report["seconds"] == report["duration_s"] == seconds and report["num_threads"] == 1
    assert report["sr"] == sr and report["onnx_rtol"] == 1e-4 and "not counted" in report["macs_not_counted"]
    assert all(r["latency_ms"] > 0 for r in report["models"])
    assert md.startswith("| model | parameters (M) | MMAC / s | RTF torch (1 thread) | ONNX max abs diff |")
    assert f"| {tmp_path / 'wun.pth'} | 0.000 | {TINY_WAVEUNET_MACS_PER_SAMPLE * sr / 1e6:.1f} |" in md
    assert "0.0001 x max |torch output|" in md
    assert tsv[0].split("\t")[:4] == ["model", "parameters", "macs_per_second", "macs"] and len(tsv) == 4
    assert tsv[1].split("\t")[3] == str(wun_row["macs"])


def test_onnx_export_of_two_inputs_runs_in_onnxruntime(tmp_path):
    """The export takes the inputs by name and gives the dict outputs by name."""
    import onnxruntime as ort

    from kdspeech.deploy.onnx_export import export_onnx

    model = PersonalEnhancer().eval()
    inputs = model.example_inputs(160)
    info = export_onnx(model, inputs, tmp_path / "m.onnx")
    assert info["inputs"] == ["mix", "enroll_emb"] and info["outputs"] == ["wav", "emb"]
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    wav, emb = session.run(["wav", "emb"], {k: v.numpy() for k, v in inputs.items()})
    with torch.no_grad():
        ref = model(**inputs)
    np.testing.assert_allclose(wav, ref["wav"].numpy(), atol=1e-6)
    np.testing.assert_allclose(emb, ref["emb"].numpy(), atol=1e-6)


def test_deploy_fails_the_rows_that_do_not_export_or_do_not_match(tmp_path):
    write_model(tmp_path / "diff.pth", "test_exports_differently", {})
    write_model(tmp_path / "crn.pth", "test_complex_stft", {})
    out = tmp_path / "deploy"
    with pytest.raises(KdError, match=r"deploy\.md: ONNX check failed for .*diff\.pth .*crn\.pth"):
        deploy.main(["--models", str(tmp_path / "diff.pth"), str(tmp_path / "crn.pth"), "--seconds", "0.1",
                     "--repeats", "1", "--onnx", "--out_dir", str(out)])
    report, md, _ = read_report(out)  # written before failing
    diff, crn = report["models"]
    assert diff["onnx_status"].startswith("FAIL: output 'output': max |onnx - torch| 1 > tolerance")
    assert diff["onnx_max_abs_diff"] == pytest.approx(1.0, abs=1e-6)
    assert crn["onnx_status"].startswith("FAIL: export: ") and crn.get("onnx_rtf") is None
    assert crn["rtf"] > 0 and crn["macs"] > 0  # the torch figures are still there
    assert md.count("FAIL") == 2


def test_deploy_arch_builds_registered_models_without_onnx(tmp_path):
    out = tmp_path / "deploy"
    deploy.main(["--arch", "waveunet", "--arch_conf", *(f"{k}={v}" for k, v in TINY_WAVEUNET.items()),
                 "--seconds", "0.25", "--sr", "8000", "--repeats", "2", "--out_dir", str(out)])
    report, md, _ = read_report(out)
    (row,) = report["models"]
    assert row["model"].startswith("waveunet (num_layers=1, ")
    assert row["parameters"] == count_parameters(build_model("waveunet", TINY_WAVEUNET))
    assert row["macs_per_second"] == TINY_WAVEUNET_MACS_PER_SAMPLE * 8000 and "onnx_status" not in row
    assert "ONNX" not in md.splitlines()[0] and report["onnx"] is False


def test_deploy_errors_name_the_problem(tmp_path):
    with pytest.raises(KdError, match="nothing to measure"):
        deploy.main(["--out_dir", str(tmp_path)])
    with pytest.raises(KdError, match="best.pth: model file not found"):
        deploy.main(["--models", str(tmp_path), "--out_dir", str(tmp_path / "d")])
    with pytest.raises(KdError, match="no option 'width'"):
        deploy.main(["--arch", "waveunet", "--arch_conf", "width=2", "--out_dir", str(tmp_path / "d")])


def test_tolerance_is_relative_to_each_output_scale():
    ref = {"wav": torch.tensor([1.0, -2.0]), "emb": torch.tensor([100.0, 0.0])}
    ok = compare_outputs(ref, {"wav": np.array([1.0, -2.0001]), "emb": np.array([100.008, 0.0])})
    # wav: 1e-4 <= 1e-4 x 2 (ratio 0.5); emb: 8e-3 <= 1e-4 x 100 = 1e-2 (ratio 0.8, reported)
    assert ok["passed"] and ok["worst_output"] == "emb"
    assert ok["max_abs_diff"] == pytest.approx(8e-3, rel=1e-4) and ok["tolerance"] == pytest.approx(1e-2)
    bad = compare_outputs(ref, {"wav": np.array([1.0, -2.001]), "emb": np.array([100.0, 0.0])})
    assert not bad["passed"] and "output 'wav'" in bad["reason"] and bad["tolerance"] == pytest.approx(2e-4)
    shape = compare_outputs(ref, {"wav": np.zeros(3), "emb": np.zeros(2)})
    assert not shape["passed"] and "shape" in shape["reason"]


@pytest.mark.parametrize("power,normalized", [(2.0, False), (1.0, False), (2.0, "window"), (1.5, "frame_length")])
def test_real_spectrogram_matches_torchaudio(power, normalized):
    spec = torchaudio.transforms.Spectrogram(n_fft=64, hop_length=16, power=power, normalized=normalized, pad=3)
    x = torch.randn(2, 3, 500)
    expected = spec(x)
    got = RealSpectrogram(spec)(x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5 * expected.abs().max())


def test_exportable_copy_leaves_the_model_alone():
    model = build_model("mobilenetv2", {"num_classes": 2, "width": 0.125})
    copy, rewritten = exportable_copy(model)
    assert rewritten == ["frontend.logmel.mel.spectrogram"]
    assert isinstance(copy.frontend.logmel.mel.spectrogram, RealSpectrogram)
    assert isinstance(model.frontend.logmel.mel.spectrogram, torchaudio.transforms.Spectrogram)
