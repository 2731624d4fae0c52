"""Chunked contrastive KD and AAM-softmax against hand computations (plain Python math)."""

import math

import pytest
import torch

from kdspeech.distill.losses import build_loss_terms, total_loss
from kdspeech.errors import KdError

# Teacher embeddings E_i (i = 0, 1, 2) and student chunk embeddings M_j,t (j = 0, 1, 2; t = 0, 1), 2-d.
E = [[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]
M = [[[2.0, 0.0], [1.0, 1.0]],
     [[0.0, 1.0], [-1.0, 1.0]],
     [[1.0, 2.0], [2.0, 1.0]]]


def _cos(a, b):
    return (a[0] * b[0] + a[1] * b[1]) / (math.hypot(*a) * math.hypot(*b))


def _hand(tau):
    """S, the loss and dL/dtau by hand (tau multiplies S)."""
    n = len(E)
    S = [[sum(_cos(E[i], m) for m in M[j]) / len(M[j]) for j in range(n)] for i in range(n)]
    loss, grad = 0.0, 0.0
    for axis in (0, 1):
        for i in range(n):
            row = [S[i][j] if axis == 0 else S[j][i] for j in range(n)]
            z = [math.exp(tau * s) for s in row]
            p = [v / sum(z) for v in z]
            loss += 0.5 / n * -math.log(p[i])
            grad += 0.5 / n * (sum(pk * sk for pk, sk in zip(p, row)) - row[i])
    return S, loss, grad


def _term(**options):
    (_, _, term), = build_loss_terms([{"name": "contrastive_chunks", "teacher": "big", **options}])
    return term


def test_similarity_loss_and_temperature_gradient_match_hand_computation():
    term = _term(temperature=0.5)
    tau = 2.0
    S, loss, grad_tau = _hand(tau)
    # a few of the hand values, in closed form, to pin _hand itself: S_00 = (1 + 1/sqrt2) / 2
    assert S[0][0] == pytest.approx((1 + 1 / math.sqrt(2)) / 2)
    assert S[1][1] == pytest.approx((1 + 1 / math.sqrt(2)) / 2)
    assert S[0][1] == pytest.approx((0 - 1 / math.sqrt(2)) / 2)

    chunks = torch.tensor(M, requires_grad=True)
    value = term({"emb_chunks": chunks}, {}, {"big": {"emb": torch.tensor(E)}})
    assert float(value.detach()) == pytest.approx(loss, rel=1e-6)
    value.backward()
    # log_tau is the parameter: dL/dlog_tau = tau * dL/dtau
    assert float(term.log_scale.grad) == pytest.approx(tau * grad_tau, rel=1e-5)
    assert chunks.grad is not None and torch.isfinite(chunks.grad).all()


def test_plain_embedding_is_one_chunk_and_matches_clip_contrastive():
    """With one chunk per clip the term is the existing CLIP-style 'contrastive' (same temperature)."""
    torch.manual_seed(0)
    s, t = torch.randn(4, 8), torch.randn(4, 8)
    (_, _, clip), = build_loss_terms([{"name": "contrastive", "teacher": "big", "student_key": "emb"}])
    mine = _term(student_key="emb")
    with torch.no_grad():
        a = clip({"emb": s}, {}, {"big": {"emb": t}})
        b = mine({"emb": s}, {}, {"big": {"emb": t}})
        c = mine({"emb": s[:, None, :].repeat(1, 3, 1)}, {}, {"big": {"emb": t}})
    assert float(a) == pytest.approx(float(b), rel=1e-6)
    assert float(b) == pytest.approx(float(c), rel=1e-6)


def test_temperature_cap_and_fixed_temperature():
    term = _term(temperature=0.001, max_scale=10.0, learn_temperature=False)
    assert not term.log_scale.requires_grad
    _, loss, _ = _hand(10.0)
    value = term({"emb_chunks": torch.tensor(M)}, {}, {"big": {"emb": torch.tensor(E)}})
    assert float(value.detach()) == pytest.approx(loss, rel=1e-6)


def test_mask_same_speaker_removes_other_clips_of_a_speaker_from_each_softmax():
    term = _term(temperature=1.0, mask_same_speaker=True)
    batch = {"target": torch.tensor([7, 7, 3])}
    value = term({"emb_chunks": torch.tensor(M)}, batch, {"big": {"emb": torch.tensor(E)}})
    S, _, _ = _hand(1.0)
    allowed = [[0, 2], [1, 2], [0, 1, 2]]          # clip 0 and 1 share speaker 7
    loss = 0.0
    for i in range(3):
        rows = [S[i][j] for j in allowed[i]]
        cols = [S[j][i] for j in allowed[i]]
        loss += 0.5 / 3 * (math.log(sum(math.exp(v) for v in rows)) - S[i][i])
        loss += 0.5 / 3 * (math.log(sum(math.exp(v) for v in cols)) - S[i][i])
    assert float(value.detach()) == pytest.approx(loss, rel=1e-6)


def test_projection_maps_student_size_to_teacher_size():
    term = _term(proj=[3, 2])
    chunks = torch.randn(3, 5, 3)
    value = term({"emb_chunks": chunks}, {}, {"big": {"emb": torch.tensor(E)}})
    value.backward()
    assert term.proj.weight.grad is not None


def test_bad_shapes_and_batches_are_errors():
    term = _term()
    with pytest.raises(KdError, match="proj"):
        term({"emb_chunks": torch.randn(3, 5, 4)}, {}, {"big": {"emb": torch.tensor(E)}})
    with pytest.raises(KdError, match="at least 2"):
        term({"emb_chunks": torch.randn(1, 5, 2)}, {}, {"big": {"emb": torch.randn(1, 2)}})
    with pytest.raises(KdError, match="emb_chunks"):
        term({"emb": torch.randn(3, 2)}, {}, {"big": {"emb": torch.tensor(E)}})
    with pytest.raises(KdError, match="needs 'teacher"):
        build_loss_terms([{"name": "contrastive_chunks"}])


def test_aam_softmax_matches_hand_arcface():
    (_, _, term), = build_loss_terms([{"name": "aam_softmax", "num_classes": 3, "emb_dim": 2,
                                       "margin": 0.3, "scale": 10.0}])
    with torch.no_grad():
        term.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    emb = torch.tensor([[1.0, 1.0], [-1.0, -0.2]])
    target = torch.tensor([0, 0])
    value, _ = total_loss([("aam", 1.0, term)], {"emb": emb}, {"target": target}, {})
    m, s = 0.3, 10.0
    expected = 0.0
    for e, y in zip(emb.tolist(), target.tolist()):
        thetas = [math.acos(_cos(e, w)) for w in ([1, 0], [0, 1], [-1, 0])]
        logits = [s * math.cos(th) for th in thetas]
        th = thetas[y]
        # theta + m past pi (second example: theta = 2.94 rad): the linear fallback
        logits[y] = s * (math.cos(th + m) if th + m < math.pi else math.cos(th) - math.sin(math.pi - m) * m)
        expected += (math.log(sum(math.exp(v) for v in logits)) - logits[y]) / 2
    assert math.acos(_cos(emb[1].tolist(), [1, 0])) + m > math.pi
    assert float(value.detach()) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(KdError, match="num_classes"):
        term({"emb": emb}, {"target": torch.tensor([0, 5])}, {})
