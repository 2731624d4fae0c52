"""Transformer attention decoder of hybrid CTC/attention recognition (``conformer_ctc``'s ``decoder``).

Follows ESPnet's ``TransformerDecoder`` (espnet2/asr/decoder/transformer_decoder.py), the decoder of
the hybrid CTC/attention model of Watanabe et al. (IEEE JSTSP 2017, "Hybrid CTC/attention architecture
for end-to-end speech recognition") as ESPnet2's ``asr.yaml`` trains it (``decoder: transformer``):
token embedding scaled by sqrt(d) plus sinusoidal absolute positions, ``layers`` pre-norm blocks of
causal self-attention, attention over the encoder output (source attention) and a ReLU feed-forward
of ``units``, each residual and followed by dropout, a final LayerNorm and a Linear to the vocabulary.
ESPnet's defaults for its LibriSpeech-100 Conformer: 6 blocks, 4 heads, 2048 units, dropout 0.1.

    decoder = AttentionDecoder(vocab, dim=256, layers=6, heads=4, units=2048, dropout=0.1)
    logits = decoder(memory [B, T, d], memory_len [B], ys_in [B, L], ys_len [B])   # [B, L, vocab]

``ys_in`` is ``<sos>`` followed by the target tokens (teacher forcing); position i sees positions
0..i only (the decoder is causal) and never a padded one; ``memory`` frames beyond ``memory_len``
are never attended to.

``<sos>``/``<eos>``: the token list's ``<blank>`` (id 0).  ESPnet and WeNet append a ``<sos/eos>``
token as the last id of the list; here the blank serves, because it never occurs in a label sequence
(CTC's blank is not a label) and so is free as the decoder's start and end symbol, and because the
token lists (characters, BPE; ``kdspeech.asr.tokens``) and the CTC head then stay as they are: the
decoder's output layer has the same vocabulary as the CTC head, and a model file carries no extra
token.  It is the same model as ESPnet's up to a relabelling of that one id.  Zero is also the asr
task's padding of ``target``, so a padded target row shifted by one is already ``... <eos> 0 0``;
the loss (``att_ce``) counts positions by ``target_len`` all the same, never by id.

``score(memory, memory_len, hyps)``: the log-probability of each complete hypothesis (its tokens and
``<eos>``), one teacher-forced pass over all of them, for attention rescoring
(``kdspeech.asr.rescore``).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.errors import KdError

SOS = EOS = 0   # <blank>: see the module docstring
OPTIONS = {"layers": 6, "heads": 4, "units": 2048, "dropout": 0.1}


def sinusoids(length, dim, device=None):
    """Absolute sinusoidal positions ``[length, dim]`` (Vaswani et al.): sin at even, cos at odd columns."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    emb = torch.zeros(length, dim, device=device)
    emb[:, 0::2] = torch.sin(pos * freq)
    emb[:, 1::2] = torch.cos(pos * freq)
    return emb


class Attention(nn.Module):
    """Multi-head scaled dot-product attention; ``mask`` [B, Lq, Lk] or [B, 1, Lk], True: attend."""

    def __init__(self, dim, heads, dropout):
        super().__init__()
        if dim % heads:
            raise KdError(f"attention decoder: size {dim} is not a multiple of {heads} heads")
        self.heads, self.d_head, self.p = heads, dim // heads, float(dropout)
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, query, source, mask):
        b, lq, _ = query.shape
        h, d = self.heads, self.d_head
        q = self.q(query).view(b, lq, h, d).transpose(1, 2)
        k = self.k(source).view(b, -1, h, d).transpose(1, 2)
        v = self.v(source).view(b, -1, h, d).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None],
                                           dropout_p=self.p if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, lq, h * d))


class DecoderLayer(nn.Module):
    """Pre-norm: x + self-attention (causal), + source attention, + feed-forward (ReLU)."""

    def __init__(self, dim, heads, units, dropout):
        super().__init__()
        self.self_attn = Attention(dim, heads, dropout)
        self.src_attn = Attention(dim, heads, dropout)
        self.ff = nn.Sequential(nn.Linear(dim, units), nn.ReLU(), nn.Dropout(dropout), nn.Linear(units, dim))
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(dim) for _ in range(3))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, self_mask, memory, memory_mask):
        y = self.norm1(x)
        x = x + self.dropout(self.self_attn(y, y, self_mask))
        x = x + self.dropout(self.src_attn(self.norm2(x), memory, memory_mask))
        return x + self.dropout(self.ff(self.norm3(x)))


class AttentionDecoder(nn.Module):
    def __init__(self, vocab, dim, layers=6, heads=4, units=2048, dropout=0.1):
        super().__init__()
        self.dim = int(dim)
        self.embed = nn.Embedding(int(vocab), self.dim)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(DecoderLayer(self.dim, int(heads), int(units), float(dropout))
                                    for _ in range(int(layers)))
        self.norm = nn.LayerNorm(self.dim)
        self.out = nn.Linear(self.dim, int(vocab))

    @classmethod
    def from_conf(cls, conf, vocab, dim):
        """Built from ``conformer_ctc``'s ``decoder`` option (a dict of ``OPTIONS``; unknown keys are a
        KdError naming them)."""
        if not isinstance(conf, dict):
            raise KdError(f"conformer_ctc: decoder must be null or {{layers, heads, units, dropout}}, not {conf!r}")
        unknown = set(conf) - set(OPTIONS)
        if unknown:
            raise KdError(f"conformer_ctc: decoder options {sorted(unknown)} unknown (known: {sorted(OPTIONS)})")
        return cls(vocab, dim, **{**OPTIONS, **conf})

    def forward(self, memory, memory_len, ys_in, ys_len):
        """Logits ``[B, L, vocab]`` of the token after each prefix of ``ys_in`` (see the module)."""
        length = ys_in.shape[1]
        positions = torch.arange(length, device=ys_in.device)
        causal = positions[None, :] <= positions[:, None]                                  # [L, L]
        self_mask = causal[None] & (positions[None, None, :] < ys_len[:, None, None])      # [B, L, L]
        memory_mask = (torch.arange(memory.shape[1], device=memory.device)[None] < memory_len[:, None])[:, None]
        x = self.embed(ys_in) * math.sqrt(self.dim) + sinusoids(length, self.dim, ys_in.device)
        x = self.dropout(x)
        for layer in self.layers:
            x = layer(x, self_mask, memory, memory_mask)
        return self.out(self.norm(x))

    def score(self, memory, memory_len, hyps):
        """``[len(hyps)]`` log P(hyp + <eos> | memory) of token-id lists, for one utterance's encoder
        output ``memory [1, T, d]`` (its ``memory_len [1]``), all hypotheses in one batch."""
        n = len(hyps)
        longest = max(len(h) for h in hyps) + 1
        ys_in = torch.zeros(n, longest, dtype=torch.long, device=memory.device)
        ys_out = torch.zeros(n, longest, dtype=torch.long, device=memory.device)
        for i, hyp in enumerate(hyps):
            ids = torch.as_tensor(list(hyp), dtype=torch.long, device=memory.device)
            ys_in[i, 0], ys_in[i, 1:len(hyp) + 1] = SOS, ids
            ys_out[i, :len(hyp)], ys_out[i, len(hyp)] = ids, EOS
        ys_len = torch.tensor([len(h) + 1 for h in hyps], device=memory.device)
        logits = self(memory.expand(n, -1, -1), memory_len.expand(n), ys_in, ys_len)
        logp = F.log_softmax(logits.float(), dim=-1).gather(-1, ys_out[..., None])[..., 0]
        valid = torch.arange(longest, device=memory.device)[None] < ys_len[:, None]
        return (logp * valid).sum(1)
