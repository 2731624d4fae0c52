"""Streaming E3Net (``kdspeech.models.e3net``): the learnable encoder on one frame of ``win`` samples,
the per-frame layers, the LSTMs with their (h, c), the learnable decoder by overlap-add.

Causality of the offline model: frame f of the encoder covers samples ``[hop f - (win - hop), hop f +
hop)`` (zeros before the start), so it is complete once sample ``hop (f + 1)`` has arrived: the step
that brings it runs frame f.  PReLU and LayerNorm act on one frame at a time (LayerNorm over the
filters, not over time), the LSTMs are unidirectional.  The transposed-convolution decoder adds frame
f's ``win`` samples at ``[hop f - (win - hop), hop f + hop)``; after frame f the first ``hop`` of them
are final (no later frame reaches back), so a step emits them: delay ``win - hop`` samples (160 =
10 ms at the defaults win 320, hop 160).  The decoder's bias is added once per output sample, as the
offline convolution does.  Flush: ``ceil((win - hop) / hop)`` hops of zeros (the offline right
padding) run the frames past the last full hop; the output then equals the offline output over the
whole file.

State: the last ``win - hop`` input samples, the decoder's overlap of ``win - hop`` samples, per block
the LSTM's (h, c), and a step counter capped once the stream is past its start (the first steps'
output precedes the signal and is zeros).

``hops_per_step`` k: a steady step runs its k frames through the encoder (one strided convolution over
the buffered samples and the k hops), the per-frame layers, the LSTMs' input products
(``lstm_frames``) and the decoder at once; latency ``delay + (k - 1) hop``.
"""

import math

import torch
import torch.nn.functional as F

from kdspeech.errors import KdError
from kdspeech.models.streaming.base import StreamingModel, check_emb, lstm_frames, pick_emb


class E3NetStream(StreamingModel):
    def __init__(self, model, enroll_emb=None, sample_rate=16000, frame_wise=False, hops_per_step=1):
        self.model, self.name, self.sample_rate = model, type(model).__name__, int(sample_rate)
        if model.training:
            raise KdError(f"{self.name}: streaming needs eval mode; call model.eval() first")
        self.hop, self.win = model.hop, model.win
        self.delay = self.win - self.hop
        self.cond_lag = 1          # frame n (nominal time n hop) runs in the step that ends at (n + 1) hop
        self.lead = math.ceil(self.delay / self.hop)   # steps whose output starts before the signal
        self.enroll_emb = check_emb(self.name, model.emb_dim, enroll_emb, frame_wise)
        self.set_tag(win=self.win, hop=self.hop, filters=model.encoder.out_channels,
                     blocks=len(model.blocks), emb_dim=model.emb_dim)
        self.steady_step = self.lead + 1
        self.set_hops(hops_per_step)

    def init_state(self, batch=1):
        state = {"tag": self.tag, "step": torch.zeros((), dtype=torch.long),
                 "input": torch.zeros(batch, self.win - self.hop),
                 "ola": torch.zeros(batch, self.win - self.hop)}
        for i, block in enumerate(self.model.blocks):
            state[f"lstm{i}"] = torch.zeros(2, 1, batch, block.lstm.hidden_size)
        return state

    @torch.no_grad()
    def step(self, chunk, state, emb=None):
        """``hops`` hops; ``emb [B, D]``: this step's speaker embedding instead of the fixed one."""
        self.check_chunk(chunk, state)
        return self._hops(chunk, state, emb)

    def _advance(self, chunk, state, emb):
        """n hops (n > 1 only once ``steady``): encoder frames of the n hops, decoded by overlap-add."""
        model, new = self.model, dict(state)
        n = chunk.shape[-1] // self.hop
        frame = torch.cat([state["input"], chunk.to(state["input"].dtype)], -1)      # [B, win - hop + n hop]
        new["input"] = frame[:, n * self.hop:]
        enc = model.encoder(frame[:, None])                                          # [B, N, n]
        h = model.encoder_norm(enc.transpose(1, 2))                                  # [B, n, N]
        if model.emb_dim:
            h = torch.cat([h, pick_emb(self, emb, h.shape[0], n).to(h.dtype)], -1)
        h = model.fusion(h)
        for i, block in enumerate(model.blocks):
            x = block.ffn(h)
            hc = state[f"lstm{i}"]
            y, hn, cn = lstm_frames(block.lstm, x, hc[0], hc[1])
            new[f"lstm{i}"] = torch.stack([hn, cn])
            if block.proj is not None:
                y = block.proj(y)
            h = block.norm_out(x + block.norm_lstm(y))
        mask = torch.sigmoid(model.mask(h)).transpose(1, 2)                          # [B, N, n]
        frame_out = F.conv_transpose1d(enc * mask, model.decoder.weight, None, stride=self.hop)[:, 0]
        ola = F.pad(state["ola"], (0, n * self.hop)) + frame_out                     # [B, win + (n-1) hop]
        new["ola"] = ola[:, n * self.hop:]
        out = ola[:, :n * self.hop] + model.decoder.bias
        k = int(state["step"]) + 1
        new["step"] = torch.tensor(min(k + n - 1, self.lead + 1), dtype=torch.long)
        before = self.delay - (k - 1) * self.hop          # output samples of this step before the signal
        if before > 0:
            out = torch.cat([out.new_zeros(out.shape[0], min(before, self.hop)), out[:, before:]], -1)
        return out, new

    @torch.no_grad()
    def flush(self, state, emb=None):
        """The last ``delay`` samples of a finite file (zeros fed as the offline right padding); ``emb``:
        None or ``j -> [B, D]`` for the j-th flush step.  ``state`` is left unchanged."""
        batch = state["input"].shape[0] if isinstance(state, dict) and "input" in state else 1
        self.check_state(state, batch)
        outs, new = [], dict(state)
        zeros = state["input"].new_zeros(batch, self.hop)
        for j in range(self.lead):
            out, new = self._advance(zeros, new, emb(j) if emb is not None else None)
            outs.append(out)
        return torch.cat(outs, -1)[:, :self.delay] if outs else zeros[:, :0]
