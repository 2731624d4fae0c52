"""trainer.precision (fp32 | bf16 | fp16 | auto) and trainer.compile: autocast on the CPU, losses and
complex parts in fp32, the fp16 grad scaler in the checkpoint, auto resolved once from the device and
the model class, errors before any data is read, compile's eager fallback."""

import json
import logging

import pytest
import torch
import torch.nn.functional as F
import yaml

from kdspeech.distill.losses import build_loss_terms, total_loss
from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.models.calling import input_names
from kdspeech.train import precision as precision_module
from kdspeech.train import trainer as trainer_module
from kdspeech.train import update as update_module
from kdspeech.train.checkpoint import load_training_state
from kdspeech.train.compiling import compile_model
from kdspeech.train.precision import autocast, fp32_losses
from test_trainer import CONF, run_train, weights, data  # noqa: F401 (fixture: 8 + 4 mixtures)


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "conf.yaml"
    path.write_text(CONF)
    return path


def history(path):
    return json.loads((path / "history.json").read_text())


def test_bf16_trains_on_the_cpu_and_resumes_exactly(tmp_path, conf, data):
    run_train(conf, data, tmp_path / "full", "trainer.precision=bf16")
    run_train(conf, data, tmp_path / "split", "trainer.precision=bf16", "trainer.max_epochs=2")
    run_train(conf, data, tmp_path / "split", "trainer.precision=bf16")
    a, b = weights(tmp_path / "full/checkpoints/last.pth"), weights(tmp_path / "split/checkpoints/last.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(v.dtype == torch.float32 for v in a.values() if v.is_floating_point())  # fp32 master weights
    full = history(tmp_path / "full")
    assert all(torch.isfinite(torch.tensor([h["train_loss"], h["valid_loss"]])).all() for h in full)
    run_train(conf, data, tmp_path / "fp32")   # bf16 is another run: not resumed from, not equal to fp32
    assert not all(torch.equal(a[k], v) for k, v in weights(tmp_path / "fp32/checkpoints/last.pth").items())


@pytest.mark.parametrize("value, message", [
    ("fp8", r"trainer\.precision must be one of fp32, bf16, fp16, auto, not 'fp8'"),
    ("fp16", r"trainer\.precision: fp16 needs a CUDA device .*allowed: fp32, bf16, fp16, auto"),
    ("true", r"trainer\.precision must be one of fp32, bf16, fp16, auto, not True"),
])
def test_unknown_precision_and_fp16_on_the_cpu_are_errors_before_data(tmp_path, conf, value, message):
    missing = tmp_path / "no_data"
    with pytest.raises(KdError, match=message):
        run_train(conf, (missing, missing), tmp_path / "e", f"trainer.precision={value}", "trainer.device=cpu")


def test_auto_precision_is_resolved_from_the_device_and_the_model_class(monkeypatch):
    from kdspeech.models import MODELS
    from kdspeech.train.precision import resolve_precision

    class Plain(torch.nn.Module):
        pass

    class Fast(torch.nn.Module):
        cpu_precision = "bf16"

    wrapped = torch.nn.Module()
    wrapped.module = Fast()        # as DistributedDataParallel holds it
    for native in (True, False):
        monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: native)
        assert resolve_precision("auto", "cpu", Fast())[0] == ("bf16" if native else "fp32")
        assert resolve_precision("auto", "cpu", wrapped)[0] == ("bf16" if native else "fp32")
        assert resolve_precision("auto", "cpu", Plain()) == ("fp32", "Plain declares cpu_precision fp32 "
                                                             "(measured: benchmarks/bench_precision.py)")
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: native)
        assert resolve_precision("auto", "cuda", Plain())[0] == ("bf16" if native else "fp32")
        for given in ("fp32", "bf16", "fp16"):   # a given precision is kept as it is
            assert resolve_precision(given, "cpu", Fast()) == (given, None)
    # the declared CPU preferences: bf16 where bench_precision measured it faster (0.47-0.86 of fp32)
    preferring = {name for name in MODELS.names() if getattr(MODELS.get(name), "cpu_precision", "fp32") == "bf16"}
    assert preferring == {"waveunet", "dccrn", "conformer_enh", "wavenet_denoise"}


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_written_resolved_into_the_config_and_the_run_key(tmp_path, conf, data, monkeypatch,
                                                                           caplog, native):
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: native)
    caplog.set_level(logging.INFO)
    run_train(conf, data, tmp_path / "auto", "trainer.precision=auto", "trainer.max_epochs=1")
    resolved = "bf16" if native else "fp32"
    saved = yaml.safe_load((tmp_path / "auto/config.yaml").read_text())
    assert saved["trainer"]["precision"] == resolved
    assert f"trainer.precision auto: {resolved} (WaveUNet " in caplog.text
    caplog.clear()   # the same run as one that names the precision: it resumes from auto's checkpoint
    run_train(conf, data, tmp_path / "auto", f"trainer.precision={resolved}", "trainer.max_epochs=2")
    assert "resumed after epoch 1" in caplog.text


def test_loss_terms_run_in_fp32_under_autocast():
    """The temperature softmax and KL of logit KD on bf16 logits: computed in fp32 from the same values."""
    terms = build_loss_terms([{"name": "kl_logits", "teacher": "t", "T": 4.0}])
    s = torch.randn(6, 10).bfloat16().requires_grad_()
    t = torch.randn(6, 10).bfloat16()
    with autocast(torch.device("cpu"), "bf16"):
        loss, parts = fp32_losses(total_loss, terms, {"logits": s}, {}, {"t": {"logits": t}})
    assert loss.dtype == torch.float32 and parts["kl_logits"].dtype == torch.float32
    ref = F.kl_div(F.log_softmax(s.float() / 4, -1), F.log_softmax(t.float() / 4, -1), log_target=True,
                   reduction="batchmean") * 16
    assert torch.equal(loss.detach(), ref.detach())
    loss.backward()
    assert s.grad.dtype == torch.bfloat16 and torch.isfinite(s.grad.float()).all()


@pytest.mark.parametrize("name, conf", [
    ("dccrn", {"channels": [8, 16], "lstm_units": 16, "lstm_layers": 1}),               # complex masks
    ("dccrn", {"channels": [8, 16], "lstm_units": 16, "lstm_layers": 1, "emb_dim": 8}),  # pDCCRN
    ("conformer_enh", {"dim": 16, "heads": 2, "layers": 1, "units": 32, "output": "mapping"}),
    ("pdfnet2", {"emb_dim": 8, "conv_ch": 8, "emb_hidden": 16, "df_hidden": 16}),
])
def test_spectral_models_train_under_bf16_with_stft_and_complex_parts_in_fp32(name, conf):
    """Every DCCRN config failed under bf16 ("Expected both inputs to be Half, Float or Double tensors
    but got BFloat16"): the STFT, iSTFT and complex masks now run in fp32 inside autocast."""
    torch.manual_seed(0)
    model = build_model(name, conf).train()
    inputs = {input_names(model)[0]: torch.randn(2, 4000) * 0.1}
    if conf.get("emb_dim"):
        inputs["enroll_emb"] = F.normalize(torch.randn(2, conf["emb_dim"]), dim=-1)
    with autocast(torch.device("cpu"), "bf16"):
        out = model(**inputs)
    wav = next(iter(out.values()))
    assert wav.dtype == torch.float32 and wav.shape[-1] == 4000
    wav.float().pow(2).mean().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_fp16_grad_scaler_state_is_checkpointed_restored_and_optional(tmp_path, conf, data, monkeypatch, caplog):
    """fp16 with its grad scaler, run on the CPU by lifting the CUDA-only check (CPU autocast has fp16):
    the scale is saved in last.pth, a resumed run ends where an uninterrupted one does, overflow skips
    are in the history, and a checkpoint without a scaler (an older one) still loads."""
    monkeypatch.setattr(trainer_module, "check_precision", lambda *args, **kwargs: None)
    from kdspeech.bin import train
    monkeypatch.setattr(train, "check_trainer_options", lambda *args, **kwargs: None)
    # A first scale of 2^24: the scaled fp16 gradients overflow, the scaler skips and halves it.
    monkeypatch.setattr(update_module, "make_scaler",
                        lambda device, precision: torch.amp.GradScaler("cpu", init_scale=2.0 ** 24))
    fp16 = ("trainer.precision=fp16", "trainer.device=cpu")
    caplog.set_level(logging.INFO)
    run_train(conf, data, tmp_path / "full", *fp16)
    full = history(tmp_path / "full")
    assert all("fp16_overflow_skips" in h and h["fp16_scale"] > 0 for h in full)
    assert sum(h["fp16_overflow_skips"] for h in full) >= 1 and full[-1]["fp16_scale"] < 2.0 ** 24
    assert "fp16 gradients overflowed at scale 1.67772e+07; update skipped" in caplog.text
    state = load_training_state(tmp_path / "full/checkpoints")
    assert state["scaler"]["scale"] == full[-1]["fp16_scale"]

    run_train(conf, data, tmp_path / "split", *fp16, "trainer.max_epochs=2")
    run_train(conf, data, tmp_path / "split", *fp16)
    a, b = weights(tmp_path / "full/checkpoints/last.pth"), weights(tmp_path / "split/checkpoints/last.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["fp16_scale"] for h in history(tmp_path / "split")] == [h["fp16_scale"] for h in full]

    last = tmp_path / "split/checkpoints/last.pth"   # an older checkpoint: no scaler entry
    old = torch.load(last, weights_only=False)
    del old["scaler"]
    torch.save(old, last)
    run_train(conf, data, tmp_path / "split", *fp16, "trainer.max_epochs=4")
    assert len(history(tmp_path / "split")) == 4


def test_compile_falls_back_to_eager_with_a_message(tmp_path, conf, data, monkeypatch, caplog):
    def broken(fn, **options):
        def call(*args, **kwargs):
            raise RuntimeError("backend compiler failed: no C++ compiler")
        return call
    monkeypatch.setattr(torch, "compile", broken)
    caplog.set_level(logging.INFO)
    run_train(conf, data, tmp_path / "compiled", "trainer.compile=true", "trainer.max_epochs=1")
    assert "trainer.compile: model waveunet does not compile" in caplog.text
    assert "no C++ compiler" in caplog.text and "it runs eagerly" in caplog.text
    run_train(conf, data, tmp_path / "eager", "trainer.max_epochs=1")
    a, b = weights(tmp_path / "compiled/best.pth"), weights(tmp_path / "eager/best.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(KdError, match="trainer.compile must be true or false"):
        run_train(conf, data, tmp_path / "e", "trainer.compile=maybe")


def test_compiled_model_keeps_its_signature_weights_and_errors():
    torch.manual_seed(0)
    model = build_model("waveunet", {"num_layers": 2, "base_channels": 4, "growth": 4, "num_decimations": 2})
    x = torch.randn(2, 1024)
    eager = model(x)
    keys = list(model.state_dict())
    compile_model(model, "waveunet", backend="eager")   # dynamo only: quick, no C++ compiler needed
    assert torch.allclose(model(x), eager, atol=1e-6)
    assert input_names(model) == ["wav"]   # the calling convention reads forward's signature
    assert list(model.state_dict()) == keys
    with pytest.raises(Exception, match="expected|shape|size|dimension"):
        model(torch.randn(2, 3, 4, 5))   # the model's own error, not a compile fallback
