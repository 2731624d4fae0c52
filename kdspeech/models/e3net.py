"""E3Net (Thakker, Eskimez, Yoshioka, Wang, "Fast Real-time Personalized Speech Enhancement: End-to-End
Enhancement Network (E3Net) and Knowledge Distillation", Interspeech 2022), the baseline with N = 4
LSTM blocks, as the pDCCRN/pDeepFilterNet2 comparison of Serre et al. uses it (6.62M parameters with a
192-dimensional ECAPA embedding).

There is no official code; the choices made here (defaults = paper size, 6,631,179 parameters with
``emb_dim`` 192, 0.2 % above the 6.62M that Serre et al. report):

- Learnable encoder: ``nn.Conv1d(1, filters=2048, kernel=win=320, stride=hop=160)`` with a bias
  (20 ms / 10 ms at 16 kHz).  The input is padded with ``win - hop`` zeros on the left and up to the
  end of the last frame on the right; frame f covers samples ``[hop f - (win - hop), hop f + hop)``
  and a T-sample input has ``num_frames(T) = (T - 1 + win - hop) // hop + 1`` frames (``ceil(T / hop)
  + 1`` at win = 2 hop), so that every sample, the last ones included, is seen by ``win / hop`` frames.
- Encoder features into the network: PReLU, then LayerNorm over the 2048 filters.
- Speaker fusion: the embedding ([B, D] on every frame, or frame-wise [B, num_frames(T), D]) is
  concatenated to those features and projected to ``fusion_dim`` = 256 by a linear layer, PReLU,
  LayerNorm.  ``emb_dim: 0`` leaves the concatenation out (a non-personalized E3Net).
- N = ``blocks`` LSTM blocks on 256-dimensional frames, each: a feed-forward projection (linear
  256 -> ``ffn_dim`` = 1024, PReLU, linear 1024 -> 256, PReLU) and LayerNorm giving h; a
  unidirectional LSTM of ``lstm_units`` = 256 cells and LayerNorm on h; the residual sum with h;
  LayerNorm.  (The 1024-wide feed-forward projection is what brings the count to the reported size;
  a block without it would leave the model at 5.1M.)  With ``lstm_units`` other than 256 a linear map
  projects the LSTM output back to 256 before the residual sum.
- Mask: a linear layer 256 -> 2048 and a sigmoid, multiplied with the encoder's (linear) convolution
  output, so that encoder and decoder form a learnable analysis/synthesis pair.
- Learnable decoder: ``nn.ConvTranspose1d(2048, 1, win, stride=hop)`` with a bias, overlap-add of
  the frames; the output is trimmed back to the T input samples.

Causal: the LSTMs are unidirectional, so an output sample depends on the input up to the end of the
last frame that covers it (at most ``hop`` samples of look-ahead).

MACs (``kdspeech.models.complexity``, 1 s at 16 kHz): about 0.67 G.  Serre et al. report 11.08 G with
10.5 G in the decoder: their counter charges the transposed convolution per *output* sample
(16,000 x 2048 x 320 = 10.49 G); per input frame, as counted here (the multiplications it actually
runs), the decoder is 101 x 2048 x 320 = 66 M, the same as the encoder.

forward(mix [B, T] or [B, 1, T], enroll_emb [B, D] or [B, F, D]) -> {"out": enhanced waveform, same
shape as mix, "mask": [B, 2048, F]}.
"""

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS
from kdspeech.models.spectral import as_batch, frame_condition, seeded_example_inputs


class LstmBlock(nn.Module):
    """Feed-forward projection + LayerNorm (h), LSTM + LayerNorm, residual with h, LayerNorm."""

    def __init__(self, dim, ffn_dim, lstm_units):
        super().__init__()
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.PReLU(), nn.Linear(ffn_dim, dim), nn.PReLU(),
                                 nn.LayerNorm(dim))
        self.lstm = nn.LSTM(dim, lstm_units, batch_first=True)
        self.proj = nn.Linear(lstm_units, dim) if lstm_units != dim else None
        self.norm_lstm = nn.LayerNorm(dim)
        self.norm_out = nn.LayerNorm(dim)

    def forward(self, x):
        h = self.ffn(x)
        y = self.lstm(h)[0]
        if self.proj is not None:
            y = self.proj(y)
        return self.norm_out(h + self.norm_lstm(y))


@MODELS.register("e3net")
class E3Net(nn.Module):
    def __init__(self, emb_dim=192, filters=2048, win=320, hop=160, fusion_dim=256, blocks=4,
                 ffn_dim=1024, lstm_units=256):
        super().__init__()
        self.emb_dim, self.win, self.hop = int(emb_dim), int(win), int(hop)
        filters, fusion_dim, blocks = int(filters), int(fusion_dim), int(blocks)
        if self.emb_dim < 0 or not 0 < self.hop <= self.win or min(filters, fusion_dim, blocks,
                                                                    int(ffn_dim), int(lstm_units)) < 1:
            raise KdError(f"e3net: needs emb_dim >= 0, 0 < hop <= win and positive sizes (emb_dim {emb_dim}, "
                          f"win {win}, hop {hop}, filters {filters}, fusion_dim {fusion_dim}, "
                          f"blocks {blocks}, "
                          f"ffn_dim {ffn_dim}, lstm_units {lstm_units})")
        self.encoder = nn.Conv1d(1, filters, self.win, stride=self.hop)
        self.encoder_norm = nn.Sequential(nn.PReLU(), nn.LayerNorm(filters))
        self.fusion = nn.Sequential(nn.Linear(filters + self.emb_dim, fusion_dim), nn.PReLU(),
                                    nn.LayerNorm(fusion_dim))
        self.blocks = nn.Sequential(*(LstmBlock(fusion_dim, int(ffn_dim), int(lstm_units))
                                      for _ in range(blocks)))
        self.mask = nn.Linear(fusion_dim, filters)
        self.decoder = nn.ConvTranspose1d(filters, 1, self.win, stride=self.hop)

    def num_frames(self, num_samples):
        """Encoder frames (and frames of a frame-wise embedding) for ``num_samples`` samples."""
        return (max(int(num_samples), 1) - 1 + self.win - self.hop) // self.hop + 1

    def example_inputs(self, num_samples):
        return seeded_example_inputs("mix", num_samples, self.emb_dim)

    def forward(self, mix, enroll_emb=None):
        x, unsqueeze = as_batch(mix)
        batch, length = x.shape
        frames = self.num_frames(length)
        left = self.win - self.hop
        x = F.pad(x, (left, self.hop * frames - length))[:, None]        # [B, 1, hop (F - 1) + win]
        enc = self.encoder(x)                                             # [B, N, F]
        h = self.encoder_norm(enc.transpose(1, 2))                        # [B, F, N]
        if self.emb_dim:
            speaker = frame_condition(enroll_emb, batch, frames, self.emb_dim, "e3net").to(h.dtype)
            h = torch.cat([h, speaker], -1)
        h = self.blocks(self.fusion(h))
        mask = torch.sigmoid(self.mask(h)).transpose(1, 2)                # [B, N, F]
        out = self.decoder(enc * mask)[:, 0, left:left + length]
        return {"out": out[:, None] if unsqueeze else out, "mask": mask}
