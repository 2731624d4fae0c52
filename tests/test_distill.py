import math

import pytest
import torch
from torch import nn

from kdspeech.distill.losses import build_loss_terms, total_loss
from kdspeech.distill.teachers import TeacherSet
from kdspeech.errors import KdError


class Scale(nn.Module):
    """A fake teacher: multiplies its input by a constant and counts the examples it sees."""

    def __init__(self, k):
        super().__init__()
        self.k = k
        self.w = nn.Parameter(torch.ones(()))
        self.seen = 0

    def forward(self, x):
        self.seen += len(x)
        return x * self.k * self.w


def test_snr_routing_at_range_edges():
    teachers = TeacherSet([Scale(1), Scale(2), Scale(3), Scale(4)], route_by="snr", bounds=[-10, 0, 10])
    # The paper's teacher sets: {-20..-11}, {-10..1}, {0..9}, {10..20}; the student's SNRs go to:
    assert teachers.route([-20, -11, -10, -0.5, 0, 1, 9.99, 10, 20]) == [0, 0, 1, 1, 2, 2, 2, 3, 3]


def test_routed_teachers_run_once_per_batch_on_their_examples_only():
    members = [Scale(1), Scale(2), Scale(3)]
    teachers = TeacherSet(members, route_by="snr", bounds=[0, 10])
    x = torch.ones(5, 4)
    batch = {"input": x, "snr": torch.tensor([-5.0, 15.0, 0.0, -3.0, 12.0])}
    out = teachers(batch)
    assert out[:, 0].tolist() == [1, 3, 2, 1, 3]
    assert [m.seen for m in members] == [2, 1, 2]
    assert all(not p.requires_grad for p in teachers.parameters())
    teachers.train()
    assert not any(m.training for m in members)  # teachers stay frozen in eval mode


def test_teacher_cache_reuses_outputs():
    member = Scale(2)
    teachers = TeacherSet([member], cache=True)
    batch = {"input": torch.ones(2, 3), "key": ["a", "b"]}
    teachers(batch)
    out = teachers({"input": torch.ones(2, 3), "key": ["b", "a"]})
    assert member.seen == 2 and out.shape == (2, 3)


def test_teacher_set_needs_matching_bounds():
    with pytest.raises(KdError, match="need 2 bounds"):
        TeacherSet([Scale(1), Scale(2), Scale(3)], route_by="snr", bounds=[0])


def test_snr_kd_loss_matches_hand_computation():
    # L = a/2 ||s - t||^2 + (1-a)/2 ||s - y||^2 (averaged over samples), a = 0.3
    terms = build_loss_terms([{"name": "mse_teacher", "weight": 0.3, "teacher": "snr"},
                              {"name": "mse_target", "weight": 0.7}])
    s = torch.tensor([[1.0, 2.0]])
    t = torch.tensor([[0.0, 0.0]])
    y = torch.tensor([[1.0, 4.0]])
    loss, parts = total_loss(terms, s, {"target": y}, {"snr": t})
    hand = 0.3 / 2 * (1 + 4) / 2 + 0.7 / 2 * (0 + 4) / 2
    assert loss.item() == pytest.approx(hand)
    assert parts["mse_teacher"].item() == pytest.approx(1.25)


def test_logit_kd_matches_hand_computation():
    T, alpha = 2.0, 0.25
    terms = build_loss_terms([{"name": "ce", "weight": alpha},
                              {"name": "kl_logits", "weight": 1 - alpha, "teacher": "t", "T": T}])
    s = torch.tensor([[1.0, 0.0, -1.0]])
    t = torch.tensor([[0.0, 2.0, 0.0]])
    label = torch.tensor([1])
    loss, _ = total_loss(terms, s, {"target": label}, {"t": t})
    ps = torch.softmax(s / T, -1)[0].tolist()
    pt = torch.softmax(t / T, -1)[0].tolist()
    kl = sum(q * math.log(q / p) for p, q in zip(ps, pt))
    ce = -math.log(torch.softmax(s, -1)[0, 1].item())
    assert loss.item() == pytest.approx(alpha * ce + (1 - alpha) * T * T * kl, rel=1e-5)


def test_loss_config_errors():
    with pytest.raises(KdError, match="needs 'teacher"):
        build_loss_terms([{"name": "mse_teacher"}])
    with pytest.raises(KdError, match="unknown loss"):
        build_loss_terms([{"name": "mse_tgt"}])
    with pytest.raises(KdError, match="no option 'alpha'"):
        build_loss_terms([{"name": "mse_target", "alpha": 1}])
