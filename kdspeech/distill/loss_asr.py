"""Loss terms of speech recognition: ``ctc``.

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
