"""The streaming protocol (``StreamingModel``), its state checks and the end-of-stream flush.

A state is a flat dict: ``"tag"`` (a string) and tensors under dotted names (``"net.enc0"``), whose
shapes are fixed by the configuration and the batch size.  The tag names the stream format
(``STATE_VERSION``), the model class, its sample rate and the sizes that decide the state's layout, as
``key=value`` fields joined by ``;``.  ``check_state`` refuses (KdError) a state whose tag differs,
naming the fields that differ, or whose tensors are missing, extra or of other shapes.
"""

import torch
import torch.nn.functional as F

from kdspeech.errors import KdError

#: version of the state layout; a state written by another version is refused
STATE_VERSION = 2


def state_numel(state):
    """Total number of elements of a state (a dict of tensors, nested dicts/lists allowed)."""
    if torch.is_tensor(state):
        return state.numel()
    if isinstance(state, dict):
        return sum(state_numel(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(state_numel(v) for v in state)
    return 0


def _fields(tag):
    return dict(part.split("=", 1) for part in tag.split(";") if "=" in part)


def prefixed(prefix, state):
    """``{prefix + key: tensor}``: a sub-state folded into its owner's flat state."""
    return {f"{prefix}{k}": v for k, v in state.items()}


def unprefixed(prefix, state):
    """The sub-state under ``prefix`` (prefix removed)."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def check_emb(name, emb_dim, enroll_emb, frame_wise=False):
    """The fixed speaker embedding of a personalized stream: ``[B, emb_dim]``, or None when the model
    takes none or (``frame_wise``) every step brings its own; a KdError when it is missing or of
    another size."""
    if not emb_dim or (frame_wise and enroll_emb is None):
        return None
    if enroll_emb is None or not torch.is_tensor(enroll_emb) or enroll_emb.dim() != 2 \
            or enroll_emb.shape[-1] != emb_dim:
        got = list(enroll_emb.shape) if torch.is_tensor(enroll_emb) else enroll_emb
        raise KdError(f"{name} stream: emb_dim is {emb_dim}, so the stream needs enroll_emb [B, {emb_dim}] "
                      f"(got {got})")
    return enroll_emb


def pick_emb(stream, emb, batch, frames=1):
    """The speaker embedding of this call's ``frames`` network frames, ``[B, frames, D]``: the step's own
    ``emb`` (``[B, D]`` for all of them, or ``[B, frames, D]`` one per frame, as a k-hop step of
    pse_refine gives) or the stream's fixed one."""
    emb = stream.enroll_emb if emb is None else emb
    if emb is None:
        raise KdError(f"{stream.name} stream: built frame-wise, so every step needs emb [B, D]")
    if emb.dim() == 2 and emb.shape[0] == batch:
        return emb[:, None].expand(-1, frames, -1)
    if emb.dim() == 3 and emb.shape[0] == batch and emb.shape[1] == frames:
        return emb
    raise KdError(f"{stream.name} stream: the speaker embedding must be [B, D] or, one per network frame, "
                  f"[B, {frames}, D] with B = {batch} (the chunk's batch), got {list(emb.shape)}")


WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")   # of one layer of an nn.LSTM / nn.GRU


def lstm_step(lstm, x, h, c):
    """One time step of a unidirectional, batch-first ``nn.LSTM`` (``x [B, 1, in]``, ``h, c [layers, B,
    H]``) -> ``(y [B, 1, H], h, c)``, by its cells: the module's own call re-packs the weights for
    oneDNN on every call, several times the cost of the step itself."""
    if lstm.proj_size or lstm.bidirectional:
        y, (h, c) = lstm(x, (h, c))
        return y, h, c
    inp, hs, cs = x[:, 0], [], []
    for layer in range(lstm.num_layers):
        weights = [getattr(lstm, f"{w}_l{layer}", None) for w in WEIGHTS]
        inp, cell = torch.lstm_cell(inp, (h[layer], c[layer]), *weights)
        hs.append(inp)
        cs.append(cell)
    return inp[:, None], torch.stack(hs), torch.stack(cs)


def gru_step(gru, x, h):
    """One time step of a unidirectional, batch-first ``nn.GRU``: ``x [B, 1, in]``, ``h [layers, B, H]``
    or None -> ``(y [B, 1, H], h)``, by its cells (as ``lstm_step``)."""
    if gru.bidirectional:
        return gru(x, h)
    if h is None:
        h = x.new_zeros(gru.num_layers, x.shape[0], gru.hidden_size)
    inp, hs = x[:, 0], []
    for layer in range(gru.num_layers):
        weights = [getattr(gru, f"{w}_l{layer}", None) for w in WEIGHTS]
        inp = torch.gru_cell(inp, h[layer], *weights)
        hs.append(inp)
    return inp[:, None], torch.stack(hs)


def lstm_frames(lstm, x, h, c):
    """n time steps of a unidirectional, batch-first ``nn.LSTM``: ``x [B, n, in]``, ``h, c [layers, B,
    H]`` -> ``(y [B, n, H], h, c)``.  One frame is ``lstm_step``; several: per layer the input products
    of all n frames in one matrix product (biases folded in), then the recurrence frame by frame (one
    ``addmm`` of the hidden state and the gates), so the input weights are read once per step."""
    if x.shape[1] == 1:
        return lstm_step(lstm, x, h, c)
    if lstm.proj_size or lstm.bidirectional:
        y, (h, c) = lstm(x, (h, c))
        return y, h, c
    inp, hs, cs = x, [], []
    for layer in range(lstm.num_layers):
        w_ih, w_hh, b_ih, b_hh = [getattr(lstm, f"{w}_l{layer}", None) for w in WEIGHTS]
        gates_x = F.linear(inp, w_ih, None if b_ih is None else b_ih + b_hh)      # [B, n, 4H]
        hl, cl, outs = h[layer], c[layer], []
        for t in range(x.shape[1]):
            gates = torch.addmm(gates_x[:, t], hl, w_hh.t())
            i, f, g, o = gates.chunk(4, 1)
            cl = torch.sigmoid(f) * cl + torch.sigmoid(i) * torch.tanh(g)
            hl = torch.sigmoid(o) * torch.tanh(cl)
            outs.append(hl)
        inp = torch.stack(outs, 1)
        hs.append(hl)
        cs.append(cl)
    return inp, torch.stack(hs), torch.stack(cs)


def gru_frames(gru, x, h):
    """n time steps of a unidirectional, batch-first ``nn.GRU``: ``x [B, n, in]``, ``h [layers, B, H]``
    or None -> ``(y [B, n, H], h)``; one frame is ``gru_step``, several as ``lstm_frames`` (input
    products of the n frames at once, the recurrence frame by frame)."""
    if x.shape[1] == 1:
        return gru_step(gru, x, h)
    if gru.bidirectional:
        return gru(x, h)
    if h is None:
        h = x.new_zeros(gru.num_layers, x.shape[0], gru.hidden_size)
    inp, hs = x, []
    for layer in range(gru.num_layers):
        w_ih, w_hh, b_ih, b_hh = [getattr(gru, f"{w}_l{layer}", None) for w in WEIGHTS]
        gates_x = F.linear(inp, w_ih, b_ih)                                        # [B, n, 3H]
        hl, outs = h[layer], []
        for t in range(x.shape[1]):
            gates_h = F.linear(hl, w_hh, b_hh)
            x_r, x_z, x_n = gates_x[:, t].chunk(3, 1)
            h_r, h_z, h_n = gates_h.chunk(3, 1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            cand = torch.tanh(x_n + r * h_n)
            hl = cand + z * (hl - cand)
            outs.append(hl)
        inp = torch.stack(outs, 1)
        hs.append(hl)
    return inp, torch.stack(hs)


class StreamingModel:
    """k hops in, k hops out (``hops``, default 1; ``step_size`` = k ``hop`` samples a step).  ``hop``
    (the model's frame hop), ``delay`` (samples: output sample ``i + delay`` of the stream is sample
    ``i`` of the offline output, whatever k), ``sample_rate`` (Hz), ``init_state(batch)``,
    ``step(chunk [B, k hop], state) -> (out [B, k hop], state)``,
    ``flush(state) -> tail [B, delay]`` (the last ``delay`` samples of a finite file; the state is not
    changed), ``run`` (steps over a whole signal) and ``run_file`` (run + flush, aligned).  Steps and
    flushes run without autograd (a state never carries a graph).  ``period``: the hops of one cycle
    of periodic work (pse_refine's window embedding, TinyECAPA's chunk embedding: one hop in
    ``period`` does it, after the first window of about ``2 period`` hops; ``period`` steps of k hops
    hold k cycles); 1 when every steady step costs the same.

    Several hops a step (``set_hops``): a step's output is the k one-hop steps' outputs concatenated and
    its state theirs after the k-th (same layout and tag as k = 1), but once the stream is past its
    warm-up (``steady``) the adapter's ``_advance`` runs the k frames' convolutions and linear layers as
    one call each (recurrent layers frame by frame inside); warm-up steps go hop by hop.  The sample
    alignment (``delay``) is unchanged; the algorithmic latency grows by the (k - 1) hops a step waits
    for: ``latency = delay + (k - 1) hop``."""

    hop = None
    hops = 1
    steady_step = None   # the value of the state's "step" counter from which a step may batch its hops
    period = 1
    delay = None
    name = "model"
    sample_rate = 16000
    tag = None

    @property
    def step_size(self):
        """Samples a step takes and returns: ``hops`` x ``hop``."""
        return self.hops * self.hop

    @property
    def latency(self):
        """Algorithmic latency in samples: ``delay`` plus the (k - 1) hops a k-hop step waits for."""
        return self.delay + (self.hops - 1) * self.hop

    def set_hops(self, hops):
        """Take ``hops`` hops a step (a positive integer); a KdError otherwise."""
        if isinstance(hops, bool) or not isinstance(hops, int) or hops < 1:
            raise KdError(f"{self.name} stream: hops_per_step must be a positive integer, not {hops!r}")
        self.hops = hops

    def one_hop(self):
        """This stream taking one hop a step (a shallow copy sharing the model; the same state)."""
        import copy
        twin = copy.copy(self)
        twin.hops = 1
        return twin

    def steady(self, state):
        """Whether the stream is past its warm-up (its step counter at ``steady_step``)."""
        return self.steady_step is not None and int(state["step"]) >= self.steady_step

    def _hops(self, chunk, state, emb=None):
        """Any whole number of hops (``chunk [B, n hop]``): one ``_advance`` over all of them once the
        state is steady, hop by hop before (the warm-up's branches take one frame; a per-frame ``emb
        [B, n, D]`` is split with them)."""
        n = chunk.shape[-1] // self.hop
        if n == 1 or self.steady(state):
            return self._advance(chunk, state, emb)
        outs = []
        for j in range(n):
            hop_emb = emb[:, j] if torch.is_tensor(emb) and emb.dim() == 3 else emb   # one per frame
            out, state = self._advance(chunk[:, j * self.hop:(j + 1) * self.hop], state, hop_emb)
            outs.append(out)
        return torch.cat(outs, -1), state

    def _advance(self, chunk, state, emb):
        """The adapter's step on ``chunk [B, n hop]``: one hop anywhere, n > 1 hops in one pass once
        ``steady`` -> ``(out [B, n hop], new state)``."""
        raise NotImplementedError

    def set_tag(self, **fields):
        fields = {"stream": STATE_VERSION, "model": self.name, "sr": self.sample_rate, **fields}
        self.tag = ";".join(f"{k}={v}" for k, v in fields.items())
        self._shapes = {}

    def init_state(self, batch=1):
        raise NotImplementedError

    def step(self, chunk, state):
        raise NotImplementedError

    def flush(self, state):
        raise NotImplementedError

    def check_rate(self, sample_rate):
        """A KdError unless the input's ``sample_rate`` is the one the model runs at."""
        if int(sample_rate) != int(self.sample_rate):
            raise KdError(f"{self.name} stream: the model runs at {self.sample_rate} Hz, the input is at "
                          f"{sample_rate} Hz (resample it first)")

    def check_state(self, state, batch):
        """A KdError naming what differs when ``state`` is not a state of this stream for ``batch``."""
        if not isinstance(state, dict) or not isinstance(state.get("tag"), str):
            raise KdError(f"{self.name} stream: not a stream state (no tag); make one with this model's "
                          "init_state")
        if state["tag"] != self.tag:
            got, want = _fields(state["tag"]), _fields(self.tag)
            diff = [f"{k} {got.get(k, '(none)')} (this stream: {want.get(k, '(none)')})"
                    for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)]
            raise KdError(f"{self.name} stream: the state was made for another model or version, not by "
                          f"this model's init_state: {'; '.join(diff)}")
        shapes = self._shapes.get(batch)
        if shapes is None:
            shapes = {k: tuple(v.shape) for k, v in self.init_state(batch).items() if torch.is_tensor(v)}
            self._shapes[batch] = shapes
        have = {k: tuple(v.shape) for k, v in state.items() if torch.is_tensor(v)}
        if have != shapes:
            bad = sorted(k for k in set(have) | set(shapes) if have.get(k) != shapes.get(k))
            what = ", ".join(f"{k} {have.get(k)} (expected {shapes.get(k)})" for k in bad[:4])
            raise KdError(f"{self.name} stream: the state does not fit a batch of {batch} of this "
                          f"configuration: {what}")

    def check_chunk(self, chunk, state):
        if not torch.is_tensor(chunk) or chunk.dim() != 2 or chunk.shape[-1] != self.step_size:
            what = "one hop" if self.hops == 1 else f"{self.hops} hops of {self.hop}"
            raise KdError(f"{self.name} stream: a step takes {what} [B, {self.step_size}], got "
                          f"{list(chunk.shape) if torch.is_tensor(chunk) else type(chunk).__name__}")
        self.check_state(state, chunk.shape[0])

    @torch.no_grad()
    def last_step(self, chunk, state):
        """The end of a finite stream: ``chunk [B, n hop]`` with n from 1 to ``hops`` (the hops left
        after the last whole step) -> ``(out [B, n hop], state)``, as n one-hop steps would give; a
        KdError for another length."""
        if torch.is_tensor(chunk) and chunk.dim() == 2 and chunk.shape[-1] == self.step_size:
            return self.step(chunk, state)
        if not torch.is_tensor(chunk) or chunk.dim() != 2 or chunk.shape[-1] % self.hop \
                or not 0 < chunk.shape[-1] < self.step_size:
            raise KdError(f"{self.name} stream: a last step takes 1 to {self.hops} whole hops of {self.hop}, got "
                          f"{list(chunk.shape) if torch.is_tensor(chunk) else type(chunk).__name__}")
        self.check_state(state, chunk.shape[0])
        return self._hops(chunk, state)

    @torch.no_grad()
    def run(self, wav, state=None):
        """Stream ``wav [B, T]`` (T a multiple of ``hop``) step by step: (output [B, T], final state);
        when T is not a multiple of ``step_size`` the last step takes the hops left (as the end of a
        file)."""
        if wav.dim() != 2 or wav.shape[-1] % self.hop:
            raise KdError(f"{self.name} stream: run needs [B, T] with T a multiple of the hop {self.hop}, "
                          f"got {list(wav.shape)}")
        state = self.init_state(wav.shape[0]) if state is None else state
        outs = []
        for start in range(0, wav.shape[-1], self.step_size):
            out, state = self.last_step(wav[:, start:start + self.step_size], state)
            outs.append(out)
        return torch.cat(outs, -1), state

    def run_file(self, wav):
        """A whole file streamed and flushed: ``[B, T]`` aligned with the offline output (the first
        ``delay`` stream samples, which precede the signal, dropped; the flush's tail appended).  T
        that is not a multiple of the hop is padded with zeros to one and cut back after."""
        length = wav.shape[-1]
        pad = -length % self.hop
        out, state = self.run(torch.nn.functional.pad(wav, (0, pad)) if pad else wav)
        return torch.cat([out, self.flush(state)], -1)[:, self.delay:self.delay + length]
