"""Complex-valued building blocks (DCCRN style) on real tensors.

A complex feature map is a real tensor whose channel axis (dim 1) holds the real parts in its first
half and the imaginary parts in its second half: ``[B, 2C, ...]`` stands for ``C`` complex channels.
Sizes given to the layers here count real + imaginary channels, as Hu et al. (2020) count them, so
``ComplexConv2d(32, 64)`` maps 16 complex channels to 32 complex channels with two real
``Conv2d(16, 32)`` (W = W_r + i W_i):

    (W_r + i W_i) * (x_r + i x_i) = (W_r*x_r - W_i*x_i) + i (W_r*x_i + W_i*x_r)

Each real layer is run once on the real and imaginary inputs stacked along the batch axis, so a
complex layer costs two real calls (the MAC counter sees the four real products it amounts to).
"""

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.errors import KdError


def split(x, dim=1):
    """``[.., 2C, ..]`` -> (real ``[.., C, ..]``, imaginary ``[.., C, ..]``)."""
    if x.shape[dim] % 2:
        raise KdError(f"a complex feature map needs an even size along dim {dim}, not {x.shape[dim]}")
    return torch.chunk(x, 2, dim)


def complex_cat(tensors, dim=1):
    """Concatenate complex maps: real parts first, then imaginary parts (the layout kept)."""
    parts = [split(t, dim) for t in tensors]
    return torch.cat([p[0] for p in parts] + [p[1] for p in parts], dim)


def _apply_pair(layer_r, layer_i, x):
    """Real layers (W_r, W_i) applied as one complex layer to ``x`` = [B, 2C, ...]."""
    xr, xi = split(x)
    both = torch.cat([xr, xi], 0)  # the batch axis carries (real inputs, imaginary inputs)
    yr_r, yr_i = torch.chunk(layer_r(both), 2, 0)  # W_r x_r, W_r x_i
    yi_r, yi_i = torch.chunk(layer_i(both), 2, 0)  # W_i x_r, W_i x_i
    return torch.cat([yr_r - yi_i, yr_i + yi_r], 1)


def _halves(in_channels, out_channels, kind):
    if in_channels % 2 or out_channels % 2:
        raise KdError(f"{kind}: channel counts are real + imaginary and must be even "
                      f"(got {in_channels} -> {out_channels})")
    return in_channels // 2, out_channels // 2


class ComplexConv2d(nn.Module):
    """Complex Conv2d over ``[B, 2C, F, T]`` (kernel/stride/padding as ``nn.Conv2d``; ``causal_time``
    pads ``kernel_t - 1`` frames on the left of the last axis instead of any time padding)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, causal_time=False):
        super().__init__()
        c_in, c_out = _halves(in_channels, out_channels, "ComplexConv2d")
        kernel_size = tuple(kernel_size) if isinstance(kernel_size, (list, tuple)) else (kernel_size,) * 2
        padding = tuple(padding) if isinstance(padding, (list, tuple)) else (padding,) * 2
        self.time_pad = kernel_size[1] - 1 if causal_time else 0
        if causal_time:
            padding = (padding[0], 0)
        self.real = nn.Conv2d(c_in, c_out, kernel_size, stride, padding)
        self.imag = nn.Conv2d(c_in, c_out, kernel_size, stride, padding)

    def forward(self, x):
        if self.time_pad:
            x = F.pad(x, (self.time_pad, 0))
        return _apply_pair(self.real, self.imag, x)


class ComplexConvTranspose2d(nn.Module):
    """Complex ConvTranspose2d over ``[B, 2C, F, T]``; ``causal_time`` keeps the first T output frames
    (each then depends on the current and past input frames only)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 causal_time=False):
        super().__init__()
        c_in, c_out = _halves(in_channels, out_channels, "ComplexConvTranspose2d")
        self.causal_time = causal_time
        self.real = nn.ConvTranspose2d(c_in, c_out, kernel_size, stride, padding, output_padding)
        self.imag = nn.ConvTranspose2d(c_in, c_out, kernel_size, stride, padding, output_padding)

    def forward(self, x):
        frames = x.shape[-1]
        y = _apply_pair(self.real, self.imag, x)
        return y[..., :frames] if self.causal_time else y


class ComplexBatchNorm(nn.Module):
    """Complex batch normalisation (Trabelsi et al., 2018), per complex channel.

    The 2-vector (real, imaginary) of each channel is centred and whitened by the inverse square root
    of its 2x2 covariance ``V = [[Vrr, Vri], [Vri, Vii]]`` (eps added to the diagonal), then scaled by a
    learned symmetric ``[[Wrr, Wri], [Wri, Wii]]`` (initialised to I/sqrt 2) and shifted by
    ``(Br, Bi)``: 5 parameters per complex channel.  For a 2x2 SPD matrix with ``s = sqrt(det V)`` and
    ``t = sqrt(Vrr + Vii + 2 s)``, ``V^-1/2 = [[Vii + s, -Vri], [-Vri, Vrr + s]] / (s t)``.
    Running mean and covariance (momentum as ``nn.BatchNorm``) are used in eval mode.
    """

    def __init__(self, num_channels, eps=1e-5, momentum=0.1):
        super().__init__()
        c = _halves(num_channels, num_channels, "ComplexBatchNorm")[0]
        self.eps, self.momentum = float(eps), float(momentum)
        self.Wrr = nn.Parameter(torch.full((c,), 2 ** -0.5))
        self.Wri = nn.Parameter(torch.zeros(c))
        self.Wii = nn.Parameter(torch.full((c,), 2 ** -0.5))
        self.Br = nn.Parameter(torch.zeros(c))
        self.Bi = nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mr", torch.zeros(c))
        self.register_buffer("running_mi", torch.zeros(c))
        self.register_buffer("running_Vrr", torch.ones(c))
        self.register_buffer("running_Vri", torch.zeros(c))
        self.register_buffer("running_Vii", torch.ones(c))

    def forward(self, x):
        xr, xi = split(x)
        shape = [1, -1] + [1] * (x.dim() - 2)
        axes = [0] + list(range(2, x.dim()))
        if self.training:
            mr, mi = xr.mean(axes), xi.mean(axes)
            cr, ci = xr - mr.view(shape), xi - mi.view(shape)
            vrr, vri, vii = (cr * cr).mean(axes), (cr * ci).mean(axes), (ci * ci).mean(axes)
            with torch.no_grad():
                m = self.momentum
                for name, value in (("mr", mr), ("mi", mi), ("Vrr", vrr), ("Vri", vri), ("Vii", vii)):
                    buf = getattr(self, f"running_{name}")
                    buf.mul_(1 - m).add_(m * value.detach())
        else:
            mr, mi = self.running_mr, self.running_mi
            vrr, vri, vii = self.running_Vrr, self.running_Vri, self.running_Vii
            cr, ci = xr - mr.view(shape), xi - mi.view(shape)
        vrr, vii = vrr + self.eps, vii + self.eps
        s = (vrr * vii - vri * vri).clamp_min(1e-12).sqrt()
        t = (vrr + vii + 2 * s).sqrt()
        inv = 1.0 / (s * t)
        prr, pii, pri = (vii + s) * inv, (vrr + s) * inv, -vri * inv
        nr = prr.view(shape) * cr + pri.view(shape) * ci
        ni = pri.view(shape) * cr + pii.view(shape) * ci
        yr = self.Wrr.view(shape) * nr + self.Wri.view(shape) * ni + self.Br.view(shape)
        yi = self.Wri.view(shape) * nr + self.Wii.view(shape) * ni + self.Bi.view(shape)
        return torch.cat([yr, yi], 1)


class ComplexLSTM(nn.Module):
    """One complex LSTM layer ("naive" complex LSTM of DCCRN): two real LSTMs L_r, L_i and

        out_r = L_r(x_r) - L_i(x_i),   out_i = L_r(x_i) + L_i(x_r)

    on ``[B, T, 2D]`` (real features first, then imaginary).  ``input_size``/``hidden_size`` count
    real + imaginary (each real LSTM has half of them); ``projection`` adds a complex linear map of
    the output to that size (real + imaginary), as DCCRN's last LSTM layer does."""

    def __init__(self, input_size, hidden_size, projection=None):
        super().__init__()
        d_in, d_h = _halves(input_size, hidden_size, "ComplexLSTM")
        self.real = nn.LSTM(d_in, d_h, batch_first=True)
        self.imag = nn.LSTM(d_in, d_h, batch_first=True)
        self.proj = None
        if projection is not None:
            d_p = _halves(hidden_size, projection, "ComplexLSTM projection")[1]
            self.proj_r, self.proj_i = nn.Linear(d_h, d_p), nn.Linear(d_h, d_p)
            self.proj = True

    def forward(self, x):
        xr, xi = split(x, -1)
        both = torch.cat([xr, xi], 0)
        rr, ri = torch.chunk(self.real(both)[0], 2, 0)  # L_r(x_r), L_r(x_i)
        ir, ii = torch.chunk(self.imag(both)[0], 2, 0)  # L_i(x_r), L_i(x_i)
        out_r, out_i = rr - ii, ri + ir
        if self.proj is not None:
            # the authors' projection maps real and imaginary outputs separately (no cross terms)
            out_r, out_i = self.proj_r(out_r), self.proj_i(out_i)
        return torch.cat([out_r, out_i], -1)
