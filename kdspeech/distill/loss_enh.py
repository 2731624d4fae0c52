"""Loss terms of KD-trained speech enhancement for ASR (Charishma; DCCRN student, Conformer teacher).

The paper's ablation (its Tables 7-10) combines a reconstruction loss L_r with a frame-level
distillation loss L_e and a sequence-level one L_d; each is a term here, weights come from the config:

    loss:
      - {name: si_snr}                                   # L_r
      - {name: frame_kd, weight: 1.0, teacher: conformer}   # L_e (outputs 'spec' on both sides)
      - {name: seq_kd, weight: 0.1, teacher: conformer, T: 1.0}   # L_d (outputs 'spec')
      # L_d with a frozen acoustic model (a set 'asr' with apply_to: student, and a set 'asr_ref'
      # applying the same network to the clean speech: input: target):
      # - {name: posterior_kd, teacher: asr_ref, student_key: asr.logits, teacher_key: logits}

Spectra are ``[B, 2, F, frames]`` (real, imaginary), the ``spec`` output of ``dccrn`` and
``conformer_enh`` (and of any model with the same STFT).
"""

import torch
import torch.nn.functional as F

from kdspeech.distill.losses import LOSSES, LossTerm
from kdspeech.errors import KdError


def si_snr(estimate, target, zero_mean=True, eps=1e-8):
    """SI-SNR in dB per example of ``[B, T]`` signals (Le Roux et al. 2019):
    s_t = <s, t> t / ||t||^2, e = s - s_t, SI-SNR = 10 log10(||s_t||^2 / ||e||^2); with ``zero_mean``
    both signals have their mean removed first (DCCRN's training code leaves it out)."""
    if estimate.shape != target.shape:
        raise KdError(f"si_snr: estimate {list(estimate.shape)} and target {list(target.shape)} differ")
    estimate, target = estimate.flatten(1), target.flatten(1)
    if zero_mean:
        estimate = estimate - estimate.mean(-1, keepdim=True)
        target = target - target.mean(-1, keepdim=True)
    scale = (estimate * target).sum(-1, keepdim=True) / (target.pow(2).sum(-1, keepdim=True) + eps)
    projection = scale * target
    noise = estimate - projection
    return 10 * torch.log10(projection.pow(2).sum(-1) / (noise.pow(2).sum(-1) + eps) + eps)


@LOSSES.register("si_snr")
class NegSiSnr(LossTerm):
    """L_r: minus the batch mean of SI-SNR (dB) of the student's waveform against the clean target
    (DCCRN's loss); ``zero_mean`` (default true) removes each signal's mean first."""

    reads_target = True
    time_dim = -1

    def __init__(self, zero_mean=True, eps=1e-8, **keys):
        super().__init__(**keys)
        self.zero_mean, self.eps = bool(zero_mean), float(eps)

    def forward(self, out, batch, teacher_outs):
        return -si_snr(self.student(out), self.target(batch), self.zero_mean, self.eps).mean()


@LOSSES.register("si_snr_teacher")
class NegSiSnrTeacher(NegSiSnr):
    """Minus the batch mean of SI-SNR (dB) of the student's waveform against its (routed) teacher's
    output: the scale-invariant counterpart of ``mse_teacher``, e.g. for the SNR-based
    teachers-student loss a (-SI-SNR(s, t_i)) + (1 - a) (-SI-SNR(s, y)) at CPU scale."""

    needs_teacher = True
    reads_target = False

    def forward(self, out, batch, teacher_outs):
        teacher = self.teacher_out(teacher_outs).detach()
        return -si_snr(self.student(out), teacher, self.zero_mean, self.eps).mean()


def power(spec, who):
    """|S|^2 ``[B, F, frames]`` of a ``[B, 2, F, frames]`` real/imaginary spectrum (or a complex one)."""
    if torch.is_complex(spec):
        return spec.real.pow(2) + spec.imag.pow(2)
    if spec.dim() != 4 or spec.shape[1] != 2:
        raise KdError(f"{who}: expected a spectrum [B, 2, F, frames] (real, imaginary), "
                      f"got shape {list(spec.shape)}")
    return spec[:, 0].pow(2) + spec[:, 1].pow(2)


def _same_shape(s, t, who):
    if s.shape != t.shape:
        raise KdError(f"{who}: student output {list(s.shape)} and teacher output {list(t.shape)} differ "
                      "(the same STFT, n_fft/win_length/hop, is needed on both sides)")


@LOSSES.register("frame_kd")
class FrameKd(LossTerm):
    """L_e: mean squared error between the student's and the teacher's per-frame complex spectra,

        L_e = 1/(B F N) sum_{b,f,n} |S_s(b,f,n) - S_t(b,f,n)|^2
            = mean over [B, 2, F, N] of (real and imaginary differences)^2 x 2,

    i.e. 2 x ``F.mse_loss`` of the ``[B, 2, F, N]`` tensors: the squared complex error per
    time-frequency bin, averaged over bins, frames and examples.  Spectra (``spec``, the default keys)
    rather than masks: the student's DCCRN mask is a bounded complex "E" mask and a Conformer teacher's
    a real magnitude mask, so masks of different models are not the same quantity, while the estimated
    spectrum is what both produce and what the waveform (and the ASR) is made from; it also carries
    the phase the complex student has to learn.  ``student_key``/``teacher_key: mask`` compares masks
    of two models of the same kind (any equal-shaped tensors: plain mean squared error then).
    """

    needs_teacher = True
    time_dim = -1

    def __init__(self, student_key="spec", teacher_key="spec", **keys):
        super().__init__(student_key=student_key, teacher_key=teacher_key, **keys)

    def forward(self, out, batch, teacher_outs):
        s, t = self.student(out), self.teacher_out(teacher_outs)
        _same_shape(s, t, "frame_kd")
        if torch.is_complex(s):
            return (s - t).abs().pow(2).mean()
        if s.dim() == 4 and s.shape[1] == 2:
            return 2 * F.mse_loss(s, t.detach())
        return F.mse_loss(s, t.detach())


@LOSSES.register("seq_kd")
class SeqKd(LossTerm):
    """L_d: KL divergence between utterance-level distributions over time-frequency bins.

    For each utterance b, the log-power ``z(f, n) = log(|S(f, n)|^2 + eps)`` of every bin of the
    whole utterance is turned into one distribution over its F x N bins,

        P(f, n) = softmax_{(f, n)}(z / T) = (|S|^2 + eps)^(1/T) / sum_{(f', n')} (|S|^2 + eps)^(1/T),

    (T = 1: the utterance's normalised energy over time and frequency; T = 2: its normalised
    magnitude), and

        L_d = T^2 x 1/B sum_b KL(P_teacher,b || P_student,b) = T^2/B sum_b sum_{f,n} P_t (log P_t - log P_s)

    (the T^2 factor of Hinton et al. keeps gradient sizes comparable across temperatures).  The
    teacher side is constant (no gradient).  Outputs ``spec`` by default ([B, 2, F, N]).
    """

    needs_teacher = True
    time_dim = -1

    def __init__(self, T=1.0, eps=1e-8, student_key="spec", teacher_key="spec", **keys):
        super().__init__(student_key=student_key, teacher_key=teacher_key, **keys)
        if T <= 0:
            raise KdError(f"seq_kd: temperature T must be > 0, not {T}")
        self.T, self.eps = float(T), float(eps)

    def log_dist(self, spec, who):
        z = torch.log(power(spec, who) + self.eps).flatten(1) / self.T
        return F.log_softmax(z, dim=-1)

    def forward(self, out, batch, teacher_outs):
        s, t = self.student(out), self.teacher_out(teacher_outs)
        _same_shape(s, t, "seq_kd")
        log_ps = self.log_dist(s, "seq_kd (student)")
        log_pt = self.log_dist(t.detach(), "seq_kd (teacher)")
        kl = F.kl_div(log_ps, log_pt, log_target=True, reduction="batchmean")
        return kl * self.T ** 2


@LOSSES.register("posterior_kd")
class PosteriorKd(LossTerm):
    """L_d with a frozen acoustic model: KL between its frame posteriors on the reference side and on
    the student's enhanced speech,

        L = T^2/(B N) sum_{b,n} KL(p_ref(. | b, n) || p_student(. | b, n)),
        p = softmax over classes of (model output / T),

    averaged over examples and frames.  ``student_key`` names the output of a teacher set with
    ``apply_to: student`` on the student side (e.g. ``asr.logits``); ``teacher`` is a set applying the
    same network to the reference (the teacher's output or the clean speech, ``input: target``) with
    ``teacher_key`` its output.  Outputs are ``[B, N, C]`` (classes on ``class_dim``, default last);
    log-posteriors work as well as logits (log_softmax leaves them unchanged at T = 1).
    """

    needs_teacher = True

    def __init__(self, T=1.0, class_dim=-1, **keys):
        super().__init__(**keys)
        if not keys.get("student_key"):
            raise KdError("posterior_kd needs 'student_key: <apply_to: student set>.<output>' "
                          "(e.g. asr.logits)")
        if T <= 0:
            raise KdError(f"posterior_kd: temperature T must be > 0, not {T}")
        self.T, self.class_dim = float(T), int(class_dim)

    @property
    def time_dim(self):
        """The frame axis of ``[B, N, C]`` (classes last) or ``[B, C, N]`` outputs."""
        return 1 if self.class_dim in (-1, 2) else -1

    def forward(self, out, batch, teacher_outs):
        s, t = self.student(out), self.teacher_out(teacher_outs)
        _same_shape(s, t, "posterior_kd")
        log_ps = F.log_softmax(s.movedim(self.class_dim, -1) / self.T, dim=-1)
        log_pt = F.log_softmax(t.detach().movedim(self.class_dim, -1) / self.T, dim=-1)
        kl = (log_pt.exp() * (log_pt - log_ps)).sum(-1)  # [B, N]
        return kl.mean() * self.T ** 2


# Baselines of the SNR-based teachers-student recipes (Hao et al. 2020, Table 3).

@LOSSES.register("psa")
class PhaseSensitiveApproximation(LossTerm):
    """Phase-sensitive spectrum approximation (Erdogan et al., ICASSP 2015), the cost of ``psm_blstm``:

        L = 1/(B F N) sum_{b,f,n} (m |Y| - clip(|S| cos(theta_S - theta_Y), 0, |Y|))^2

    with m the student's real mask (output ``mask``, ``[B, F, N]``), Y the STFT of the noisy input
    (batch ``input_key``) and S that of the clean target.  |S| cos(theta_S - theta_Y) = Re(S Y*) / |Y|
    is the part of S along the noisy phase: since m is real and the noisy phase is kept,
    |m Y - S|^2 = (m |Y| - |S| cos(.))^2 + |S|^2 sin^2(.), whose second term no mask can change.
    ``truncate`` (default) clips that target to [0, |Y|], the range m |Y| can reach with a sigmoid
    mask (the truncated PSA); ``truncate: false`` keeps the plain PSA.  The STFT options must be the
    model's (the defaults are psm_blstm's); a different frame count or bin count is an error.
    """

    def __init__(self, n_fft=512, win_length=400, hop=160, window="hann", truncate=True, input_key="input",
                 eps=1e-8, student_key="mask", **keys):
        super().__init__(student_key=student_key, **keys)
        from kdspeech.models.spectral import Stft
        self.stft = Stft(n_fft, win_length, hop, window)
        self.truncate, self.input_key, self.eps = bool(truncate), input_key, float(eps)

    reads_target = True
    time_dim = -1

    def batch_keys(self):
        return {self.input_key, self.target_key}

    def spectrum(self, wav):
        return self.stft(wav.flatten(0, -2) if wav.dim() == 3 else wav)

    def forward(self, out, batch, teacher_outs):
        mask = self.student(out)
        if self.input_key not in batch:
            raise KdError(f"psa needs the noisy input in batch key '{self.input_key}'")
        noisy, clean = self.spectrum(batch[self.input_key]), self.spectrum(self.target(batch))
        if mask.shape != noisy.shape:
            raise KdError(f"psa: mask {list(mask.shape)} and the noisy STFT {list(noisy.shape)} differ "
                          "(the loss's n_fft/win_length/hop must be the model's)")
        magnitude = noisy.abs()
        target = (clean * noisy.conj()).real / magnitude.clamp_min(self.eps)
        if self.truncate:
            target = torch.minimum(target.clamp_min(0.0), magnitude)
        return (mask * magnitude - target).pow(2).mean()


@LOSSES.register("l1_target")
class L1Target(LossTerm):
    """Mean absolute error between the student's waveform and the clean target (the loss of
    ``wavenet_denoise``; its authors' second term, on the noise estimate input - output, equals this
    one since (input - output) - (input - target) = target - output).  ``margin`` leaves out that many
    samples at each end of every crop: with ``margin`` = half the receptive field only samples predicted
    from real context on both sides are scored (the authors' target-field training)."""

    reads_target = True
    time_dim = -1

    def __init__(self, margin=0, **keys):
        super().__init__(**keys)
        self.margin = int(margin)
        if self.margin < 0:
            raise KdError(f"l1_target: margin must be >= 0, not {margin}")

    def forward(self, out, batch, teacher_outs):
        s, t = self.student(out), self.target(batch)
        if s.shape != t.shape:
            raise KdError(f"l1_target: output {list(s.shape)} and target {list(t.shape)} differ")
        if self.margin:
            if s.shape[-1] <= 2 * self.margin:
                raise KdError(f"l1_target: margin {self.margin} leaves nothing of {s.shape[-1]}-sample crops")
            s, t = s[..., self.margin:-self.margin], t[..., self.margin:-self.margin]
        return (s - t).abs().mean()
