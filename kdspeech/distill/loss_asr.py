"""Loss terms of speech recognition: ``ctc`` and ``att_ce``.

``ctc``: the CTC loss (Graves et al. 2006) of the student's log-probabilities (its primary output, or
``student_key``; ``[B, T, vocab]``, blank = id 0) with their frame counts (the output ``length_key``,
default ``enc_len``) against the batch's token ids ``target`` (padded) and ``target_len``; summed over
each utterance's tokens and averaged over the utterances of the batch (ESPnet's CTC, whose
``length_normalized_loss: false`` gives the same scale).

An utterance whose frames are too few for its labels (CTC needs one frame per token plus one per
repeated pair) has no alignment: it is left out of the loss (not a NaN, not an infinity), counted in
``dropped``, and logged once per utterance with its id.  The ASR task drops such utterances when it
reads its data dir (``kdspeech.tasks.asr``), so this is the rare case its estimate of the frame rate
missed.

``att_ce``: the label-smoothed cross entropy of an attention decoder's teacher-forced logits (the
student's output ``att_logits``, ``[B, L + 1, vocab]``: ``conformer_ctc`` with ``decoder``) against
the target followed by ``<eos>`` (id 0, ``kdspeech.models.att_decoder``), over the ``target_len + 1``
positions of each utterance (padding counts in no loss), summed over them and averaged over the
utterances of the batch, the scale of ``ctc``.  Label smoothing as ESPnet's ``LabelSmoothingLoss``
(``lsm_weight`` e, its asr.yaml ``model_conf.lsm_weight: 0.1``): the target distribution puts 1 - e on
the reference token and e / (vocab - 1) on each other one.  ESPnet reports the KL divergence from that
distribution; this is the cross entropy, the KL plus the distribution's constant entropy: the same
gradients, and with ``lsm_weight: 0`` the plain cross entropy.  The hybrid CTC/attention loss of
Watanabe et al. (2017), L = w L_ctc + (1 - w) L_att with ESPnet's ``ctc_weight`` w = 0.3, is a config:

    loss: [{name: ctc, weight: 0.3}, {name: att_ce, weight: 0.7, lsm_weight: 0.1}]
"""

import logging

import torch
import torch.nn.functional as F

from kdspeech.distill.losses import LOSSES, LossTerm
from kdspeech.errors import KdError

log = logging.getLogger(__name__)


def ctc_frames_needed(target, target_len):
    """Frames CTC needs per utterance: its labels plus one blank between each repeated pair."""
    repeats = (target[:, 1:] == target[:, :-1]) & (
        torch.arange(1, target.shape[1], device=target.device)[None] < target_len[:, None])
    return target_len + repeats.sum(1)


@LOSSES.register("ctc")
class Ctc(LossTerm):
    reads_target = True

    def __init__(self, length_key="enc_len", **keys):
        super().__init__(**keys)
        self.length_key = length_key
        self.dropped = 0
        self._logged = set()

    def batch_keys(self):
        return {self.target_key, f"{self.target_key}_len"}

    def forward(self, out, batch, teacher_outs):
        log_probs = self.student(out)
        if self.length_key not in out:
            raise KdError(f"ctc: the student has no output '{self.length_key}' (frame counts; outputs: "
                          f"{', '.join(out)})")
        lengths = out[self.length_key].long()
        target = self.target(batch).long()
        target_len = batch[f"{self.target_key}_len"].long().to(target.device)
        vocab = log_probs.shape[-1]
        if target.numel() and int(target.max()) >= vocab:
            raise KdError(f"ctc: token id {int(target.max())} is beyond the model's {vocab} outputs: the data's "
                          "token list (data.token_list) is not the model's (model.conf.tokens)")
        feasible = lengths >= ctc_frames_needed(target, target_len)
        losses = F.ctc_loss(log_probs.float().transpose(0, 1), target, lengths, target_len, blank=0,
                            reduction="none", zero_infinity=True)
        if not bool(feasible.all()):
            self._note(batch, feasible, lengths, target_len)
        return (losses * feasible).sum() / max(len(losses), 1)

    def _note(self, batch, feasible, lengths, target_len):
        keys = batch.get("key") or [str(i) for i in range(len(feasible))]
        for i in (~feasible).nonzero().flatten().tolist():
            self.dropped += 1
            if keys[i] not in self._logged:
                self._logged.add(keys[i])
                log.warning("ctc: utterance %s has %d encoder frames for %d labels: left out of the loss "
                            "(%d so far)", keys[i], int(lengths[i]), int(target_len[i]), self.dropped)


@LOSSES.register("att_ce")
class AttentionCe(LossTerm):
    reads_target = True

    def __init__(self, lsm_weight=0.1, student_key="att_logits", **keys):
        super().__init__(student_key=student_key, **keys)
        if not 0.0 <= float(lsm_weight) < 1.0:
            raise KdError(f"att_ce: lsm_weight must be in [0, 1), not {lsm_weight}")
        self.lsm_weight = float(lsm_weight)

    def batch_keys(self):
        return {self.target_key, f"{self.target_key}_len"}

    def forward(self, out, batch, teacher_outs):
        if self.student_key not in out:
            raise KdError(f"att_ce: the student has no output '{self.student_key}' (outputs: {', '.join(out)}): "
                          "a model with an attention decoder (conformer_ctc's decoder option) gives it")
        logits = self.student(out).float()
        target = self.target(batch).long().to(logits.device)
        target_len = batch[f"{self.target_key}_len"].long().to(logits.device)
        b, positions, vocab = logits.shape
        if positions != target.shape[1] + 1:
            raise KdError(f"att_ce: {positions} decoder positions for targets of {target.shape[1]} tokens "
                          "(expected one more: <eos>)")
        steps = torch.arange(positions, device=logits.device)[None]
        ys_out = F.pad(target, (0, 1))                           # <eos> = 0 at position target_len
        ys_out = ys_out.masked_fill(steps >= target_len[:, None], 0)
        valid = steps <= target_len[:, None]
        logp = F.log_softmax(logits, dim=-1)
        nll = -logp.gather(-1, ys_out[..., None])[..., 0]
        if self.lsm_weight:
            other = (-logp.sum(-1) - nll) / (vocab - 1)           # mean -log p of the other tokens
            nll = (1.0 - self.lsm_weight) * nll + self.lsm_weight * other
        return (nll * valid).sum() / max(b, 1)
