"""Padded batches in the loss terms (kdspeech.distill.padding): a batch of two utterances of different
lengths gives the mean of the losses of each utterance alone, for every family of terms that compares
signals sample by sample or frame by frame; pooled embeddings leave the padded frames out; a batch
without padding gives the numbers it always gave, bit for bit."""

import pytest
import torch

from kdspeech.distill.losses import build_loss_terms, total_loss
from kdspeech.distill.padding import valid_length

T, HOP = 1600, 160          # padded samples; frames of a centred STFT with this hop: 1 + T // HOP
LENGTHS = [960, 1600]       # multiples of the hop: the frame counts of the utterances alone are exact
F_BINS, CLASSES = 5, 7


def frames(n):
    return 1 + n // HOP


def _utterances(seed=0):
    """Per utterance: input, target, student/teacher waveforms, spectra [2, F, N], masks [F', N] (the
    psa loss's 512-point STFT), frame logits [N, C], hidden features [C, N]."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in LENGTHS:
        r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
        target = 0.3 * torch.sin(torch.arange(n) * 0.07)
        out.append({"input": target + 0.1 * r(n), "target": target, "wav": r(n) * 0.3 + target,
                    "teacher_wav": r(n) * 0.1 + target, "spec": r(2, F_BINS, frames(n)),
                    "teacher_spec": r(2, F_BINS, frames(n)), "mask": torch.rand(257, frames(n), generator=g),
                    "logits": r(frames(n), CLASSES), "teacher_logits": r(frames(n), CLASSES),
                    "hidden": r(4, frames(n)), "teacher_hidden": r(4, frames(n))})
    return out


def _pad(values, junk=True, g=None):
    """Stack along a new batch axis, padding the last axis with random junk (a model's output over the
    padding) or zeros; frame logits [N, C] are padded along the frames."""
    longest = max(v.shape[-1] for v in values)
    padded = []
    for v in values:
        extra = list(v.shape[:-1]) + [longest - v.shape[-1]]
        padded.append(torch.cat([v, 2 + 10 * torch.randn(extra, generator=g) if junk else torch.zeros(extra)], -1))
    return torch.stack(padded)


def _batch(utts, lengths=True, seed=0):
    g = torch.Generator().manual_seed(seed)

    def stack(key, junk=True):
        if key.endswith("logits"):    # [N, C]: pad the frames
            return _pad([u[key].T for u in utts], junk, g).transpose(1, 2)
        return _pad([u[key] for u in utts], junk, g)

    out = {"wav": stack("wav"), "spec": stack("spec"), "mask": stack("mask"), "logits": stack("logits"),
           "hidden.enc": stack("hidden"), "asr.logits": stack("logits")}
    teacher = {"t": {"wav": stack("teacher_wav"), "spec": stack("teacher_spec"), "logits": stack("teacher_logits"),
                     "hidden.enc": stack("teacher_hidden")}}
    batch = {"input": stack("input", False), "target": stack("target", False), "key": [f"u{i}" for i in range(len(utts))]}
    if lengths:
        batch["input_len"] = torch.tensor([u["input"].shape[-1] for u in utts])
    return out, batch, teacher


TERMS = {   # each family of terms computed per sample or frame
    "waveform": [{"name": "mse_target", "student_key": "wav"}, {"name": "si_snr", "student_key": "wav"},
                 {"name": "mse_teacher", "teacher": "t", "student_key": "wav", "teacher_key": "wav"},
                 {"name": "si_snr_teacher", "teacher": "t", "student_key": "wav", "teacher_key": "wav"},
                 {"name": "l1_target", "student_key": "wav", "margin": 40}],
    "waveform spectra": [{"name": "df_spectral", "student_key": "wav"}, {"name": "mr_stft", "student_key": "wav"},
                         {"name": "over_suppression", "student_key": "wav"}],
    "spectra": [{"name": "frame_kd", "teacher": "t"}, {"name": "seq_kd", "teacher": "t", "T": 2.0}],
    "masks": [{"name": "psa", "hop": HOP}],
    "frame posteriors": [{"name": "posterior_kd", "teacher": "t", "student_key": "asr.logits",
                          "teacher_key": "logits", "T": 2.0}],
    "pooled features": [{"name": "mse_emb", "teacher": "t", "student_key": "hidden.enc",
                         "teacher_key": "hidden.enc", "pool": "mean"},
                        {"name": "cos_emb", "teacher": "t", "student_key": "hidden.enc",
                         "teacher_key": "hidden.enc", "pool": "mean"}],
}


@pytest.mark.parametrize("family", sorted(TERMS))
@pytest.mark.parametrize("seed", [0, 1])
def test_a_padded_batch_gives_the_mean_of_each_utterance_alone(family, seed):
    utts = _utterances(seed)
    out, batch, teacher = _batch(utts, seed=seed)
    for spec in TERMS[family]:
        terms = build_loss_terms([spec])
        value, _ = total_loss(terms, out, batch, teacher)
        alone = [total_loss(terms, *_batch([u]))[0] for u in utts]
        assert value.item() == pytest.approx(torch.stack(alone).mean().item(), rel=1e-5, abs=1e-6), spec["name"]
        # the padding did count before: the term on the padded tensors without lengths is another number
        plain = terms[0][2](out, {k: v for k, v in batch.items() if k != "input_len"}, teacher)
        assert plain.item() != pytest.approx(value.item(), rel=1e-4), spec["name"]
        # and gradients reach the student's valid part only
        key = spec.get("student_key") or {"psa": "mask"}.get(spec["name"], "spec")
        dim = terms[0][2].time_dim or -1
        x = out[key].clone().requires_grad_()
        total_loss(terms, {**out, key: x}, batch, teacher)[0].backward()
        grad = x.grad[0].movedim(dim - 1 if dim > 0 else dim, -1)
        valid = valid_length(grad.shape[-1], T, LENGTHS[0])
        assert grad[..., valid:].abs().sum() == 0 and grad[..., :valid].abs().sum() > 0, spec["name"]


def test_pooled_contrastive_embeddings_leave_the_padded_frames_out():
    utts = _utterances()
    out, batch, teacher = _batch(utts)
    spec = {"name": "contrastive", "teacher": "t", "student_key": "hidden.enc", "teacher_key": "hidden.enc"}
    pooled = build_loss_terms([{**spec, "pool": "mean"}])
    value, _ = total_loss(pooled, out, batch, teacher)
    means = {side: torch.stack([u[key].mean(-1) for u in utts]) for side, key in (("s", "hidden"), ("t", "teacher_hidden"))}
    ref, _ = total_loss(build_loss_terms([spec]), {"hidden.enc": means["s"]}, {}, {"t": {"hidden.enc": means["t"]}})
    assert value.item() == pytest.approx(ref.item(), rel=1e-6)


def test_a_batch_without_padding_gives_the_same_numbers_bit_for_bit():
    utts = [{k: v[..., :frames(1600)] if v.shape[-1] == frames(960) else v for k, v in u.items()}
            for u in _utterances(1)]
    for u in utts:   # every utterance 1600 samples long: the batch has no padding
        for key in ("input", "target", "wav", "teacher_wav"):
            u[key] = torch.cat([u[key], u[key]])[:T]
        for key in ("spec", "teacher_spec", "mask", "hidden", "teacher_hidden"):
            u[key] = torch.cat([u[key], u[key]], -1)[..., :frames(T)]
        for key in ("logits", "teacher_logits"):
            u[key] = torch.cat([u[key], u[key]], 0)[:frames(T)]
    with_lengths, without = _batch(utts), _batch(utts, lengths=False)
    for family, specs in TERMS.items():
        for spec in specs:
            terms = build_loss_terms([spec])
            a, b = total_loss(terms, *with_lengths)[0], total_loss(terms, *without)[0]
            direct = terms[0][2](*without)
            assert torch.equal(a, b) and torch.equal(a, direct), (family, spec["name"])
