"""Spectral plumbing shared by the STFT-domain enhancers (DCCRN, pDeepFilterNet2, the Conformer, PSM-BiLSTM, CRN)
and the conditioning helpers of the personalized ones.

``Stft``: a centred STFT/iSTFT pair with zero padding ([B, T] <-> complex [B, n_fft/2+1, 1 + T // hop]).
``SpectralExport``: the deployment hook of a model whose network sits between an STFT and an iSTFT
(``kdspeech.bin.deploy`` exports ``export_module``'s module to ONNX, as DeepFilterNet deploys its
networks: the STFT and iSTFT stay in host code, the network gets the spectrum as real and imaginary
parts).  A model using it sets ``core_class`` (its real-valued core, built on the model's own
sub-modules) and ``main_input`` (the name of forward's first parameter), and has ``self.stft`` and
``self.emb_dim`` (0 for a model with no speaker input).  ``MagnitudeCore``: the core of a model that
scales the noisy magnitude and keeps its phase (``magnitude_gain(|Y|)``: CRN, PSM-BiLSTM).
"""

import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.train.precision import fp32_region


def stft_window(kind, win_length):
    """``sqrt_hann`` (default of DCCRN) or ``hann``: periodic Hann windows of ``win_length``;
    ``vorbis``: DeepFilterNet's power-complementary sin(pi/2 sin^2(pi (n + 1/2) / N))."""
    if kind == "sqrt_hann":
        return torch.hann_window(win_length).sqrt()
    if kind == "hann":
        return torch.hann_window(win_length)
    if kind == "vorbis":
        n = torch.arange(win_length, dtype=torch.float64)
        return torch.sin(0.5 * torch.pi * torch.sin(torch.pi * (n + 0.5) / win_length) ** 2).float()
    raise KdError(f"window must be sqrt_hann, hann or vorbis, not {kind!r}")


class Stft(nn.Module):
    """Centred STFT/iSTFT pair: [B, T] <-> complex [B, n_fft/2+1, 1 + T//hop]; the edges padded with
    zeros (``pad_mode="constant"``) or mirrored (``"reflect"``, torch.stft's default)."""

    def __init__(self, n_fft=512, win_length=400, hop=100, window="sqrt_hann", pad_mode="constant"):
        super().__init__()
        self.n_fft, self.win_length, self.hop = int(n_fft), int(win_length), int(hop)
        if not 0 < self.hop <= self.win_length <= self.n_fft:
            raise KdError(f"STFT needs 0 < hop <= win_length <= n_fft (got {hop}, {win_length}, {n_fft})")
        if pad_mode not in ("constant", "reflect"):
            raise KdError(f"STFT pad_mode must be constant or reflect, not {pad_mode!r}")
        self.pad_mode = pad_mode
        self.register_buffer("window", stft_window(window, self.win_length), persistent=False)

    @fp32_region  # STFT and iSTFT in fp32 under autocast (torch has no bf16 complex tensors)
    def forward(self, wav):
        return torch.stft(wav, self.n_fft, self.hop, self.win_length, window=self.window, center=True,
                          pad_mode=self.pad_mode, return_complex=True)

    @fp32_region
    def inverse(self, spec, length):
        return torch.istft(spec, self.n_fft, self.hop, self.win_length, window=self.window, center=True,
                           length=length)


@fp32_region  # a complex tensor from (real, imaginary) parts computed under autocast: complex64
def complex_of(real, imag):
    """``torch.complex(real, imag)``, in fp32 under autocast (there are no bf16 complex tensors)."""
    return torch.complex(real, imag)


def as_batch(wav):
    """[B, T] or [B, 1, T] -> ([B, T], whether to add the channel axis back)."""
    if wav.dim() == 3 and wav.shape[1] == 1:
        return wav[:, 0], True
    if wav.dim() != 2:
        raise KdError(f"expected a waveform batch [B, T] or [B, 1, T], got shape {list(wav.shape)}")
    return wav, False


def frame_condition(emb, batch, frames, dim, kind):
    """A speaker embedding per frame ``[B, frames, D]`` from ``[B, D]`` (the same on every frame) or a
    frame-wise ``[B, frames, D]``; a KdError names the expected shapes otherwise."""
    if emb is None:
        raise KdError(f"{kind}: emb_dim is {dim}, so forward needs enroll_emb [B, {dim}] or frame-wise "
                      f"[B, {frames}, {dim}]")
    if emb.dim() == 2 and tuple(emb.shape) == (batch, dim):
        return emb[:, None, :].expand(batch, frames, dim)
    if emb.dim() == 3 and tuple(emb.shape) == (batch, frames, dim):
        return emb
    raise KdError(f"{kind}: enroll_emb must be [B, D] = [{batch}, {dim}] or frame-wise [B, F, D] = "
                  f"[{batch}, {frames}, {dim}] (F = num_frames of the input), got {list(emb.shape)}")


def seeded_example_inputs(first, num_samples, emb_dim, seed=0):
    """Batch-1 inputs for ``kdspeech.models.complexity``: ``{first: noise [1, T]}`` (the same as its
    default), plus a unit-norm ``enroll_emb [1, D]`` when ``emb_dim`` > 0."""
    generator = torch.Generator().manual_seed(seed)
    inputs = {first: torch.randn(1, int(num_samples), generator=generator)}
    if emb_dim:
        inputs["enroll_emb"] = nn.functional.normalize(torch.randn(1, int(emb_dim), generator=generator),
                                                       dim=-1)
    return inputs


class SpectralExport:
    """Mixin: host-side STFT/iSTFT around a real-valued spectral core, and the deploy hook."""

    core_class = None
    main_input = "wav"

    def analysis(self, wav):
        """The host's STFT: waveform ``[B, T]`` or ``[B, 1, T]`` -> ``[B, 2, n_fft/2+1, frames]`` (real,
        imaginary), the input of ``spectral_core()``."""
        x, _ = as_batch(wav)
        return torch.view_as_real(self.stft(x)).permute(0, 3, 1, 2)

    def synthesis(self, spec, length):
        """The host's iSTFT: ``[B, 2, n_fft/2+1, frames]`` (real, imaginary) -> waveform ``[B, length]``."""
        return self.stft.inverse(complex_of(spec[:, 0], spec[:, 1]), int(length))

    def spectral_core(self):
        """The network between STFT and iSTFT, real-valued (``core_class``, sharing these weights)."""
        return self.core_class(self)

    def export_module(self, inputs):
        """Deployment hook (``kdspeech.bin.deploy``): for this model's keyword ``inputs`` (its main input,
        ``enroll_emb``), ``(spectral_core(), its inputs {"noisy", "enroll_emb"}, what it is)``."""
        core_inputs = {"noisy": self.analysis(inputs[self.main_input])}
        if self.emb_dim:
            core_inputs["enroll_emb"] = inputs["enroll_emb"]
        return self.spectral_core(), core_inputs, "network between STFT and iSTFT"


def parts_magnitude(noisy):
    """``|Y|`` ``[B, bins, frames]`` of ``[B, 2, bins, frames]`` (real, imaginary), without complex tensors."""
    return (noisy[:, 0].square() + noisy[:, 1].square()).sqrt()


class MagnitudeCore(nn.Module):
    """The core of a magnitude model (``core_class``): ``forward(noisy [B, 2, bins, frames])`` ->
    ``{"spec": noisy x gain, "mask": gain}``, the real gain ``[B, bins, frames]`` being the model's
    ``magnitude_gain(|Y|)`` (its own weights)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, noisy):
        gain = self.model.magnitude_gain(parts_magnitude(noisy))
        return {"spec": noisy * gain[:, None], "mask": gain}
