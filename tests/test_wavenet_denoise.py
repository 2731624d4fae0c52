"""wavenet_denoise (Rethage et al. 2018 baseline of Hao et al.) and the l1_target loss: size, shapes,
a non-causal receptive field of exactly the computed width, gradients, the loss by hand."""

import pytest
import torch

from kdspeech.distill.losses import build_loss_terms, total_loss
from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters

SMALL = {"stacks": 2, "max_dilation_exp": 3, "res_channels": 4, "skip_channels": 5,
         "final_channels": [6, 3]}


def test_paper_size_parameters_and_receptive_field():
    model = build_model("wavenet_denoise", {})       # built only: its forward is GPU-sized
    assert len(model.blocks) == 30 and model.dilations[:10] == [2 ** i for i in range(10)]
    # residual stacks: 3 x 2 x (1 + 2 + ... + 512) + 1 = 6139 (the authors' count), plus 2 for each of
    # the initial and the two final 3-tap convolutions
    assert model.receptive_field == 6139 + 6 and model.margin == 3072
    per_block = 3 * 128 * 256 + (128 * 128 + 128) + (128 * 128 + 128)
    final = 3 * 128 * 2048 + 3 * 2048 * 256 + 256 + 1
    expected = 3 * 128 + 30 * per_block - (128 * 128 + 128) + final   # the last block has no residual
    assert count_parameters(model) == expected == 6283265


def test_output_has_the_input_shape():
    model = build_model("wavenet_denoise", SMALL)
    assert model(torch.randn(3, 500)).shape == (3, 500)
    assert model(torch.randn(2, 1, 123)).shape == (2, 1, 123)


def test_a_change_at_t_moves_exactly_the_outputs_within_half_the_receptive_field():
    torch.manual_seed(0)
    model = build_model("wavenet_denoise", SMALL).double()
    # 1 + 2 (initial) + 2 x 2 x (1+2+4+8) (stacks) + 2 x 2 (final) = 67 samples, 33 on each side
    assert model.receptive_field == 67 and model.margin == 33
    # The ReLUs are made identities so that no inactive unit hides a dependence: the field is structural.
    model.final[0] = model.final[2] = torch.nn.Identity()
    x = torch.randn(1, 400, dtype=torch.float64)
    t = 200
    bumped = x.clone()
    bumped[0, t] += 1.0
    with torch.no_grad():
        changed = (model(bumped) - model(x)).abs()[0] > 1e-12
    idx = changed.nonzero().flatten()
    assert idx.min().item() == t - 33 and idx.max().item() == t + 33      # both sides: non-causal
    assert changed[t - 33:t + 34].all()


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = build_model("wavenet_denoise", SMALL)
    model(torch.randn(2, 200)).pow(2).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_l1_target_by_hand_with_and_without_margin():
    out = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    target = torch.tensor([[0.0, 2.0, 1.0, 4.0, 9.0, 0.0]])
    plain = build_loss_terms([{"name": "l1_target"}])
    assert total_loss(plain, out, {"target": target}, {})[0].item() == pytest.approx((1 + 0 + 2 + 0 + 4 + 6) / 6)
    trimmed = build_loss_terms([{"name": "l1_target", "margin": 2}])
    assert total_loss(trimmed, out, {"target": target}, {})[0].item() == pytest.approx((2 + 0) / 2)
    with pytest.raises(KdError, match="leaves nothing"):
        total_loss(build_loss_terms([{"name": "l1_target", "margin": 3}]), out, {"target": target}, {})


def test_l1_target_trains_the_model():
    torch.manual_seed(0)
    model = build_model("wavenet_denoise", SMALL)
    terms = build_loss_terms([{"name": "l1_target", "margin": model.margin}])
    batch = {"input": torch.randn(2, 300), "target": torch.randn(2, 300)}
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        loss, _ = total_loss(terms, model(batch["input"]), batch, {})
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
