"""Streaming ``pse_refine`` (Serre et al. II-D): a personalized enhancer stream whose speaker
embedding is refined on the fly by the light similarity of the recent mixture.

Update rule and rate.  The stream keeps the last T' = ``chunk`` seconds of the mixture (16000 samples
at T' = 1 s).  Every T'/2 (8000 samples: every 50th hop of 160 samples), from the moment the first
T' seconds have arrived, the window that has just completed, ``[j - T', j)`` with ``j = T' + k T'/2``,
is embedded by the wrapper's encoder (TinyECAPA: the light similarity; the window's waveform alone,
as ``pse_refine`` with ``chunking: wave`` embeds its chunks) and

    s_k = clip(alpha * cos(E, f_enc(window_k)), 0, 1)        (alpha null: no scaling)

The enhancer's frame n (nominal time ``n hop``: the centre of an STFT frame, of an E3Net frame) is
given ``[E, s]`` with s the value of the latest window that ended at or before ``n hop``, and
``initial`` (default 1: the target taken as present) before the first window ends (frames n < T' /
hop).  The value is recomputed once per T'/2, in the step that completes the window (that step also
runs one encoder pass over T': a compute spike every 50th hop), and reaches the enhancer ``cond_lag``
steps later, when the enhancer runs frame n (a delay line of ``cond_lag + 1`` values in the state,
kept minus ``initial``: a state starts as zeros).

Against the offline model.  ``pse_refine``'s forward (the PSE recipe's evaluation) places each chunk
value at the chunk's centre and interpolates linearly between centres for the frames, holding the
first value before the first centre: frame n's value depends on up to T' of future signal (and on
the file's length, through its frame positions ``(n + 1/2) T / F``).  That is not causal; the stream
holds the last value instead (``causal_frames`` writes that rule over the offline chunk values).
With ``chunking: wave`` the stream's window cosines equal the offline ``similarity_chunks``, and its
output equals the offline enhancer given ``causal_frames`` of them (tested).  With ``chunking:
encoder`` (a TinyECAPA with ``chunk``, the recipe's encoder, pooled over the whole mixture) the offline
chunk embeddings are not causal either (Squeeze-Excitation over the whole mixture); the stream still
embeds each window alone, so its cosines differ from the offline ones by that.

The windows are of the mixture, not of the enhanced output: Serre et al. (II-B, II-D: M = f_enc(Y))
and ``pse_refine`` embed the input mixture, and so does the stream.  Delay, hop and flush are the
enhancer stream's; the flush adds no window (a partial window past the
last complete one is not embedded, as offline).  One hop a step: ``hops_per_step`` > 1 is a KdError
(the similarity's delay line is set per enhancer frame, from the step's own window).
"""

import torch

from kdspeech.errors import KdError
from kdspeech.models.calling import as_outputs, primary
from kdspeech.models.similarity import cosine_sequence, scale_clip
from kdspeech.models.streaming.base import StreamingModel, prefixed, unprefixed


def causal_frames(raw, num_frames, frame_hop, chunk, chunk_hop, alpha=None, initial=1.0):
    """The stream's frame-wise similarity ``[B, num_frames]`` from chunk cosines ``raw [B, K]`` (chunk k
    ending at sample ``chunk + k chunk_hop``): frame n takes ``clip(alpha raw_k)`` of the latest chunk
    ending at or before ``n frame_hop``, ``initial`` before the first one ends."""
    times = torch.arange(int(num_frames)) * int(frame_hop)
    index = torch.div(times - int(chunk), int(chunk_hop), rounding_mode="floor").clamp(max=raw.shape[-1] - 1)
    values = scale_clip(raw, alpha)[:, index.clamp(min=0)]
    return torch.where(index[None] >= 0, values, torch.full_like(values, float(initial)))


class PseRefineStream(StreamingModel):
    def __init__(self, model, enroll_emb=None, initial=1.0, sample_rate=None, hops_per_step=1):
        from kdspeech.models.streaming import stream_model
        self.model, self.name = model, type(model).__name__
        if hops_per_step != 1:
            raise KdError(f"{self.name} stream: takes one hop a step (hops_per_step 1, not {hops_per_step}): "
                          "its refined similarity is set frame by frame from the step's own window")
        self.sample_rate = int(sample_rate or model.sr)
        if enroll_emb is None or not torch.is_tensor(enroll_emb) or enroll_emb.dim() != 2 \
                or enroll_emb.shape[-1] != model.emb_dim:
            got = list(enroll_emb.shape) if torch.is_tensor(enroll_emb) else enroll_emb
            raise KdError(f"{self.name} stream: needs enroll_emb, the reference embedding E [B, "
                          f"{model.emb_dim}] (got {got})")
        if not 0.0 <= float(initial) <= 1.0:
            raise KdError(f"{self.name} stream: initial similarity must be in [0, 1], not {initial}")
        self.enroll_emb, self.initial = enroll_emb, float(initial)
        self.inner = stream_model(model.enhancer, frame_wise=True, sample_rate=self.sample_rate)
        self.hop, self.delay, self.cond_lag = self.inner.hop, self.inner.delay, self.inner.cond_lag
        self.period = max(1, int(model.hop) // self.hop)       # a window embedded every period steps
        if model.chunk % self.hop or model.hop % self.hop:
            raise KdError(f"{self.name} stream: the similarity's chunk ({model.chunk}) and its hop "
                          f"({model.hop} samples) must be multiples of the enhancer's hop {self.hop}")
        self.set_tag(enhancer=self.inner.name, emb_dim=model.emb_dim, chunk=model.chunk,
                     alpha=model.alpha, initial=self.initial)

    def init_state(self, batch=1):
        state = {"tag": self.tag, "count": torch.zeros((), dtype=torch.long),
                 "window": torch.zeros(batch, self.model.chunk),
                 "sim": torch.zeros(batch, self.cond_lag + 1),      # minus initial: all zeros at the start
                 "cosine": torch.zeros(batch)}
        state.update(prefixed("enh.", self.inner.init_state(batch)))
        return state

    def _emb(self, state, index):
        sim = state["sim"][:, index, None] + self.initial
        return torch.cat([self.enroll_emb, sim.to(self.enroll_emb.dtype)], -1)

    @torch.no_grad()
    def step(self, chunk, state):
        self.check_chunk(chunk, state)
        model, new = self.model, dict(state)
        if self.enroll_emb.shape[0] != chunk.shape[0]:
            raise KdError(f"{self.name} stream: enroll_emb has batch {self.enroll_emb.shape[0]}, the chunk "
                          f"{chunk.shape[0]}")
        window = torch.cat([state["window"][:, self.hop:], chunk.to(state["window"].dtype)], -1)
        count = int(state["count"]) + self.hop
        latest = state["sim"][:, -1] + self.initial
        if count >= model.chunk and (count - model.chunk) % model.hop == 0:
            emb = primary(as_outputs(model.encoder(window)))
            new["cosine"] = cosine_sequence(emb[:, None], self.enroll_emb)[:, 0].to(latest.dtype)
            latest = scale_clip(new["cosine"], model.alpha)
        if count >= model.chunk:
            count = model.chunk + (count - model.chunk) % model.hop
        new["window"], new["count"] = window, torch.tensor(count, dtype=torch.long)
        new["sim"] = torch.cat([state["sim"][:, 1:], latest[:, None] - self.initial], 1)
        out, enh = self.inner.step(chunk, unprefixed("enh.", state), emb=self._emb(new, 0))
        new.update(prefixed("enh.", enh))
        return out, new

    @torch.no_grad()
    def flush(self, state):
        batch = state["window"].shape[0] if isinstance(state, dict) and "window" in state else 1
        self.check_state(state, batch)
        return self.inner.flush(unprefixed("enh.", state),
                                emb=lambda j: self._emb(state, min(j + 1, self.cond_lag)))
