"""Conformer-CTC recogniser: log-mel front end inside the model, SpecAugment, Conformer encoder, CTC head.

    waveform [B, N] -> log-mel [B, T, mels] (utterance mean/variance normalised) -> SpecAugment (training
    mode only) -> Conv2d subsampling x4 -> Conformer blocks -> LayerNorm -> Linear(d, vocab) -> log-softmax

forward(wav [B, N], input_len [B] = None) -> {"log_probs": [B, T', vocab], "enc_len": [B]}, where
``T' = ((1 + N // hop - 1) // 2 - 1) // 2`` frames of the utterance (padded frames beyond ``enc_len`` are
never attended to).

Hybrid CTC/attention (Watanabe et al. 2017, as ESPnet2's ``asr.yaml`` with ``decoder: transformer``):
``decoder: {layers, heads, units, dropout}`` adds a Transformer attention decoder over the encoder
output (``kdspeech.models.att_decoder``; <sos>/<eos> is <blank>, id 0).  The model then also returns
``enc_out`` [B, T', d] (the normalised encoder output the CTC head and the decoder read) and, given
``target`` [B, L] and ``target_len`` [B] (the asr task's batch keys, which ``kdspeech.models.calling``
passes only to a model with a decoder: ``uses_input``), ``att_logits`` [B, L + 1, vocab], the
teacher-forced logits of each target token and of <eos>.  Train it with ``loss: [{name: ctc, weight:
0.3}, {name: att_ce, weight: 0.7, lsm_weight: 0.1}]`` (ESPnet's ctc_weight and lsm_weight); decode
it by attention rescoring of the CTC n-best (``kdspeech.asr.rescore``, the ``trained:`` backend's
default for such a model).  ``decoder: null`` (default): no decoder module, the model, its
parameters (drawn in the same order) and its outputs exactly as without the option.  The front end is part of the graph, so an enhancement network placed before the
recogniser receives the CTC loss's gradient through it (joint training, the Charishma paper's
Joint-* systems).

Size: the defaults follow the encoder of ESPnet's LibriSpeech-100 Conformer recipe
(``egs2/librispeech_100/asr1/conf/tuning/train_asr_conformer_lr2e-3_warmup15k_amp_nondeterministic.yaml``):
80 mels from a 512-point FFT of 400-sample (25 ms) windows every 160 samples (10 ms), conv2d input layer
(subsampling 4), 12 blocks of d 256, 4 heads, 1024 feed-forward units, kernel 31, macaron feed-forward,
relative-position self-attention, Swish, dropout 0.1; SpecAugment with 2 frequency masks of 0-27 bins
and 5 time masks of 0-5 % of the utterance.  That recipe trains hybrid CTC/attention with a 6-block
Transformer decoder (``decoder: {layers: 6, heads: 4, units: 2048, dropout: 0.1}``, 9.5 M parameters:
egs/TEMPLATE/asr/conf/train_asr_conformer_hybrid.yaml); without it the head is CTC alone (its
``train_conformer_ctc.yaml`` is the CTC-only variant with 18 blocks: ``blocks: 18``).  With the 28
characters of AN4's transcripts the model has 20.9 M parameters (18 blocks: 30.4 M; with the decoder:
30.4 M); ESPnet's hybrid has a 5000-BPE vocabulary.

Departures from ESPnet, each for order-independent decoding without a statistics stage: features are
normalised per utterance (mean and variance over its own frames, ESPnet: ``global_mvn`` from
training-set statistics); SpecAugment has no time warping.  The token list (``tokens``: a token-list
file of ``kdspeech.asr.tokens`` or the list itself) sets the vocabulary; a model file stores the list
itself (``resolved_conf``), so it decodes without the file it was trained with.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.errors import KdError
from kdspeech.features import LogMel
from kdspeech.models import MODELS
from kdspeech.models.conformer_enh import ConformerBlock, rel_positions


def batch_lengths(wav, input_len=None):
    """``(wav [B, T], input_len [B] long on wav's device)``: a 1-D input made a batch of one, and every
    utterance as long as the batch when no lengths are given."""
    if wav.dim() == 1:
        wav = wav[None]
    if input_len is None:
        input_len = torch.full((wav.shape[0],), wav.shape[-1], dtype=torch.long, device=wav.device)
    return wav, input_len.to(wav.device).long()


def frames_of(num_samples, hop):
    """Front-end frames of ``num_samples`` (centred STFT)."""
    return 1 + num_samples // hop


def subsampled(frames):
    """Frames after two 3x3 convolutions of stride 2 without padding."""
    return ((frames - 1) // 2 - 1) // 2


class SpecAugment(nn.Module):
    """Frequency and time masks (Park et al. 2019), drawn from torch's generator, per utterance and only
    in training mode; ``time_ratio``: the longest time mask as a fraction of the utterance's frames."""

    def __init__(self, freq_masks=2, freq_width=27, time_masks=5, time_ratio=0.05):
        super().__init__()
        self.freq_masks, self.freq_width = int(freq_masks), int(freq_width)
        self.time_masks, self.time_ratio = int(time_masks), float(time_ratio)

    def forward(self, feats, lengths):  # [B, T, F], [B]
        if not self.training:
            return feats
        b, t, f = feats.shape
        keep = torch.ones(b, t, f, dtype=torch.bool, device=feats.device)
        for i in range(b):
            for _ in range(self.freq_masks):
                width = int(torch.randint(0, self.freq_width + 1, ()))
                start = int(torch.randint(0, max(1, f - width + 1), ()))
                keep[i, :, start:start + width] = False
            n = int(lengths[i])
            longest = int(self.time_ratio * n)
            for _ in range(self.time_masks):
                width = int(torch.randint(0, longest + 1, ()))
                start = int(torch.randint(0, max(1, n - width + 1), ()))
                keep[i, start:start + width, :] = False
        return feats * keep


class Conv2dSubsampling(nn.Module):
    """Two 3x3 convolutions of stride 2 with ReLU over (time, mel), then Linear to d (ESPnet's conv2d)."""

    def __init__(self, mels, dim):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, dim, 3, 2), nn.ReLU(), nn.Conv2d(dim, dim, 3, 2), nn.ReLU())
        self.out = nn.Linear(dim * subsampled(mels), dim)

    def forward(self, feats):  # [B, T, F] -> [B, T', d]
        y = self.conv(feats[:, None])
        b, c, t, f = y.shape
        return self.out(y.transpose(1, 2).reshape(b, t, c * f))


@MODELS.register("conformer_ctc")
class ConformerCtc(nn.Module):
    def __init__(self, tokens=None, sr=16000, n_fft=512, win_length=400, hop=160, mels=80, dim=256,
                 heads=4, blocks=12, units=1024, kernel=31, dropout=0.1, attention_dropout=0.1,
                 specaug=None, decoder=None):
        super().__init__()
        from kdspeech.asr.tokens import read_token_list

        if tokens is None:
            raise KdError("conformer_ctc needs 'tokens': a token list file (python -m kdspeech.bin.make_tokens) "
                          "or the list itself")
        self.tokens = read_token_list(tokens)
        self.sr, self.hop, self.dim = int(sr), int(hop), int(dim)
        self.frontend = LogMel(sr=sr, n_fft=n_fft, win_length=win_length, hop=hop, n_mels=mels, fmin=0.0)
        self.specaug = SpecAugment(**(specaug or {}))
        self.subsample = Conv2dSubsampling(int(mels), self.dim)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(ConformerBlock(self.dim, int(heads), int(units), int(kernel), dropout,
                                                   attention_dropout) for _ in range(int(blocks)))
        self.norm = nn.LayerNorm(self.dim)
        self.head = nn.Linear(self.dim, len(self.tokens))
        self.decoder = None   # a plain attribute, no module: without a decoder the model is as it was
        if decoder is not None:
            from kdspeech.models.att_decoder import AttentionDecoder

            self.decoder = AttentionDecoder.from_conf(decoder, len(self.tokens), self.dim)

    def uses_input(self, name):
        """``target``/``target_len`` are passed (``kdspeech.models.calling``) only to a model with a
        decoder; None: no say on other inputs."""
        return self.decoder is not None if name in ("target", "target_len") else None

    def resolved_conf(self, conf):
        """The options a model file keeps: the token list itself instead of its file."""
        return {**conf, "tokens": list(self.tokens)}

    def features(self, wav, input_len):
        """Log-mel ``[B, T, mels]`` normalised over each utterance's own frames, and the frame counts."""
        feats = self.frontend(wav).transpose(1, 2)  # [B, T, F]
        lengths = torch.clamp(frames_of(input_len, self.hop), max=feats.shape[1])
        valid = (torch.arange(feats.shape[1], device=feats.device)[None] < lengths[:, None])[..., None]
        count = lengths[:, None, None].to(feats.dtype)
        mean = (feats * valid).sum(1, keepdim=True) / count
        var = (((feats - mean) * valid) ** 2).sum(1, keepdim=True) / count
        return ((feats - mean) / torch.sqrt(var + 1e-5)) * valid, lengths

    def forward(self, wav, input_len=None, target=None, target_len=None):
        wav, input_len = batch_lengths(wav, input_len)
        if int(input_len.min()) < 1 + 6 * self.hop:
            raise KdError(f"conformer_ctc: an input of {int(input_len.min())} samples is too short for "
                          f"the encoder (at least {1 + 6 * self.hop} samples, 7 frames)")
        feats, lengths = self.features(wav, input_len)
        feats = self.specaug(feats, lengths)
        h = self.subsample(feats) * math.sqrt(self.dim)
        enc_len = torch.clamp(subsampled(lengths), min=1, max=h.shape[1])
        mask = torch.arange(h.shape[1], device=h.device)[None] < enc_len[:, None]
        pos_emb = self.dropout(rel_positions(h.shape[1], self.dim, h.device, h.dtype))
        h = self.dropout(h)
        for block in self.blocks:
            h = block(h, pos_emb, mask)
        enc = self.norm(h)
        logits = self.head(self.dropout(enc))
        out = {"log_probs": F.log_softmax(logits.float(), dim=-1), "enc_len": enc_len}
        if self.decoder is not None:
            out["enc_out"] = enc
            if target is not None:
                out["att_logits"] = self.teacher_forced(enc, enc_len, target, target_len)
        return out

    def teacher_forced(self, enc, enc_len, target, target_len=None):
        """The decoder's logits ``[B, L + 1, vocab]`` after ``<sos>`` and each prefix of the target
        (``[B, L]`` token ids, zero-padded; ``target_len`` [B], all of L when None): position i
        predicts token i, position ``target_len`` predicts ``<eos>``."""
        from kdspeech.models.att_decoder import SOS

        target = target.to(enc.device).long()
        if target_len is None:
            target_len = torch.full((target.shape[0],), target.shape[1], dtype=torch.long, device=enc.device)
        ys_in = F.pad(target, (1, 0), value=SOS)
        return self.decoder(enc, enc_len, ys_in, target_len.to(enc.device).long() + 1)
