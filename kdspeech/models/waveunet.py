"""Time-domain Wave-U-Net for speech enhancement (as used by the SNR-based teachers-student paper).

Encoder: ``num_layers`` blocks of Conv1d(kernel ``enc_kernel``) + BatchNorm + LeakyReLU(``slope``);
block i has ``base_channels + i * growth`` channels and the first ``num_decimations`` blocks are
followed by decimation by 2 (keep every other sample).  A bottleneck block of the same kind, then
``num_layers`` decoder blocks mirroring the encoder: the mirrors of decimating blocks first upsample by
linear interpolation, every block concatenates the encoder's skip output and applies Conv1d(kernel
``dec_kernel``) + BatchNorm + LeakyReLU.  The output layer sees the decoder output concatenated with
the input waveform (1x1 conv, tanh).  ``norm: none`` drops the BatchNorms (per-process batch
statistics are the one thing that makes a DDP run differ from one process on the whole batch).
``output_init: identity`` starts the output layer at the identity (weight 1 on the input waveform, 0 on
the decoder features and the bias), so that an untrained model returns tanh(noisy) and training only
has to learn the correction; ``default`` is PyTorch's initialisation.  Same padding everywhere.  The paper size (defaults) has about
12.8M parameters and takes 16384-sample inputs; any length works at inference (padded internally to a
multiple of 2**num_decimations and cut back).
"""

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.models import MODELS


class ConvBlock(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, slope, norm="batch"):
        super().__init__(
            nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2),
            nn.BatchNorm1d(c_out) if norm == "batch" else nn.Identity(),
            nn.LeakyReLU(slope),
        )


@MODELS.register("waveunet")
class WaveUNet(nn.Module):
    cpu_precision = "bf16"   # trainer.precision auto on a CPU with bf16: step 0.47-0.69 of fp32 (bench_precision)

    def __init__(self, num_layers=12, base_channels=48, growth=24, num_decimations=7,
                 enc_kernel=15, dec_kernel=5, slope=0.1, output_activation="tanh", norm="batch",
                 output_init="default"):
        super().__init__()
        if not 0 <= num_decimations <= num_layers:
            raise ValueError(f"num_decimations={num_decimations} must lie in [0, num_layers={num_layers}]")
        if output_activation not in ("tanh", "none"):
            raise ValueError(f"output_activation must be 'tanh' or 'none', not {output_activation!r}")
        if norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', not {norm!r}")
        if output_init not in ("default", "identity"):
            raise ValueError(f"output_init must be 'default' or 'identity', not {output_init!r}")
        self.num_decimations = num_decimations
        channels = [base_channels + growth * i for i in range(num_layers)]
        self.encoder = nn.ModuleList()
        c_in = 1
        for c in channels:
            self.encoder.append(ConvBlock(c_in, c, enc_kernel, slope, norm))
            c_in = c
        c_mid = base_channels + growth * num_layers
        self.bottleneck = ConvBlock(c_in, c_mid, enc_kernel, slope, norm)
        self.decoder = nn.ModuleList()
        c_prev = c_mid
        for c in reversed(channels):
            self.decoder.append(ConvBlock(c_prev + c, c, dec_kernel, slope, norm))
            c_prev = c
        self.output = nn.Conv1d(c_prev + 1, 1, 1)
        if output_init == "identity":
            with torch.no_grad():
                self.output.weight.zero_()
                self.output.weight[0, -1, 0] = 1.0   # the input waveform is the last channel
                self.output.bias.zero_()
        self.output_activation = output_activation

    def forward(self, wav):
        """``wav``: [B, T] (or [B, 1, T]) noisy waveform -> [B, T] enhanced waveform."""
        squeeze = wav.dim() == 2
        x = wav.unsqueeze(1) if squeeze else wav
        length = x.shape[-1]
        multiple = 2 ** self.num_decimations
        pad = (-length) % multiple
        if pad:
            x = F.pad(x, (0, pad))
        inp = x
        skips = []
        for i, block in enumerate(self.encoder):
            x = block(x)
            skips.append(x)
            if i < self.num_decimations:
                x = x[..., ::2]
        x = self.bottleneck(x)
        for block, skip in zip(self.decoder, reversed(skips)):
            if x.shape[-1] != skip.shape[-1]:
                x = F.interpolate(x, size=skip.shape[-1], mode="linear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        x = self.output(torch.cat([x, inp], dim=1))
        if self.output_activation == "tanh":
            x = torch.tanh(x)
        x = x[..., :length]
        return x.squeeze(1) if squeeze else x
