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
    assert out["out"][:, 0].tolist() == [1, 3, 2, 1, 3]
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
    assert member.seen == 2 and out["out"].shape == (2, 3)


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
    loss, parts = total_loss(terms, {"out": s}, {"target": y}, {"snr": {"out": t}})
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
    loss, _ = total_loss(terms, {"logits": s}, {"target": label}, {"t": {"logits": t}})
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


def test_terms_read_the_outputs_they_name():
    terms = build_loss_terms([{"name": "mse_teacher", "teacher": "t", "student_key": "emb", "teacher_key": "e2"}])
    out = {"wav": torch.zeros(1, 3), "emb": torch.tensor([[1.0, 3.0]])}
    teacher = {"e1": torch.zeros(1, 2), "e2": torch.tensor([[1.0, 1.0]])}
    loss, _ = total_loss(terms, out, {}, {"t": teacher})
    assert loss.item() == pytest.approx(0.5 * (0 + 4) / 2)
    terms = build_loss_terms([{"name": "mse_teacher", "teacher": "t", "student_key": "nope"}])
    with pytest.raises(KdError, match="student output 'nope' does not exist"):
        total_loss(terms, out, {}, {"t": teacher})


def test_embedding_regressions_match_hand_computation():
    s = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    t = torch.tensor([[4.0, 3.0], [0.0, 2.0]])
    cos = build_loss_terms([{"name": "cos_emb", "teacher": "t"}])
    loss, _ = total_loss(cos, {"emb": s}, {}, {"t": {"emb": t}})
    assert loss.item() == pytest.approx(((1 - 24 / 25) + (1 - 0)) / 2)
    mse = build_loss_terms([{"name": "mse_emb", "teacher": "t"}])
    loss, _ = total_loss(mse, {"emb": s}, {}, {"t": {"emb": t}})
    assert loss.item() == pytest.approx((1 + 1 + 1 + 4) / 4)
    unit = build_loss_terms([{"name": "mse_emb", "teacher": "t", "normalize": True}])
    loss, _ = total_loss(unit, {"emb": s}, {}, {"t": {"emb": t}})
    a = [(0.6 - 0.8) ** 2, (0.8 - 0.6) ** 2, 1.0, 1.0]
    assert loss.item() == pytest.approx(sum(a) / 4, rel=1e-6)


def test_contrastive_loss_matches_hand_computation_and_learns_its_temperature():
    (label, weight, term), = build_loss_terms([{"name": "contrastive", "teacher": "t", "temperature": 0.5}])
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    t = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, 3.0]])
    value = term({"emb": s}, {}, {"t": {"emb": t}})
    sn = [[x / math.hypot(*v) for x in v] for v in s.tolist()]
    tn = [[x / math.hypot(*v) for x in v] for v in t.tolist()]
    logit = [[2.0 * sum(a * b for a, b in zip(si, tj)) for tj in tn] for si in sn]

    def ce(rows):
        return sum(-r[i] + math.log(sum(math.exp(x) for x in r)) for i, r in enumerate(rows)) / len(rows)
    cols = [[logit[i][j] for i in range(3)] for j in range(3)]
    assert value.item() == pytest.approx((ce(logit) + ce(cols)) / 2, rel=1e-5)
    value.backward()
    assert term.log_scale.grad is not None and term.log_scale.grad.item() != 0
    assert list(dict(term.named_parameters())) == ["log_scale"]


def test_projection_maps_student_size_to_teacher_size():
    (_, _, term), = build_loss_terms([{"name": "cos_emb", "teacher": "t", "proj": [3, 2]}])
    value = term({"emb": torch.randn(4, 3)}, {}, {"t": {"emb": torch.randn(4, 2)}})
    value.backward()
    assert term.proj.weight.grad.shape == (2, 3)


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(2, 3)
        self.second = nn.Linear(3, 1)

    def forward(self, x):
        return self.second(torch.relu(self.first(x)))


def test_hidden_taps_expose_intermediate_outputs():
    from kdspeech.models.calling import call_model
    net = TwoLayer()
    x = torch.randn(4, 2)
    outs = call_model(net, {"input": x}, ["hidden.first"])
    assert torch.allclose(outs["hidden.first"], net.first(x))
    assert torch.allclose(outs["out"], net(x))
    with pytest.raises(KdError, match="no sub-module 'third'"):
        call_model(net, {"input": x}, ["hidden.third"])


def test_inputs_are_filled_by_name():
    from kdspeech.models.calling import call_model

    class Personal(nn.Module):
        def forward(self, mix, enroll_emb, gain=2.0):
            return {"wav": mix * enroll_emb.sum(-1, keepdim=True) * gain}
    batch = {"input": torch.ones(2, 3), "enroll_emb": torch.tensor([[1.0, 1.0], [0.0, 0.5]])}
    assert call_model(Personal(), batch)["wav"][:, 0].tolist() == [4.0, 1.0]
    with pytest.raises(KdError, match="needs 'enroll_emb'"):
        call_model(Personal(), {"input": torch.ones(2, 3)})


def test_network_applied_to_the_student_passes_gradients_but_stays_frozen():
    from kdspeech.distill.teachers import TeacherSet
    frozen = TeacherSet([Scale(3)], input="wav", apply_to="student", name="asr")
    student_wav = torch.ones(2, 4, requires_grad=True)
    out = frozen({"wav": student_wav})
    out["out"].sum().backward()
    assert student_wav.grad is not None and torch.all(student_wav.grad == 3)
    assert all(p.grad is None for p in frozen.parameters())


def test_pooled_feature_distillation_from_a_tapped_layer():
    from kdspeech.models.calling import call_model
    net = nn.Conv1d(2, 3, 1)
    x = torch.randn(4, 2, 5)
    outs = call_model(net, {"input": x}, [])
    (_, _, term), = build_loss_terms([{"name": "cos_emb", "teacher": "t", "pool": "mean"}])
    t = torch.randn(4, 3)
    value = term(outs, {}, {"t": {"out": t}})
    hand = (1 - torch.nn.functional.cosine_similarity(net(x).mean(-1), t, dim=-1)).mean()
    assert value.item() == pytest.approx(hand.item(), rel=1e-6)
    with pytest.raises(KdError, match="pool must be mean"):
        build_loss_terms([{"name": "cos_emb", "teacher": "t", "pool": "max"}])
