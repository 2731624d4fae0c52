"""Streaming TinyECAPA chunk embeddings (``kdspeech.models.tiny_ecapa`` with ``chunk``): a stream of
one embedding per window of ``chunk`` seconds, every ``chunk / 2``, as the offline ``emb_chunks``.

Causality of the offline model, part by part: the MFCC front end is a centred STFT (400 / 160, edges
mirrored), log-mel, DCT (causal with a look-ahead of 200 samples); its deltas and delta-deltas
(window 5, edges replicated) look 2 + 2 frames ahead; with ``cmn: true`` the cepstra lose their mean
over the whole clip (not causal: refused).  ``chunk_mode: split`` encodes each window's feature
frames on its own (the blocks' 'same' padding and the Squeeze-Excitation means stay inside the
window): causal per window, streamed exactly.  ``chunk_mode: pool`` (the default) runs the blocks
over the whole clip and only pools per window: every Squeeze-Excitation gate is the mean over the
whole clip, so no chunk embedding is known before the clip ends (refused, unless the stream is asked
for the split equivalent, ``chunk_mode="split"``: each window encoded alone, which differs from the
pooled embeddings by the gates and the context at the window edges).

Timing: window k spans feature frames ``[k c/2, k c/2 + c)`` (c = ``chunk`` x 100 frames), about
the samples ``[k chunk/2, k chunk/2 + chunk)``; its embedding is emitted by the step that ends
``delay`` samples after that, ``delay = (4 + lag - 1) hop`` (800 samples = 50 ms: 4 frames of deltas,
``lag = ceil(200 / hop)`` hops of STFT).  A step takes one hop (160 samples) and returns ``[B, n, D]``
with n = 1 when a window completes, else 0; ``run`` concatenates them, ``run_file`` adds the windows
that the end of the file completes (the right edge mirrored and the deltas' edge replicated, as
offline), giving the offline ``emb_chunks`` ``[B, K, D]``.

k hops a step (``hops_per_step``): the k hops go frame by frame and the step returns the embeddings of
the windows they complete, in order (n from 0 to ceil(k / period)); the same embeddings as one hop a
step.  The ONNX export takes one hop a step.

State: the last 360 input samples, the last 4 cepstra and 4 deltas, the last c feature frames (80 x
c), a frame counter and a window counter (both bounded).
"""

import math

import torch

from kdspeech.errors import KdError
from kdspeech.models.streaming.base import StreamingModel
from kdspeech.models.tiny_ecapa import mean_std


class TinyEcapaStream(StreamingModel):
    def __init__(self, model, chunk_mode=None, sample_rate=None, hops_per_step=1):
        self.model, self.name = model, type(model).__name__
        self.sample_rate = int(sample_rate or model.sr)
        front = model.frontend
        if model.chunk_frames is None:
            raise KdError("TinyEcapa cannot stream without chunk: its embedding pools the statistics of the "
                          "whole clip (set chunk, e.g. 1.0, for a stream of chunk embeddings)")
        if front.cmn:
            raise KdError("TinyEcapa cannot stream with cmn: true: its cepstra lose their mean over the "
                          "whole clip")
        mode = chunk_mode or model.chunk_mode
        if mode != "split":
            raise KdError("TinyEcapa cannot stream in chunk_mode pool: its Squeeze-Excitation gates average "
                          "over the whole clip, so no chunk embedding is known before the clip ends; "
                          "stream_model(model, chunk_mode='split') streams the split equivalent (each "
                          "window encoded alone)")
        if model.training:
            raise KdError(f"{self.name} stream: call model.eval() first (BatchNorm running statistics)")
        spec = front.logmel.mel.spectrogram
        self.hop, self.n_fft = int(spec.hop_length), int(spec.n_fft)
        self.window = torch.nn.functional.pad(spec.window.float(), ((self.n_fft - spec.win_length) // 2,
                                                                    (self.n_fft - spec.win_length + 1) // 2))
        self.reach = (front.delta_win - 1) // 2          # frames each delta stage looks ahead
        half = self.n_fft // 2
        self.lag = math.ceil(half / self.hop)
        self.lag += 1 if self.lag * self.hop <= half else 0   # frame 0's mirror needs x[n_fft/2]
        self.history = self.lag * self.hop + half
        self.delay = (2 * self.reach + self.lag - 1) * self.hop
        self.frames, self.frames_hop = model.chunk_frames, model.chunk_hop
        self.period = int(self.frames_hop)                     # one feature frame a hop
        self.set_hops(hops_per_step)
        self.set_tag(hop=self.hop, n_fft=self.n_fft, chunk=self.frames, dim=model.emb_dim,
                     channels=",".join(str(b.pointwise.out_channels) for b in model.blocks))

    def init_state(self, batch=1):
        front = self.model.frontend
        ceps = front.dct.shape[0]
        return {"tag": self.tag, "step": torch.zeros((), dtype=torch.long),
                "count": torch.zeros((), dtype=torch.long),
                "input": torch.zeros(batch, self.history - self.hop),
                "ceps": torch.zeros(batch, ceps, 2 * self.reach),
                "d1": torch.zeros(batch, ceps, 2 * self.reach),
                "window": torch.zeros(batch, front.dim, self.frames)}

    @torch.no_grad()
    def step(self, chunk, state):
        self.check_chunk(chunk, state)
        return self._hops(chunk, state)

    def _hops(self, chunk, state, emb=None):
        """n hops, one feature frame each (the blocks run once per completed window): the embeddings of
        the windows they complete ``[B, m, D]``, in order."""
        outs = [self._none(chunk.shape[0])]
        for j in range(chunk.shape[-1] // self.hop):
            out, state = self._advance(chunk[:, j * self.hop:(j + 1) * self.hop], state)
            outs.append(out)
        return torch.cat(outs, 1), state

    def _none(self, batch):
        return torch.zeros(batch, 0, self.model.emb_dim)

    def _advance(self, chunk, state):
        hist = torch.cat([state["input"], chunk.to(state["input"].dtype)], -1)
        new = dict(state)
        new["input"] = hist[:, self.hop:]
        k = int(state["step"]) + 1
        new["step"] = torch.tensor(min(k, self.lag + 2 * self.reach + 2), dtype=torch.long)
        f = k - self.lag                                  # the STFT frame this hop completes
        if f < 0:
            return self._none(chunk.shape[0]), new
        start = f * self.hop - self.n_fft // 2            # the history starts at this sample
        frame = hist[:, :self.n_fft]
        if start < 0:                                     # torch.stft's mirrored left edge
            frame = hist[:, torch.arange(start, start + self.n_fft).abs() - start]
        front = self.model.frontend
        power = torch.fft.rfft(frame * self.window, n=self.n_fft).abs().pow(2)
        mel = power @ front.logmel.mel.mel_scale.fb
        return self._ceps(torch.log(mel + front.logmel.eps) @ front.dct.T, new, f)

    @staticmethod
    def _delta(window, reach):
        """HTK delta of the centre of ``window [B, C, 2 reach + 1]``."""
        total = 2 * sum(n * n for n in range(1, reach + 1))
        return sum(n * (window[..., reach + n] - window[..., reach - n]) for n in range(1, reach + 1)) / total

    def _ceps(self, ceps, new, f):
        """Cepstrum frame f in; the delta of frame g = f - reach once its window is complete (frames
        before 0 are frame 0 replicated, as offline)."""
        r = self.reach
        buf = ceps[..., None].expand(-1, -1, 2 * r) if f == 0 else new["ceps"]
        window = torch.cat([buf, ceps[..., None]], -1)                 # c_(f - 2r) .. c_f
        new["ceps"] = window[..., 1:]
        if f < r:
            return self._none(ceps.shape[0]), new
        return self._d1(self._delta(window, r), window[..., 0], new, f - r)

    def _d1(self, d1, ceps_h, new, g):
        """Delta frame g in (and the cepstrum of frame h = g - reach); the feature frame h out."""
        r = self.reach
        buf = d1[..., None].expand(-1, -1, 2 * r) if g == 0 else new["d1"]
        window = torch.cat([buf, d1[..., None]], -1)                   # d1_(g - 2r) .. d1_g
        new["d1"] = window[..., 1:]
        if g < r:
            return self._none(d1.shape[0]), new
        feat = torch.cat([ceps_h[:, 1:], window[..., r], self._delta(window, r)], 1)   # [B, 80]
        win = torch.cat([new["window"][..., 1:], feat[..., None]], -1)
        new["window"] = win
        count = int(new["count"]) + 1
        emit = count >= self.frames and (count - self.frames) % self.frames_hop == 0
        if count >= self.frames:
            count = self.frames + (count - self.frames) % self.frames_hop
        new["count"] = torch.tensor(count, dtype=torch.long)
        return (self._embed(win)[:, None] if emit else self._none(d1.shape[0])), new

    def _embed(self, frames):
        model = self.model
        return model.project(mean_std(model.blocks(frames)))

    def run(self, wav, state=None):
        """Stream ``wav [B, T]`` step by step (a shorter last step for the hops left): (chunk embeddings
        [B, n, D], final state)."""
        if wav.dim() != 2 or wav.shape[-1] % self.hop:
            raise KdError(f"{self.name} stream: run needs [B, T] with T a multiple of the hop {self.hop}, "
                          f"got {list(wav.shape)}")
        state = self.init_state(wav.shape[0]) if state is None else state
        outs = [self._none(wav.shape[0])]
        for start in range(0, wav.shape[-1], self.step_size):
            out, state = self.last_step(wav[:, start:start + self.step_size], state)
            outs.append(out)
        return torch.cat(outs, 1), state

    @torch.no_grad()
    def flush(self, state):
        """The embeddings of the windows that the end of the file completes ``[B, n, D]``: the last STFT
        frames over the mirrored right edge, the deltas' replicated edge; a file shorter than one
        window gives one embedding of all its frames (as offline).  ``state`` is left unchanged."""
        batch = state["input"].shape[0] if isinstance(state, dict) and "input" in state else 1
        self.check_state(state, batch)
        half, r = self.n_fft // 2, self.reach
        pad = state["input"].new_zeros(batch, self.lag * self.hop)
        pad[:, :half] = state["input"][:, -2 - torch.arange(half)]
        outs, new = [self._none(batch)], dict(state)
        for j in range(self.lag):
            out, new = self._advance(pad[:, j * self.hop:(j + 1) * self.hop], new)
            outs.append(out)
        f = int(new["step"]) - self.lag
        for i in range(1, r + 1):                          # cepstra past the end: the last one
            out, new = self._ceps(new["ceps"][..., -1], new, f + i)
            outs.append(out)
        for i in range(1, r + 1):                          # deltas past the end: the last one
            out, new = self._d1(new["d1"][..., -1], new["ceps"][..., i - 1], new, f + r + i)
            outs.append(out)
        count = int(new["count"])
        if 0 < count < self.frames:
            outs.append(self._embed(new["window"][..., -count:])[:, None])
        return torch.cat(outs, 1)

    def run_file(self, wav):
        """``emb_chunks [B, K, D]`` of a whole file (run + flush; T padded to a multiple of the hop)."""
        pad = -wav.shape[-1] % self.hop
        out, state = self.run(torch.nn.functional.pad(wav, (0, pad)) if pad else wav)
        return torch.cat([out, self.flush(state)], 1)
