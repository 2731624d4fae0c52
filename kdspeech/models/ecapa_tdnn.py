"""ECAPA-TDNN (Desplanques et al., 2020): SE-Res2Net blocks, multi-layer feature aggregation,
attentive statistics pooling, 192-d embedding; the teacher of Serre et al.

Two module trees, one per public checkpoint layout, so that each loads with its own key names
(``kdspeech.models.loaders.ecapa``):

* ``layout: taoruijie`` (default; the paper's teacher, TaoRuijie/ECAPA-TDNN ``pretrain.model``,
  keys ``speaker_encoder.<these>``): its own fbank front end (``torchfbank``), ``conv1`` (k 5) ->
  3 ``Bottle2neck`` layers (Res2Net, scale 8, dilations 2/3/4, each layer fed the sum of the stem and
  the previous layers' outputs) -> ``layer4`` (3C -> 1536) -> attention (global mean/std context,
  4608 -> 256 -> 1536, softmax over time) -> ``bn5`` / ``fc6`` / ``bn6``.  Zero 'same' padding.
* ``layout: speechbrain`` (SpeechBrain ``spkrec-ecapa-voxceleb`` ``embedding_model.ckpt``):
  ``blocks.0`` TDNN (k 5) and ``blocks.1-3`` SE-Res2Net blocks, ``mfa`` (3C -> 3C), ``asp`` (tdnn
  9C -> 128, conv 128 -> 3C), ``asp_bn``, ``fc``; every conv is ``<name>.conv.conv`` and every
  BatchNorm ``<name>.norm.norm`` (SpeechBrain's wrappers), convolutions pad by reflection.  The
  front end (``frontend``) is not in SpeechBrain's file (``speaker_frontend.SpeechBrainFbank``).

``channels`` (C, 1024 in both published models) sets the width, e.g. 256 or 512 for a teacher trained
here with ``aam_softmax``.  forward takes a 16 kHz waveform ``[B, T]`` (or features
``[B, frames, 80]``) and returns ``{"emb": [B, emb_dim]}``.
"""

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS
from kdspeech.models.speaker_frontend import SpeechBrainFbank, TaoRuijieFbank

LAYOUTS = ("taoruijie", "speechbrain")


def _features(model, wav):
    if wav.dim() == 3:
        if wav.shape[-1] != model.n_mels:
            raise KdError(f"ecapa_tdnn: features must be [B, frames, {model.n_mels}], got {tuple(wav.shape)}")
        return wav.transpose(1, 2).float()
    if wav.dim() != 2:
        raise KdError(f"ecapa_tdnn: input must be a waveform [B, T] or features [B, frames, "
                      f"{model.n_mels}], got {tuple(wav.shape)}")
    return model.frontend_module(wav.float())


# --------------------------------------------------------------------------- TaoRuijie layout


class _SE(nn.Module):
    """``se`` = [avg pool, conv C->b, ReLU, conv b->C, sigmoid]; gates the channels."""

    def __init__(self, channels, bottleneck=128):
        super().__init__()
        self.se = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Conv1d(channels, bottleneck, 1), nn.ReLU(),
                                nn.Conv1d(bottleneck, channels, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.se(x)


class Bottle2neck(nn.Module):
    """1x1 conv -> Res2Net (the first scale-1 groups convolved cumulatively, the last passed through)
    -> 1x1 conv -> SE, plus the input; conv -> ReLU -> BatchNorm everywhere."""

    def __init__(self, channels, kernel, dilation, scale=8, se_channels=128):
        super().__init__()
        if channels % scale:
            raise KdError(f"ecapa_tdnn: channels {channels} must be a multiple of the Res2Net scale {scale}")
        width = channels // scale
        self.conv1, self.bn1 = nn.Conv1d(channels, width * scale, 1), nn.BatchNorm1d(width * scale)
        pad = kernel // 2 * dilation
        self.convs = nn.ModuleList(nn.Conv1d(width, width, kernel, dilation=dilation, padding=pad)
                                   for _ in range(scale - 1))
        self.bns = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(scale - 1))
        self.conv3, self.bn3 = nn.Conv1d(width * scale, channels, 1), nn.BatchNorm1d(channels)
        self.se = _SE(channels, se_channels)
        self.width = width

    def forward(self, x):
        parts = torch.split(self.bn1(F.relu(self.conv1(x))), self.width, dim=1)
        outs, sp = [], None
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            sp = parts[i] if i == 0 else sp + parts[i]
            sp = bn(F.relu(conv(sp)))
            outs.append(sp)
        out = torch.cat(outs + [parts[-1]], dim=1)
        return self.se(self.bn3(F.relu(self.conv3(out)))) + x


class EcapaTaoRuijie(nn.Module):
    def __init__(self, channels=1024, emb_dim=192, n_mels=80, mfa_channels=1536, attention_channels=256,
                 se_channels=128, scale=8):
        super().__init__()
        self.n_mels = n_mels
        self.torchfbank = TaoRuijieFbank(n_mels=n_mels)
        self.conv1, self.bn1 = nn.Conv1d(n_mels, channels, 5, padding=2), nn.BatchNorm1d(channels)
        self.layer1 = Bottle2neck(channels, 3, 2, scale, se_channels)
        self.layer2 = Bottle2neck(channels, 3, 3, scale, se_channels)
        self.layer3 = Bottle2neck(channels, 3, 4, scale, se_channels)
        self.layer4 = nn.Conv1d(3 * channels, mfa_channels, 1)
        self.attention = nn.Sequential(
            nn.Conv1d(3 * mfa_channels, attention_channels, 1), nn.ReLU(), nn.BatchNorm1d(attention_channels),
            nn.Tanh(), nn.Conv1d(attention_channels, mfa_channels, 1), nn.Softmax(dim=2))
        self.bn5 = nn.BatchNorm1d(2 * mfa_channels)
        self.fc6 = nn.Linear(2 * mfa_channels, emb_dim)
        self.bn6 = nn.BatchNorm1d(emb_dim)

    @property
    def frontend_module(self):
        return self.torchfbank

    def forward(self, wav):
        x = self.bn1(F.relu(self.conv1(_features(self, wav))))
        x1 = self.layer1(x)
        x2 = self.layer2(x + x1)
        x3 = self.layer3(x + x1 + x2)
        x = F.relu(self.layer4(torch.cat([x1, x2, x3], dim=1)))
        frames = x.shape[-1]
        mean = x.mean(dim=2, keepdim=True)
        std = x.var(dim=2, keepdim=True).clamp(min=1e-4).sqrt()
        w = self.attention(torch.cat([x, mean.expand(-1, -1, frames), std.expand(-1, -1, frames)], dim=1))
        mu = (x * w).sum(dim=2)
        sg = ((x * x * w).sum(dim=2) - mu * mu).clamp(min=1e-4).sqrt()
        return {"emb": self.bn6(self.fc6(self.bn5(torch.cat([mu, sg], dim=1))))}


# --------------------------------------------------------------------------- SpeechBrain layout


class SbConv(nn.Module):
    """SpeechBrain's Conv1d wrapper: ``conv`` with 'same' reflection padding."""

    def __init__(self, cin, cout, kernel, dilation=1):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, dilation=dilation)
        self.pad = dilation * (kernel - 1) // 2

    def forward(self, x):
        return self.conv(F.pad(x, (self.pad, self.pad), mode="reflect") if self.pad else x)


class SbNorm(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x):
        return self.norm(x)


class TdnnBlock(nn.Module):
    """conv -> ReLU -> BatchNorm."""

    def __init__(self, cin, cout, kernel, dilation=1):
        super().__init__()
        self.conv, self.norm = SbConv(cin, cout, kernel, dilation), SbNorm(cout)

    def forward(self, x):
        return self.norm(F.relu(self.conv(x)))


class Res2NetBlock(nn.Module):
    """First group passed through, group i>=1 -> block(group i + output of group i-1)."""

    def __init__(self, channels, scale, kernel, dilation):
        super().__init__()
        self.blocks = nn.ModuleList(TdnnBlock(channels // scale, channels // scale, kernel, dilation)
                                    for _ in range(scale - 1))
        self.scale = scale

    def forward(self, x):
        out = []
        for i, part in enumerate(torch.chunk(x, self.scale, dim=1)):
            out.append(part if i == 0 else self.blocks[i - 1](part if i == 1 else part + out[-1]))
        return torch.cat(out, dim=1)


class SbSE(nn.Module):
    def __init__(self, channels, se_channels):
        super().__init__()
        self.conv1, self.conv2 = SbConv(channels, se_channels, 1), SbConv(se_channels, channels, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.conv2(F.relu(self.conv1(x.mean(dim=2, keepdim=True)))))


class SERes2NetBlock(nn.Module):
    def __init__(self, channels, kernel, dilation, scale=8, se_channels=128):
        super().__init__()
        if channels % scale:
            raise KdError(f"ecapa_tdnn: channels {channels} must be a multiple of the Res2Net scale {scale}")
        self.tdnn1 = TdnnBlock(channels, channels, 1)
        self.res2net_block = Res2NetBlock(channels, scale, kernel, dilation)
        self.tdnn2 = TdnnBlock(channels, channels, 1)
        self.se_block = SbSE(channels, se_channels)

    def forward(self, x):
        return self.se_block(self.tdnn2(self.res2net_block(self.tdnn1(x)))) + x


def _weighted_stats(x, w, eps=1e-12):
    mean = (w * x).sum(dim=2)
    std = (w * (x - mean.unsqueeze(2)).pow(2)).sum(dim=2).clamp(min=eps).sqrt()
    return mean, std


class AttentiveStatsPool(nn.Module):
    def __init__(self, channels, attention_channels=128):
        super().__init__()
        self.tdnn = TdnnBlock(3 * channels, attention_channels, 1)
        self.conv = SbConv(attention_channels, channels, 1)

    def forward(self, x):
        frames = x.shape[-1]
        mean, std = _weighted_stats(x, torch.full_like(x[:, :1], 1.0 / frames))
        ctx = torch.cat([x, mean.unsqueeze(2).expand(-1, -1, frames), std.unsqueeze(2).expand(-1, -1, frames)], 1)
        w = F.softmax(self.conv(torch.tanh(self.tdnn(ctx))), dim=2)
        return torch.cat(_weighted_stats(x, w), dim=1)


class EcapaSpeechBrain(nn.Module):
    def __init__(self, channels=1024, emb_dim=192, n_mels=80, mfa_channels=None, attention_channels=128,
                 se_channels=128, scale=8):
        super().__init__()
        mfa_channels = mfa_channels or 3 * channels
        self.n_mels = n_mels
        self.frontend = SpeechBrainFbank(n_mels=n_mels)
        self.blocks = nn.ModuleList([TdnnBlock(n_mels, channels, 5)] + [
            SERes2NetBlock(channels, 3, d, scale, se_channels) for d in (2, 3, 4)])
        self.mfa = TdnnBlock(3 * channels, mfa_channels, 1)
        self.asp = AttentiveStatsPool(mfa_channels, attention_channels)
        self.asp_bn = SbNorm(2 * mfa_channels)
        self.fc = SbConv(2 * mfa_channels, emb_dim, 1)

    @property
    def frontend_module(self):
        return self.frontend

    def forward(self, wav):
        x = _features(self, wav)
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        x = self.asp_bn(self.asp(self.mfa(torch.cat(outs[1:], dim=1))))
        return {"emb": self.fc(x.unsqueeze(2)).squeeze(2)}


@MODELS.register("ecapa_tdnn")
def ecapa_tdnn(layout="taoruijie", channels=1024, emb_dim=192, n_mels=80, mfa_channels=None,
               attention_channels=None, se_channels=128, scale=8):
    """An ECAPA-TDNN of ``layout`` (taoruijie | speechbrain); see the module docstring."""
    if layout not in LAYOUTS:
        raise KdError(f"ecapa_tdnn: layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    conf = dict(channels=int(channels), emb_dim=int(emb_dim), n_mels=int(n_mels),
                se_channels=int(se_channels), scale=int(scale))
    if layout == "taoruijie":
        return EcapaTaoRuijie(mfa_channels=int(mfa_channels or 1536),
                              attention_channels=int(attention_channels or 256), **conf)
    return EcapaSpeechBrain(mfa_channels=mfa_channels and int(mfa_channels),
                            attention_channels=int(attention_channels or 128), **conf)
