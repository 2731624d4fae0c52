"""Gradient surgery (kdspeech.train.grad_surgery) on toy problems whose answer is known in closed form:
linear losses have constant gradients, so the combined gradient of the remedy (Hu et al. 2023) and of
PCGrad can be written down."""

import json
import math

import pytest
import torch

from enh_fixtures import make_mix_dir
from kdspeech.errors import KdError
from kdspeech.train.grad_surgery import GradSurgery, check_grad_surgery, remedy
from test_trainer import CONF, _free_port, _torchrun, run_train, weights

BOTH = "loss=[{name: mse_target}, {name: mse_target, weight: -1.0}]"   # labels mse_target, mse_target.2

S2 = math.sqrt(2.0)


def vec(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_conflicting_gradient_is_projected_then_set_at_the_acute_angle():
    g_main, g_aux = vec(1, 0), vec(-1, 1)          # cosine -1/sqrt2: conflicting
    pc, conflict, cosine, _ = remedy(g_aux, g_main, "pcgrad")
    assert conflict and cosine == pytest.approx(-1 / S2)
    assert torch.allclose(pc, vec(1, 1))            # aux -> (0, 1), its normal-plane part
    combined, _, _, rescaled = remedy(g_aux, g_main, "remedy")
    aux = combined - g_main
    assert torch.allclose(aux, vec(1 / S2, 1))       # (0, 1) + |(0,1)| |g_m| / |g_a| * unit(g_m)
    angle = math.atan2(float(aux[1]), float(aux[0]))
    assert angle == pytest.approx(math.atan(S2))     # tan(angle) = |g_a| / |g_m|: acute
    assert not rescaled


def test_agreeing_gradients_are_summed_and_a_dominant_auxiliary_one_rescaled():
    g_main = vec(1, 0)
    out, conflict, _, rescaled = remedy(vec(1, 1), g_main)
    assert not conflict and not rescaled and torch.allclose(out, vec(2, 1))
    out, conflict, _, rescaled = remedy(vec(10, 10), g_main, max_ratio=5)   # |g_a| / |g_m| = 14.1 > 5
    c = 1 / S2
    assert rescaled and not conflict
    assert torch.allclose(out, vec(10 * c + 1 / c, 10 * c))   # g_a * cos + g_m / cos
    out, _, _, rescaled = remedy(vec(10, 10), g_main, max_ratio=20)
    assert not rescaled and torch.allclose(out, vec(11, 10))
    out, _, _, _ = remedy(vec(3, -4), vec(0, 0))   # no main gradient: nothing to compare with
    assert torch.allclose(out, vec(3, -4))


def toy_terms():
    """Two shared 2-vectors w, v and a main-only u; L_main = w.(1,0) + v.(0,2) + u.(1,1), L_aux =
    w.(-1,1) + v.(0,-1)."""
    params = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)) for _ in range(3)]
    w, v, u = params

    def losses(terms):
        names = [label for label, _, _ in terms]
        if names == ["ctc"]:
            value = w @ vec(1, 0) + v @ vec(0, 2) + u @ vec(1, 1)
        else:
            value = w @ vec(-1, 1) + v @ vec(0, -1)
        return value, {names[0]: value.detach()}
    terms = [("ctc", 1.0, None), ("si_snr", 1.0, None)]
    return params, losses, terms


def test_surgery_per_tensor_accumulates_the_known_gradient():
    params, losses, terms = toy_terms()
    surgery = GradSurgery({"main": ["ctc"], "aux": ["si_snr"]}, terms)
    params[0].grad = vec(0.5, 0.5)   # an earlier micro-batch's gradient stays and is added to
    loss, parts = surgery.backward(params, losses, divide=1)
    assert list(parts) == ["ctc", "si_snr"] and float(loss) == 0.0
    assert torch.allclose(params[0].grad, vec(0.5 + 1 + 1 / S2, 0.5 + 1))   # as in the 2-D case above
    # v: aux (0,-1) is anti-parallel to main (0,2): its projection is 0, and 0 is pushed nowhere
    assert torch.allclose(params[1].grad, vec(0, 2))
    assert torch.allclose(params[2].grad, vec(1, 1))                        # main only: untouched
    stats = surgery.take_stats()
    assert stats["conflict_rate"] == 1.0 and stats["mean_cosine"] == pytest.approx((-1 / S2 - 1) / 2)
    assert surgery.take_stats() == {}


def test_surgery_on_all_shared_parameters_as_one_vector():
    params, losses, terms = toy_terms()
    surgery = GradSurgery({"main": "ctc", "aux": "si_snr", "per": "all", "method": "pcgrad"}, terms)
    surgery.backward(params, losses)
    g_m, g_a = vec(1, 0, 0, 2), vec(-1, 1, 0, -1)     # (w, v) concatenated
    expected = g_m + g_a - (g_a @ g_m) / (g_m @ g_m) * g_m
    assert torch.allclose(torch.cat([params[0].grad, params[1].grad]), expected)
    assert torch.allclose(params[2].grad, vec(1, 1))


def test_groups_must_split_the_terms():
    labels = ["ctc", "si_snr", "mse_target"]
    with pytest.raises(KdError, match=r"in neither group: \['mse_target'\]"):
        check_grad_surgery({"main": ["ctc"], "aux": ["si_snr"]}, labels)
    with pytest.raises(KdError, match=r"no such term: \['sisnr'\]"):
        check_grad_surgery({"main": ["ctc"], "aux": ["sisnr", "mse_target", "si_snr"]}, labels)
    with pytest.raises(KdError, match="in both main and aux"):
        check_grad_surgery({"main": ["ctc"], "aux": ["ctc"]}, labels)
    with pytest.raises(KdError, match="method must be one of remedy, pcgrad"):
        check_grad_surgery({"main": ["ctc"], "aux": ["si_snr"], "method": "gradvac"})
    with pytest.raises(KdError, match="has no option"):
        check_grad_surgery({"main": ["ctc"], "aux": ["si_snr"], "K": 5})
    assert check_grad_surgery(None) is None


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    return make_mix_dir(root / "train", n=4), make_mix_dir(root / "valid", n=2, seed=1)


@pytest.mark.parametrize("method", ["remedy", "pcgrad"])
def test_trainer_with_an_opposite_auxiliary_loss_trains_as_the_main_loss_alone(tmp_path, mix, method):
    """An auxiliary gradient that is exactly -g_main (the main term with weight -1): projected onto
    g_main's normal plane it is 0 (and 0 is pushed nowhere), so the update is the main loss's alone;
    summed without surgery, no update."""
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF.replace("max_epochs: 3", "max_epochs: 1"))
    run_train(conf, mix, tmp_path / "main", "loss=[{name: mse_target}]")
    run_train(conf, mix, tmp_path / "surgery", BOTH, "valid_loss=[{name: mse_target}]",
              f"trainer.grad_surgery={{main: [mse_target], aux: [mse_target.2], method: {method}}}")
    run_train(conf, mix, tmp_path / "sum", BOTH, "valid_loss=[{name: mse_target}]", "trainer.max_epochs=1")
    main, surgery, summed = (weights(tmp_path / d / "checkpoints/last.pth") for d in ("main", "surgery", "sum"))
    assert all(torch.allclose(main[k], surgery[k], atol=1e-7) for k in main)
    assert any(not torch.equal(main[k], summed[k]) for k in main)
    history = json.loads((tmp_path / "surgery/history.json").read_text())
    assert history[0]["grad_surgery"]["conflict_rate"] == 1.0
    assert history[0]["grad_surgery"]["mean_cosine"] == pytest.approx(-1.0)
    with pytest.raises(KdError, match=r"no such term: \['si_snr'\]; in neither group: \['mse_target.2'\]"):
        run_train(conf, mix, tmp_path / "bad", BOTH, "trainer.grad_surgery={main: [mse_target], aux: [si_snr]}")


def test_ddp_surgery_averages_the_ranks_combined_gradients(tmp_path, mix):
    """2 processes with batch 2, each applying the surgery to its own gradients, then averaging them
    once per update: with the opposite auxiliary loss, the main loss alone with batch 4 in one process."""
    import subprocess

    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF.replace("max_epochs: 3", "max_epochs: 2").replace("batch_size: 4", "batch_size: 2")
                    .replace("num_decimations: 3}", "num_decimations: 3, norm: none}"))
    cmd, env = _torchrun(conf, mix, tmp_path / "ddp", _free_port(), BOTH, "valid_loss=[{name: mse_target}]",
                         "trainer.grad_surgery={main: [mse_target], aux: [mse_target.2]}")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "ddp/env.json").read_text())["world_size"] == 2
    run_train(conf, mix, tmp_path / "one", "batch_size=4", "loss=[{name: mse_target}]")
    a, b = weights(tmp_path / "ddp/checkpoints/last.pth"), weights(tmp_path / "one/checkpoints/last.pth")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
