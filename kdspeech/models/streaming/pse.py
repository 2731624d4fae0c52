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
last complete one is not embedded, as offline).

k hops a step (``hops_per_step``): the step embeds every window that completes inside it from the hops
up to that window's end, pushes the k hops' values into the delay line and gives the enhancer's k-hop
step one ``[E, s]`` per frame (the value each of the k one-hop steps would give), so the output is the
one-hop stream's; the latency grows by (k - 1) hops, the update rule above is unchanged.
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
        self.sample_rate = int(sample_rate or model.sr)
        if enroll_emb is None or not torch.is_tensor(enroll_emb) or enroll_emb.dim() != 2 \
                or enroll_emb.shape[-1] != model.emb_dim:
            got = list(enroll_emb.shape) if torch.is_tensor(enroll_emb) else enroll_emb
            raise KdError(f"{self.name} stream: needs enroll_emb, the reference embedding E [B, "
                          f"{model.emb_dim}] (got {got})")
        if not 0.0 <= float(initial) <= 1.0:
            raise KdError(f"{self.name} stream: initial similarity must be in [0, 1], not {initial}")
        self.enroll_emb, self.initial = enroll_emb, float(initial)
        self.inner = stream_model(model.enhancer, frame_wise=True, sample_rate=self.sample_rate,
                                  hops_per_step=hops_per_step)
        self.set_hops(hops_per_step)
        self.hop, self.delay, self.cond_lag = self.inner.hop, self.inner.delay, self.inner.cond_lag
        self.period = max(1, int(model.hop) // self.hop)       # a window embedded every period hops
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
        if self.enroll_emb.shape[0] != chunk.shape[0]:
            raise KdError(f"{self.name} stream: enroll_emb has batch {self.enroll_emb.shape[0]}, the chunk "
                          f"{chunk.shape[0]}")
        return self._hops(chunk, state)

    def _hops(self, chunk, state, emb=None):
        """n hops (``chunk [B, n hop]``, any n): the windows that complete inside them embedded (each
        from the hops up to its end), the delay line advanced by the n hops' values, and the enhancer's
        n-hop step given the n frames' ``[E, s]`` (``[B, n, D + 1]``, one per frame: the delay line's
        oldest value after each hop, as n one-hop steps give it)."""
        model, new, n = self.model, dict(state), chunk.shape[-1] // self.hop
        samples = torch.cat([state["window"], chunk.to(state["window"].dtype)], -1)
        count, latest, values = int(state["count"]), state["sim"][:, -1] + self.initial, []
        for j in range(n):
            count += self.hop
            if count >= model.chunk and (count - model.chunk) % model.hop == 0:
                window = samples[:, (j + 1) * self.hop:(j + 1) * self.hop + model.chunk]
                emb = primary(as_outputs(model.encoder(window)))
                new["cosine"] = cosine_sequence(emb[:, None], self.enroll_emb)[:, 0].to(latest.dtype)
                latest = scale_clip(new["cosine"], model.alpha)
            if count >= model.chunk:
                count = model.chunk + (count - model.chunk) % model.hop
            values.append(latest - self.initial)
        line = torch.cat([state["sim"], torch.stack(values, 1)], 1)      # [B, cond_lag + 1 + n]
        new["window"], new["count"] = samples[:, n * self.hop:], torch.tensor(count, dtype=torch.long)
        new["sim"] = line[:, n:]
        frames = line[:, 1:n + 1, None] + self.initial                     # frame j: the oldest after hop j
        speaker = torch.cat([self.enroll_emb[:, None].expand(-1, n, -1), frames.to(self.enroll_emb.dtype)], -1)
        out, enh = self.inner._hops(chunk, unprefixed("enh.", state), speaker)
        new.update(prefixed("enh.", enh))
        return out, new

    @torch.no_grad()
    def flush(self, state):
        batch = state["window"].shape[0] if isinstance(state, dict) and "window" in state else 1
        self.check_state(state, batch)
        return self.inner.flush(unprefixed("enh.", state),
                                emb=lambda j: self._emb(state, min(j + 1, self.cond_lag)))
