"""Speaker-embedding loss terms: chunked contrastive KD (Serre et al., section II-B) and AAM-softmax.

``contrastive_chunks``: the frozen teacher embeds clip i (``E_i``, the teacher set's ``teacher_key``,
default its primary output), the student embeds clip j in chunks (``M_j,t'``, the student's
``student_key``, default ``emb_chunks`` ``[B, n, d]``, e.g. TinyECAPA with ``chunk: 1.0``; a plain
``[B, d]`` embedding counts as one chunk).  Pairs come from the task's two crops of one utterance:
the teacher set reads the other crop (``input: input_view2``), the student ``input``.

    S_ij = 1/n sum_t' cos(E_i, P M_j,t')        (P: optional ``proj: [student d, teacher d]``)
    logits = tau * S,   tau = exp(log_tau) (learned; initialised to 1/temperature, capped at max_scale)
    L = 1/2 [ CE over each row (teacher i picks student i) + CE over each column (student j picks
        teacher j) ], each averaged over the batch.

``mask_same_speaker: true`` drops from each softmax the other clips of the same speaker (batch key
``target``), which are not negatives.

``aam_softmax``: additive angular margin softmax (ArcFace) on the student's embedding against a
learned class matrix, for training an ECAPA-TDNN teacher from speaker labels (``target``):
logit of the true class ``s cos(theta + m)`` (``s cos(theta) - s m sin(m)`` once ``theta + m`` passes
pi, so the logit keeps decreasing in theta), other classes ``s cos(theta)``.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.distill.losses import LOSSES, LossTerm, _projection
from kdspeech.errors import KdError


def chunk_similarity(teacher, chunks):
    """``S[i, j]`` = mean over chunks t of cos(teacher[i], chunks[j, t]); teacher ``[B, d]``, chunks
    ``[B, n, d]`` (or ``[B, d]``)."""
    if chunks.dim() == 2:
        chunks = chunks.unsqueeze(1)
    if teacher.dim() != 2 or chunks.dim() != 3 or teacher.shape[-1] != chunks.shape[-1]:
        raise KdError(f"contrastive_chunks: teacher embeddings [B, d] and student chunks [B, n, d] "
                      f"needed, got {tuple(teacher.shape)} and {tuple(chunks.shape)} (use proj: "
                      f"[student d, teacher d] when the sizes differ)")
    t = F.normalize(teacher.float(), dim=-1)
    m = F.normalize(chunks.float(), dim=-1).mean(dim=1)       # mean of unit vectors: S = t . m
    return t @ m.T


@LOSSES.register("contrastive_chunks")
class ContrastiveChunks(LossTerm):
    needs_teacher = True

    def batch_keys(self):
        return {self.target_key} if self.mask_same_speaker else set()

    def __init__(self, temperature=0.07, learn_temperature=True, max_scale=100.0, proj=None,
                 mask_same_speaker=False, student_key="emb_chunks", **keys):
        super().__init__(student_key=student_key, **keys)
        if temperature <= 0:
            raise KdError(f"contrastive_chunks: temperature must be > 0, not {temperature}")
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)),
                                      requires_grad=bool(learn_temperature))
        self.max_log_scale = math.log(float(max_scale))
        self.proj = _projection(proj)
        self.mask_same_speaker = bool(mask_same_speaker)

    def forward(self, out, batch, teacher_outs):
        chunks, teacher = self.student(out), self.teacher_out(teacher_outs)
        if len(teacher) < 2:
            raise KdError("contrastive_chunks needs at least 2 examples per batch")
        if self.proj is not None:
            chunks = self.proj(chunks)
        logits = self.log_scale.clamp(max=self.max_log_scale).exp() * chunk_similarity(teacher, chunks)
        if self.mask_same_speaker:
            spk = self.target(batch).reshape(-1)
            other = (spk[:, None] == spk[None, :]) & ~torch.eye(len(spk), dtype=torch.bool,
                                                               device=logits.device)
            logits = logits.masked_fill(other, float("-inf"))
        labels = torch.arange(len(logits), device=logits.device)
        return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


@LOSSES.register("aam_softmax")
class AamSoftmax(LossTerm):
    """ArcFace loss on ``student_key`` (default the primary output) with ``num_classes`` speakers."""

    reads_target = True

    def __init__(self, num_classes, emb_dim=192, margin=0.2, scale=30.0, **keys):
        super().__init__(**keys)
        if int(num_classes) < 2:
            raise KdError(f"aam_softmax: num_classes must be >= 2, not {num_classes}")
        self.weight = nn.Parameter(torch.empty(int(num_classes), int(emb_dim)))
        nn.init.xavier_normal_(self.weight)
        self.margin, self.scale = float(margin), float(scale)

    def logits(self, emb, target):
        cos = F.linear(F.normalize(emb.float(), dim=-1), F.normalize(self.weight, dim=-1))
        true = cos.gather(1, target.view(-1, 1))
        sin = (1.0 - true * true).clamp(0, 1).sqrt()
        m = self.margin
        shifted = true * math.cos(m) - sin * math.sin(m)                  # cos(theta + m)
        shifted = torch.where(true > math.cos(math.pi - m), shifted, true - math.sin(math.pi - m) * m)
        return self.scale * cos.scatter(1, target.view(-1, 1), shifted)

    def forward(self, out, batch, teacher_outs):
        emb, target = self.student(out), self.target(batch).long().reshape(-1)
        if int(target.max()) >= self.weight.shape[0]:
            raise KdError(f"aam_softmax: speaker index {int(target.max())} but num_classes is "
                          f"{self.weight.shape[0]}")
        return F.cross_entropy(self.logits(emb, target), target)
