"""PANNs audio-tagging CNNs (Kong et al., 2020) for clip classification: CNN14, ResNet38, MobileNetV2.

Layer structure and module names follow the official PANNs code (``conv_block1.conv1``, ``bn0``,
``resnet.layer1.0.conv1``, ``features.3.conv.0``, ``fc1``...), so the backbone of an official AudioSet
checkpoint (a ``.pth`` dict whose ``model`` entry is the state dict) loads strictly.  The AudioSet head
``fc_audioset`` (527 classes) is replaced by a fresh ``fc_transfer`` for the target classes; the
official front-end buffers (``spectrogram_extractor.*``, ``logmel_extractor.*``) are skipped because
our ``frontend`` computes the same 16 kHz log-mel (64 bands, 512-point window, hop 160, 50-8000 Hz,
Slaney mel, 10*log10 power) from its own buffers.

Input: a waveform batch ``[B, T]`` (16 kHz) or cached log-mel features ``[B, frames, 64]`` (what
``kdspeech.bin.dump_feats`` writes, same front end).  Output: class logits ``[B, num_classes]``.
``width`` multiplies every channel count (1.0 = published size), so CPU-scale variants are configs;
``dropout`` scales every dropout rate (1.0 = the published 0.2/0.5/0.1; very narrow variants trained on
a few hundred clips learn nothing with the full rates).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.features import LogMel
from kdspeech.models import MODELS

FRONTEND = {"sr": 16000, "n_fft": 512, "hop": 160, "n_mels": 64, "fmin": 50.0, "fmax": 8000.0}


def _ch(c, width):
    return max(1, int(round(c * width)))


class PannsFrontend(nn.Module):
    """PANNs' log-mel in dB: 10*log10(max(mel power, 1e-10)), as ``[B, frames, n_mels]``."""

    def __init__(self, sr=16000, n_fft=512, hop=160, n_mels=64, fmin=50.0, fmax=8000.0):
        super().__init__()
        self.logmel = LogMel(sr=sr, n_fft=n_fft, hop=hop, n_mels=n_mels, fmin=fmin, fmax=fmax, eps=1e-10)

    def forward(self, wav):
        return (10.0 / math.log(10.0)) * self.logmel(wav).transpose(-1, -2)


def _init_layer(layer):
    nn.init.xavier_uniform_(layer.weight)
    if getattr(layer, "bias", None) is not None:
        layer.bias.data.fill_(0.0)


def _init_bn(bn):
    bn.bias.data.fill_(0.0)
    bn.weight.data.fill_(1.0)


class SpecAugment(nn.Module):
    """PANNs' training-time augmentation: 2 time stripes (<= 64 frames) and 2 mel stripes (<= 8) zeroed."""

    def __init__(self, time_width=64, freq_width=8, stripes=2):
        super().__init__()
        self.time_width, self.freq_width, self.stripes = time_width, freq_width, stripes

    def forward(self, x):  # [B, 1, T, F]
        if not self.training:
            return x
        x = x.clone()
        for dim, width in ((2, self.time_width), (3, self.freq_width)):
            size = x.shape[dim]
            for b in range(x.shape[0]):
                for _ in range(self.stripes):
                    w = int(torch.randint(0, min(width, size) + 1, ()).item())
                    s = int(torch.randint(0, size - w + 1, ()).item())
                    x[b].narrow(dim - 1, s, w).zero_()
        return x


class _PannsBase(nn.Module):
    """Shared front end, ``bn0`` and clip head (``fc1`` + ``fc_transfer``) of the three models."""

    def _setup(self, num_classes, n_mels, emb_in, emb_dim, spec_augment, frontend, dropout=1.0):
        self.drop = float(dropout)
        self.frontend = PannsFrontend(**{**FRONTEND, **(frontend or {}), "n_mels": n_mels})
        self.spec_augment = SpecAugment() if spec_augment else None
        self.bn0 = nn.BatchNorm2d(n_mels)
        self.fc1 = nn.Linear(emb_in, emb_dim, bias=True)
        self.fc_transfer = nn.Linear(emb_dim, num_classes, bias=True)
        _init_bn(self.bn0)
        _init_layer(self.fc1)
        _init_layer(self.fc_transfer)

    def _spectrogram(self, x):
        if x.dim() == 2:        # waveform [B, T]
            x = self.frontend(x)
        elif x.dim() != 3:
            raise ValueError(f"expected audio [B, T] or log-mel [B, frames, mels], got {tuple(x.shape)}")
        x = x.unsqueeze(1)      # [B, 1, frames, mels]
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        if self.spec_augment is not None:
            x = self.spec_augment(x)
        return x

    def _head(self, x):         # x: [B, C, frames, mels'] -> logits
        x = torch.mean(x, dim=3)
        x = F.max_pool1d(x, 3, 1, 1) + F.avg_pool1d(x, 3, 1, 1)
        x = F.dropout(x, p=0.5 * self.drop, training=self.training)
        x = torch.max(x, dim=2)[0] + torch.mean(x, dim=2)
        x = F.dropout(x, p=0.5 * self.drop, training=self.training)
        x = F.relu_(self.fc1(x))
        x = F.dropout(x, p=0.5 * self.drop, training=self.training)
        return self.fc_transfer(x)

    def _load_pretrained(self, pretrained):
        if pretrained:  # the official-checkpoint reader lives with the other external-format loaders
            from kdspeech.models.loaders.panns import load_pretrained
            load_pretrained(self, pretrained)


class ConvBlock(nn.Module):
    """Two 3x3 conv + BN + ReLU, then average pooling (PANNs ``ConvBlock``)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        for m in (self.conv1, self.conv2):
            _init_layer(m)
        for m in (self.bn1, self.bn2):
            _init_bn(m)

    def forward(self, x, pool_size=(2, 2)):
        x = F.relu_(self.bn1(self.conv1(x)))
        x = F.relu_(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, pool_size) if pool_size != (1, 1) else x


@MODELS.register("cnn14")
class Cnn14(_PannsBase):
    """CNN14: six conv blocks 64..2048 channels, fc1 2048 (80.8 M parameters at width 1 with 527 classes)."""

    def __init__(self, num_classes=50, width=1.0, n_mels=64, spec_augment=False, pretrained=None,
                 frontend=None, dropout=1.0):
        super().__init__()
        chans = [_ch(c, width) for c in (64, 128, 256, 512, 1024, 2048)]
        self._setup(num_classes, n_mels, chans[-1], chans[-1], spec_augment, frontend, dropout)
        ins = [1] + chans[:-1]
        for i, (cin, cout) in enumerate(zip(ins, chans), 1):
            setattr(self, f"conv_block{i}", ConvBlock(cin, cout))
        self._load_pretrained(pretrained)

    def forward(self, x):
        x = self._spectrogram(x)
        for i in range(1, 7):
            x = getattr(self, f"conv_block{i}")(x, pool_size=(2, 2) if i < 6 else (1, 1))
            x = F.dropout(x, p=0.2 * self.drop, training=self.training)
        return self._head(x)


class BasicBlock(nn.Module):
    """PANNs ``_ResnetBasicBlock``: stride 2 is an average pooling before conv1 (not a strided conv)."""

    def __init__(self, inplanes, planes, stride=1, downsample=None, drop=1.0):
        super().__init__()
        self.stride, self.drop = stride, drop
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        for m in (self.conv1, self.conv2):
            _init_layer(m)
        _init_bn(self.bn1)
        nn.init.constant_(self.bn2.weight, 0.0)  # zero-initialised residual branch
        nn.init.constant_(self.bn2.bias, 0.0)

    def forward(self, x):
        identity = x
        out = F.avg_pool2d(x, 2) if self.stride == 2 else x
        out = F.relu_(self.bn1(self.conv1(out)))
        out = F.dropout(out, p=0.1 * self.drop, training=self.training)
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(identity)
        return F.relu_(out + identity)


class ResNetBody(nn.Module):
    """``resnet`` of ResNet38: layers of [3, 4, 6, 3] basic blocks, 64/128/256/512 channels (x width)."""

    def __init__(self, layers=(3, 4, 6, 3), width=1.0, drop=1.0):
        super().__init__()
        self.drop = drop
        self.inplanes = _ch(64, width)
        for i, (planes, n, stride) in enumerate(zip((64, 128, 256, 512), layers, (1, 2, 2, 2)), 1):
            setattr(self, f"layer{i}", self._make_layer(_ch(planes, width), n, stride))

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            conv = nn.Conv2d(self.inplanes, planes, 1, 1, bias=False)
            _init_layer(conv)
            bn = nn.BatchNorm2d(planes)
            _init_bn(bn)
            # Official indices: stride 1 -> (conv, bn); stride 2 -> (avgpool, conv, bn).
            downsample = nn.Sequential(conv, bn) if stride == 1 else nn.Sequential(nn.AvgPool2d(2), conv, bn)
        layers = [BasicBlock(self.inplanes, planes, stride, downsample, self.drop)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes, drop=self.drop) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return x


@MODELS.register("resnet38")
class ResNet38(_PannsBase):
    """ResNet38: conv_block1 (64), ResNet [3,4,6,3], conv_block_after1 (2048), fc1 2048."""

    def __init__(self, num_classes=50, width=1.0, n_mels=64, spec_augment=False, pretrained=None,
                 frontend=None, dropout=1.0):
        super().__init__()
        emb = _ch(2048, width)
        self._setup(num_classes, n_mels, emb, emb, spec_augment, frontend, dropout)
        self.conv_block1 = ConvBlock(1, _ch(64, width))
        self.resnet = ResNetBody(width=width, drop=float(dropout))
        self.conv_block_after1 = ConvBlock(_ch(512, width), emb)
        self._load_pretrained(pretrained)

    def forward(self, x):
        x = self._spectrogram(x)
        x = self.conv_block1(x, pool_size=(2, 2))
        x = F.dropout(x, p=0.2 * self.drop, training=self.training)
        x = self.resnet(x)
        x = F.avg_pool2d(x, 2)
        x = F.dropout(x, p=0.2 * self.drop, training=self.training)
        x = self.conv_block_after1(x, pool_size=(1, 1))
        x = F.dropout(x, p=0.2 * self.drop, training=self.training)
        return self._head(x)


class InvertedResidual(nn.Module):
    """PANNs' MobileNetV2 block: stride as an average pooling after the depthwise conv."""

    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = [] if expand_ratio == 1 else [nn.Conv2d(inp, hidden, 1, 1, 0, bias=False),
                                               nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden, bias=False), nn.AvgPool2d(stride),
                   nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        for m in self.conv:
            if isinstance(m, nn.Conv2d):
                _init_layer(m)
            elif isinstance(m, nn.BatchNorm2d):
                _init_bn(m)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


MOBILENETV2_SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 2),
                       (6, 160, 3, 1), (6, 320, 1, 1)]  # expansion t, channels c, repeats n, stride s


@MODELS.register("mobilenetv2")
class MobileNetV2(_PannsBase):
    """MobileNetV2 (PANNs): 32-channel stem, 17 inverted residuals, 1x1 conv to 1280, fc1 1024."""

    def __init__(self, num_classes=50, width=1.0, n_mels=64, spec_augment=False, pretrained=None,
                 frontend=None, dropout=1.0):
        super().__init__()
        cin, last = _ch(32, width), _ch(1280, width)
        self._setup(num_classes, n_mels, last, _ch(1024, width), spec_augment, frontend, dropout)
        stem = nn.Sequential(nn.Conv2d(1, cin, 3, 1, 1, bias=False), nn.AvgPool2d(2), nn.BatchNorm2d(cin),
                             nn.ReLU(inplace=True))
        features = [stem]
        for t, c, n, s in MOBILENETV2_SETTING:
            cout = _ch(c, width)
            for i in range(n):
                features.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        features.append(nn.Sequential(nn.Conv2d(cin, last, 1, 1, 0, bias=False), nn.BatchNorm2d(last),
                                      nn.ReLU(inplace=True)))
        self.features = nn.Sequential(*features)
        for seq in (features[0], features[-1]):
            _init_layer(seq[0])
            _init_bn(seq[-2])
        self._load_pretrained(pretrained)

    def forward(self, x):
        x = self._spectrogram(x)
        x = self.features(x)
        return self._head(x)
