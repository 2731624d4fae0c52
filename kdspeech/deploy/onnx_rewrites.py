"""Layers swapped for numerically equivalent, exportable ones while a model is exported to ONNX.

torch.onnx's TorchScript exporter has no complex tensors, so a torchaudio ``Spectrogram`` (inside
``MelSpectrogram``, hence inside every log-mel front end here) cannot be exported as it is.
``RealSpectrogram`` computes the same magnitude/power spectrogram from a real-valued STFT (ONNX's STFT
operator, opset 17), ``|X|^p = (re^2 + im^2)^(p/2)``.  The swap is made on a copy of the model; the
ONNX check compares the export with the original torch model, so a wrong rewrite fails the check.
"""

import copy
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torchaudio.transforms import Spectrogram


class RealSpectrogram(nn.Module):
    """torchaudio ``Spectrogram`` (real ``power``) without complex tensors."""

    def __init__(self, spec):
        super().__init__()
        if spec.power is None:
            raise ValueError("a complex spectrogram (power=None) has no real-valued ONNX equivalent")
        self.n_fft, self.win_length, self.hop_length = spec.n_fft, spec.win_length, spec.hop_length
        self.pad, self.power, self.center, self.pad_mode = spec.pad, float(spec.power), spec.center, spec.pad_mode
        self.onesided = spec.onesided
        self.frame_norm = spec.normalized == "frame_length"
        self.window_norm = spec.normalized is True or spec.normalized == "window"
        self.register_buffer("window", spec.window.detach().clone(), persistent=False)

    def forward(self, waveform):
        if self.pad > 0:
            waveform = F.pad(waveform, (self.pad, self.pad), "constant")
        shape = waveform.size()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # return_complex=False is deprecated, and what ONNX can take
            spec = torch.stft(waveform.reshape(-1, shape[-1]), self.n_fft, self.hop_length, self.win_length,
                              self.window, self.center, self.pad_mode, self.frame_norm, self.onesided,
                              return_complex=False)
        spec = spec.reshape(shape[:-1] + spec.shape[-3:])
        if self.window_norm:
            spec = spec / self.window.pow(2.0).sum().sqrt()
        power = spec.pow(2).sum(-1)
        if self.power == 2.0:
            return power
        return power.sqrt() if self.power == 1.0 else power.pow(self.power / 2)


REWRITES = {Spectrogram: RealSpectrogram}


def exportable_copy(model):
    """A deep copy of ``model`` with every layer of ``REWRITES`` replaced; ``(copy, [rewritten names])``."""
    model = copy.deepcopy(model)
    done = []
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            swap = REWRITES.get(type(child))
            if swap is not None:
                setattr(module, child_name, swap(child))
                done.append(f"{name}.{child_name}" if name else child_name)
    return model, done
