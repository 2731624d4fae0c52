"""The kept frame of a one-frame transposed convolution (kdspeech.models.streaming.spectral.
deconv_frames, n = 1): equal, within float32 rounding, to the full transposed convolution narrowed to frame
``kt - 1``, for both layouts (CRN [B, C, T, F] with an output size, DCCRN [B, C, F, T] with its
output padding), strides, paddings and dilations in frequency, in torch (``F.fold``) and as an ONNX
export traces it (shifted sums); the same for the n kept frames of a k-hop step (``deconv_frames``,
n = 3: the full transposed convolution narrowed to frames ``kt - 1 .. kt + 1``); a time stride is
refused; a weight changed in place is followed."""

from unittest import mock

import pytest
import torch
from torch import nn

from kdspeech.models.streaming.spectral import deconv_frames

CASES = [  # time axis, time kernel, frequency kernel, stride, padding, output padding / extra size, dilation
    (2, 2, 3, 2, 0, 0, 1), (2, 2, 3, 2, 0, 1, 1), (2, 3, 3, 1, 1, 0, 1),
    (3, 2, 5, 2, 2, 1, 1), (3, 3, 4, 3, 1, 2, 1), (3, 2, 3, 2, 1, 0, 2),
]


@pytest.mark.parametrize("frames", [1, 3])
@pytest.mark.parametrize("exporting", [False, True])
@pytest.mark.parametrize("axis,kt,kf,stride,pad,extra,dil", CASES)
def test_kept_frame_equals_the_full_transposed_convolution(axis, kt, kf, stride, pad, extra, dil, exporting, frames):
    generator = torch.Generator().manual_seed(kt * 10 + kf)
    f_in, t_in = 11, kt - 1 + frames
    if axis == 2:
        deconv = nn.ConvTranspose2d(6, 4, (kt, kf), stride=(1, stride), padding=(0, pad), dilation=(1, dil))
        x = torch.randn(2, 6, t_in, f_in, generator=generator)
        size = (f_in - 1) * stride - 2 * pad + dil * (kf - 1) + 1 + extra
        full = deconv(x, output_size=(t_in + kt - 1, size))[:, :, kt - 1:kt - 1 + frames]
        args = {"freq_size": size}
    else:
        deconv = nn.ConvTranspose2d(6, 4, (kf, kt), stride=(stride, 1), padding=(pad, 0), dilation=(dil, 1),
                                    output_padding=(extra, 0))
        x = torch.randn(2, 6, f_in, t_in, generator=generator)
        full = deconv(x)[..., kt - 1:kt - 1 + frames]
        args = {}
    with torch.no_grad(), mock.patch("torch.onnx.is_in_onnx_export", return_value=exporting):
        kept = deconv_frames(deconv, x, axis, **args)
    assert kept.shape == full.shape and torch.allclose(kept, full, atol=1e-6, rtol=0)


def test_time_stride_refused_and_a_changed_weight_followed():
    x = torch.randn(1, 4, 2, 5)
    with pytest.raises(ValueError, match="time stride 1"):
        deconv_frames(nn.ConvTranspose2d(4, 2, (2, 3), stride=(2, 2)), x, 2, freq_size=11)
    deconv = nn.ConvTranspose2d(4, 2, (2, 3), stride=(1, 2))
    with torch.no_grad():
        before = deconv_frames(deconv, x, 2, freq_size=11) - deconv.bias[:, None, None]
        deconv.weight.mul_(2)                                         # the cached folded weight follows
        after = deconv_frames(deconv, x, 2, freq_size=11) - deconv.bias[:, None, None]
    assert torch.allclose(after, 2 * before, atol=1e-6)
