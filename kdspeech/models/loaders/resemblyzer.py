"""Resemblyzer's pretrained GE2E speaker encoder (PyPI ``resemblyzer``) as a frozen teacher.

Teacher-set member ``{loader: resemblyzer, path: builtin}``: ``builtin`` is the ``pretrained.pt``
that ships inside the wheel (256-d, 3-layer LSTM of 256, 1.4M parameters); any other path is a file
of the same format (``{"model_state": ...}``).

The network is Resemblyzer's: 40-band mel power spectrogram (25 ms Hann window, 10 ms hop, Slaney
mel, no log), partial utterances of 160 frames (1.6 s) every ``16000 / rate / 160`` frames (rate 1.3
-> every 77 frames), each embedded by the LSTM's last hidden state -> Linear -> ReLU -> unit norm;
the utterance embedding is the unit-normalised mean of its partials.  The partial positions and the
rule for the last one (kept when at least ``min_coverage`` of it is audio, the clip zero-padded to
its end) are Resemblyzer's ``compute_partial_slices``.

Batching: every waveform of a batch ``[B, T]`` has the same length, hence the same partials; the
mel spectrogram is computed in torch for the whole padded batch and all ``B x P`` partials go through
the LSTM as one batch.  ``emb_partials`` ``[B, P, 256]`` is returned too.

``preprocess: true`` applies Resemblyzer's ``preprocess_wav`` (volume normalised to -30 dBFS when
quieter, silences longer than 180 ms cut by webrtcvad) to each item first; the items then differ in
length and are embedded one by one.  Off by default: training crops are short and already chosen.
"""

from pathlib import Path

import numpy as np
import torch
import torchaudio
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models.loaders import LOADERS

SR, HOP, N_FFT, N_MELS, PARTIAL = 16000, 160, 400, 40, 160


def _package():
    try:
        import resemblyzer
    except ImportError as err:
        raise KdError(f"the resemblyzer loader needs the resemblyzer package ({err}); "
                      "install resemblyzer, webrtcvad and setuptools<81") from None
    return resemblyzer


def partial_starts(num_samples, rate=1.3, min_coverage=0.75):
    """First mel frame of each partial of a clip of ``num_samples`` (Resemblyzer's rule)."""
    if not 0 < min_coverage <= 1:
        raise KdError(f"resemblyzer: min_coverage must be in (0, 1], not {min_coverage}")
    n_frames = int(np.ceil((num_samples + 1) / HOP))
    step = int(np.round(SR / rate / HOP))
    if not 0 < step <= PARTIAL:
        raise KdError(f"resemblyzer: rate {rate} gives a step of {step} frames (1..{PARTIAL} allowed)")
    starts = list(range(0, max(1, n_frames - PARTIAL + step + 1), step))
    coverage = (num_samples - starts[-1] * HOP) / (PARTIAL * HOP)
    if coverage < min_coverage and len(starts) > 1:
        starts = starts[:-1]
    return starts


class ResemblyzerEncoder(nn.Module):
    def __init__(self, state, rate=1.3, min_coverage=0.75, preprocess=False):
        super().__init__()
        self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, 256)
        self.load_state_dict(state)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, power=2.0, center=True,
            pad_mode="constant", norm="slaney", mel_scale="slaney")
        self.rate, self.min_coverage, self.preprocess = float(rate), float(min_coverage), bool(preprocess)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def embed_partials(self, mels):
        """``[N, 160, 40]`` mel partials -> unit embeddings ``[N, 256]``."""
        _, (hidden, _) = self.lstm(mels)
        return nn.functional.normalize(torch.relu(self.linear(hidden[-1])), dim=-1)

    def _embed_batch(self, wav):
        batch, length = wav.shape
        starts = partial_starts(length, self.rate, self.min_coverage)
        end = (starts[-1] + PARTIAL) * HOP
        wav = nn.functional.pad(wav, (0, max(0, end - length)))
        mel = self.mel(wav.float()).transpose(1, 2)                           # [B, frames, 40]
        index = torch.tensor(starts, device=wav.device)[:, None] + torch.arange(PARTIAL, device=wav.device)
        partials = mel[:, index]                                              # [B, P, 160, 40]
        emb = self.embed_partials(partials.reshape(-1, PARTIAL, N_MELS)).reshape(batch, len(starts), -1)
        return nn.functional.normalize(emb.mean(dim=1), dim=-1), emb

    def forward(self, wav):
        if wav.dim() == 1:
            wav = wav.unsqueeze(0)
        if wav.dim() != 2:
            raise KdError(f"resemblyzer: input must be a 16 kHz waveform [B, T], got {tuple(wav.shape)}")
        with torch.no_grad():
            if not self.preprocess:
                emb, partials = self._embed_batch(wav)
                return {"emb": emb, "emb_partials": partials}
            audio = _package().audio
            items = [audio.preprocess_wav(w.detach().cpu().numpy().astype(np.float32)) for w in wav]
            embs = [self._embed_batch(torch.from_numpy(np.asarray(w, np.float32)).to(wav.device)[None])[0]
                    for w in items]
            return {"emb": torch.cat(embs)}


@LOADERS.register("resemblyzer")
def load_resemblyzer(path="builtin", rate=1.3, min_coverage=0.75, preprocess=False):
    """Resemblyzer's GE2E encoder (``path: builtin`` = the weights in the wheel) as a frozen teacher."""
    if str(path) == "builtin":
        path = Path(_package().__file__).resolve().parent / "pretrained.pt"
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise KdError("resemblyzer weights not found", path=path) from None
    except Exception as err:  # noqa: BLE001 - any unreadable file
        raise KdError(f"cannot read resemblyzer weights ({type(err).__name__}: {err})", path=path) from None
    state = ckpt.get("model_state") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise KdError("not a resemblyzer weights file (no 'model_state')", path=path)
    state = {k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))}
    try:
        return ResemblyzerEncoder(state, rate=rate, min_coverage=min_coverage, preprocess=preprocess)
    except RuntimeError as err:
        raise KdError(f"weights do not fit resemblyzer's encoder: {err}", path=path) from None
