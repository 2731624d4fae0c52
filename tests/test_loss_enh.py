"""The enhancement-for-ASR loss terms against hand computations."""

import math

import pytest
import torch
from torch import nn

from kdspeech.distill.losses import build_loss_terms, total_loss
from kdspeech.distill.teachers import TeacherSet
from kdspeech.errors import KdError


def term(spec):
    return build_loss_terms([spec])[0][2]


def test_si_snr_hand_computation():
    # target t, estimate 2 t + n with n orthogonal to t and zero mean:
    # SI-SNR = 10 log10(||2t||^2 / ||n||^2) = 10 log10(4 * 4 / 2) = 10 log10 8
    t = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    n = torch.tensor([[1.0, 0.0, -1.0, 0.0]])
    loss = term({"name": "si_snr"})({"wav": 2 * t + n}, {"target": t}, {})
    assert loss.item() == pytest.approx(-10 * math.log10(8), abs=1e-5)


def test_si_snr_teacher_reads_the_teacher_not_the_target():
    t = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    n = torch.tensor([[1.0, 0.0, -1.0, 0.0]])
    spec = {"name": "si_snr_teacher", "teacher": "snr"}
    loss = term(spec)({"wav": 2 * t + n}, {"target": n}, {"snr": {"wav": t}})
    assert loss.item() == pytest.approx(-10 * math.log10(8), abs=1e-5)
    with pytest.raises(KdError, match="needs 'teacher"):
        term({"name": "si_snr_teacher"})


def test_si_snr_zero_mean_and_batch_mean():
    t = torch.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, -1.0]])
    est = t + 5.0  # an offset only: perfect after mean removal
    with_mean = term({"name": "si_snr", "zero_mean": False})({"wav": est}, {"target": t}, {})
    without = term({"name": "si_snr"})({"wav": est}, {"target": t}, {})
    assert without.item() < -70  # about -10 log10(1/eps)
    # without mean removal, example 2: est = t + 5 with <est, t> = 2, ||t||^2 = 2 -> s_t = t,
    # noise = 5 (3 samples, 75), SI-SNR = 10 log10(2 / 75); example 1: est = (6, 7, 8),
    # <est, t> = 44, ||t||^2 = 14
    s1 = 44 / 14 * t[0]
    e1 = est[0] - s1
    snr1 = 10 * math.log10(s1.pow(2).sum().item() / e1.pow(2).sum().item())
    snr2 = 10 * math.log10(2 / 75)
    assert with_mean.item() == pytest.approx(-(snr1 + snr2) / 2, abs=1e-4)


def test_frame_kd_hand_computation():
    s = torch.zeros(1, 2, 2, 2)
    t = torch.zeros(1, 2, 2, 2)
    s[0, 0, 0, 0], s[0, 1, 0, 0] = 1.0, 2.0  # bin (0, 0): 1 + 2i against 0: |d|^2 = 5
    t[0, 0, 1, 1] = 3.0  # bin (1, 1): 0 against 3: |d|^2 = 9
    loss = term({"name": "frame_kd", "teacher": "big"})({"spec": s, "wav": None}, {}, {"big": {"spec": t}})
    assert loss.item() == pytest.approx((5 + 9) / 4)  # over F x N = 4 bins, one example
    with pytest.raises(KdError, match="differ"):
        term({"name": "frame_kd", "teacher": "big"})({"spec": s}, {}, {"big": {"spec": t[..., :1]}})


def test_seq_kd_hand_computation():
    # student |S|^2 over 2 bins = (1, 3), teacher = (2, 2); T = 1: P_s = (1/4, 3/4), P_t = (1/2, 1/2)
    s = torch.zeros(1, 2, 2, 1)
    t = torch.zeros(1, 2, 2, 1)
    s[0, 0, 0, 0], s[0, 0, 1, 0] = 1.0, math.sqrt(3)
    t[0, 0, 0, 0], t[0, 1, 1, 0] = math.sqrt(2), math.sqrt(2)  # power 2 from the real, then imaginary part
    kl = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    loss = term({"name": "seq_kd", "teacher": "big", "eps": 0.0})({"spec": s}, {}, {"big": {"spec": t}})
    assert loss.item() == pytest.approx(kl, abs=1e-6)
    # T = 2: distributions over |S| (sqrt of the power): P_s = (1, sqrt 3)/(1 + sqrt 3), P_t = (1/2, 1/2)
    ps = [1 / (1 + math.sqrt(3)), math.sqrt(3) / (1 + math.sqrt(3))]
    kl2 = sum(0.5 * math.log(0.5 / p) for p in ps)
    loss2 = term({"name": "seq_kd", "teacher": "big", "eps": 0.0, "T": 2.0})({"spec": s}, {},
                                                                             {"big": {"spec": t}})
    assert loss2.item() == pytest.approx(4 * kl2, abs=1e-6)


def test_seq_kd_is_per_utterance_and_zero_for_scaled_copies():
    spec = torch.randn(3, 2, 5, 7)
    # a louder copy has the same distribution over bins (eps aside)
    loss = term({"name": "seq_kd", "teacher": "big", "eps": 0.0})({"spec": 3 * spec}, {}, {"big": {"spec": spec}})
    assert loss.item() == pytest.approx(0.0, abs=1e-5)


class FramePosteriors(nn.Module):
    """A tiny frozen 'acoustic model': frames of 4 samples -> 3 class logits."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 3)

    def forward(self, wav):
        return {"logits": self.proj(wav.reshape(wav.shape[0], -1, 4))}


def test_posterior_kd_through_apply_to_student_sets():
    torch.manual_seed(0)
    net = FramePosteriors()
    asr = TeacherSet([net], input="wav", apply_to="student", name="asr")
    ref = TeacherSet([net], input="target", name="asr_ref")
    enhanced = torch.randn(2, 8, requires_grad=True)
    clean = torch.randn(2, 8)
    batch = {"input": clean, "target": clean}
    out = {"wav": enhanced}
    out.update({f"asr.{k}": v for k, v in asr(out).items()})
    teacher_outs = {"asr_ref": ref(batch)}
    terms = build_loss_terms([{"name": "posterior_kd", "teacher": "asr_ref", "student_key": "asr.logits",
                               "teacher_key": "logits"}])
    loss, parts = total_loss(terms, out, batch, teacher_outs)
    # by hand: per frame KL(softmax(W c + b) || softmax(W e + b)), mean over 2 x 2 frames
    w, b = net.proj.weight.detach(), net.proj.bias.detach()
    total = 0.0
    for i in range(2):
        for f in range(2):
            pt = torch.softmax(w @ clean[i, 4 * f:4 * f + 4] + b, 0)
            ps = torch.softmax(w @ enhanced[i, 4 * f:4 * f + 4].detach() + b, 0)
            total += float((pt * (pt / ps).log()).sum())
    assert loss.item() == pytest.approx(total / 4, abs=1e-6)
    loss.backward()
    assert enhanced.grad is not None and enhanced.grad.abs().sum() > 0  # through the frozen network
    assert net.proj.weight.grad is None  # which stays frozen
    out_same = {"wav": clean, **{f"asr.{k}": v for k, v in asr({"wav": clean}).items()}}
    assert total_loss(terms, out_same, batch, teacher_outs)[0].item() == pytest.approx(0.0, abs=1e-6)


def test_posterior_kd_needs_a_student_key():
    with pytest.raises(KdError, match="student_key"):
        build_loss_terms([{"name": "posterior_kd", "teacher": "asr_ref"}])


def test_paper_ablation_combination_builds():
    terms = build_loss_terms([{"name": "si_snr"}, {"name": "frame_kd", "weight": 0.5, "teacher": "t"},
                              {"name": "seq_kd", "weight": 0.1, "teacher": "t", "T": 2.0}])
    assert [label for label, _, _ in terms] == ["si_snr", "frame_kd", "seq_kd"]
    wav, spec = torch.randn(2, 64), torch.randn(2, 2, 5, 4)
    total, parts = total_loss(terms, {"wav": wav, "spec": spec}, {"target": wav},
                              {"t": {"wav": wav, "spec": spec}})
    assert parts["frame_kd"].item() == 0 and abs(parts["seq_kd"].item()) < 1e-6
    assert total.item() == pytest.approx(parts["si_snr"].item(), abs=1e-5)
