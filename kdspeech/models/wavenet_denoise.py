"""Wavenet-denoising: the speech-denoising WaveNet of Rethage, Pons and Serra ("A Wavenet for Speech
Denoising", ICASSP 2018), one of the baselines of the SNR-based teachers-student paper (Hao et al.
2020, Table 3).

Why here: the recipes compare their Wave-U-Net student with another time-domain model; this one keeps
WaveNet's dilated gated convolutions but drops its causality and its autoregression, so every output
sample is predicted in one pass from past and future context.

Structure (defaults = the authors' released configuration):

- an initial convolution of ``kernel`` (3) taps from the waveform to ``res_channels`` (128),
- ``stacks`` (3) stacks of residual blocks with dilations 1, 2, 4, ..., 2^``max_dilation_exp`` (9:
  up to 512), 30 blocks; each block: a dilated convolution of ``kernel`` taps to 2 x res_channels, the
  gated unit tanh(a) * sigmoid(b), a 1x1 convolution back to res_channels added to the block input
  (residual) and a 1x1 convolution to ``skip_channels`` (128) (skip),
- the sum of all skips, ReLU, a convolution of 3 taps to ``final_channels[0]`` (2048), ReLU, a
  convolution of 3 taps to ``final_channels[1]`` (256), and a 1x1 convolution to one output channel:
  the clean-speech estimate (linear output: regression, not WaveNet's softmax over quantised
  amplitudes).

Every convolution is centred ("same" zero padding): non-causal.  The receptive field is
``receptive_field`` samples, (rf - 1) / 2 on each side of an output sample: 6145 at the defaults
(6139 in the residual stacks, as the authors count, plus 2 for each of the three 3-tap convolutions
around them), 384 ms at 16 kHz.  The authors train on a "target field" of 1601 samples predicted from
an input of rf + 1600 samples; with a fully convolutional network this is the same as predicting a
whole crop and scoring only the samples whose receptive field lies inside it, which the ``l1_target``
loss does with ``margin: (rf - 1) / 2``.  Their conditioning on the speaker (a one-hot input) is left
out: the recipes' mixtures carry no such label.

forward(wav [B, T] or [B, 1, T]) -> waveform of the same shape (the estimate of the clean speech).

Size: 6,283,265 parameters at the defaults; the CPU recipe uses 1 stack of dilations up to 2^7 with
16 channels (19,505 parameters, a 517-sample field).
"""

import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS
from kdspeech.models.spectral import as_batch


def same_conv(c_in, c_out, kernel, dilation=1, bias=True):
    """A Conv1d that keeps the length and is centred (odd kernels only)."""
    if kernel % 2 != 1:
        raise KdError(f"wavenet_denoise: kernels must be odd to be centred, not {kernel}")
    return nn.Conv1d(c_in, c_out, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2, bias=bias)


class GatedResidualBlock(nn.Module):
    """Dilated convolution, tanh x sigmoid gate, 1x1 residual and 1x1 skip outputs."""

    def __init__(self, res_channels, skip_channels, kernel, dilation, last=False):
        super().__init__()
        self.dilated = same_conv(res_channels, 2 * res_channels, kernel, dilation, bias=False)
        # The last block's residual output would feed nothing: it has none (no dead parameters).
        self.residual = None if last else nn.Conv1d(res_channels, res_channels, 1)
        self.skip = nn.Conv1d(res_channels, skip_channels, 1)

    def forward(self, x):
        a, b = self.dilated(x).chunk(2, dim=1)
        gated = torch.tanh(a) * torch.sigmoid(b)
        return (None if self.residual is None else x + self.residual(gated)), self.skip(gated)


@MODELS.register("wavenet_denoise")
class WavenetDenoise(nn.Module):
    cpu_precision = "bf16"   # trainer.precision auto on a CPU with bf16: step 0.86 of fp32 (bench_precision)

    def __init__(self, stacks=3, max_dilation_exp=9, res_channels=128, skip_channels=128, kernel=3,
                 final_channels=(2048, 256), final_kernel=3):
        super().__init__()
        stacks, max_dilation_exp = int(stacks), int(max_dilation_exp)
        if stacks < 1 or max_dilation_exp < 0:
            raise KdError(f"wavenet_denoise: need stacks >= 1 and max_dilation_exp >= 0 "
                          f"(got {stacks}, {max_dilation_exp})")
        final_channels = [int(c) for c in final_channels]
        if len(final_channels) != 2:
            raise KdError(f"wavenet_denoise: final_channels takes two sizes, not {final_channels}")
        kernel, final_kernel = int(kernel), int(final_kernel)
        self.dilations = [2 ** i for i in range(max_dilation_exp + 1)] * stacks
        self.initial = same_conv(1, res_channels, kernel, bias=False)
        self.blocks = nn.ModuleList(
            GatedResidualBlock(res_channels, skip_channels, kernel, d, last=i == len(self.dilations) - 1)
            for i, d in enumerate(self.dilations))
        self.final = nn.Sequential(
            nn.ReLU(), same_conv(skip_channels, final_channels[0], final_kernel, bias=False),
            nn.ReLU(), same_conv(final_channels[0], final_channels[1], final_kernel, bias=False),
            nn.Conv1d(final_channels[1], 1, 1))
        self.receptive_field = (1 + (kernel - 1) + sum((kernel - 1) * d for d in self.dilations)
                                + 2 * (final_kernel - 1))

    def forward(self, wav):
        x, unsqueeze = as_batch(wav)
        h = self.initial(x[:, None])
        skips = 0
        for block in self.blocks:
            h, skip = block(h)
            skips = skips + skip
        out = self.final(skips)[:, 0]
        return out[:, None] if unsqueeze else out

    @property
    def margin(self):
        """Samples of context on each side of an output sample ((rf - 1) / 2): the ``margin`` of a
        target-field ``l1_target`` loss."""
        return (self.receptive_field - 1) // 2

