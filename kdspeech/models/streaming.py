"""Streaming inference: one hop of samples in, one hop out, with an explicit, bounded state.

Protocol (``StreamingModel``): ``init_state()`` returns a fresh state (a flat dict of tensors, created
for a batch size); ``step(chunk [B, hop], state) -> (out [B, hop], state)`` consumes exactly one hop and
emits one hop; ``delay`` is the model's algorithmic delay in samples: the concatenated outputs of the
steps equal the offline ``forward`` of the whole signal delayed by ``delay`` samples (the first
``delay`` output samples precede the signal and are zeros or edge samples).  The state's size is fixed
by the configuration (it never grows with the length of the stream).

``stream_model(model)`` returns the adapter of a model that can stream (CRN, DCCRN) or raises a
``KdError`` naming the model and why it cannot.  The adapters reuse the model's own weights and modules
(no copy) and leave its offline ``forward`` untouched.

STFT inside the step (``SpectralStream``).  The offline models use a centred STFT (frames m at
``m * hop``, spanning ``[m * hop - n_fft/2, m * hop + n_fft/2)``, the edges padded).  The step keeps the
last ``H - hop`` input samples, ``H = (lag + extra) * hop + n_fft/2`` with ``lag = ceil(n_fft/2 / hop)``,
so that after chunk k it holds frame ``m = k - lag - extra`` whole; steps with m < 0 emit zeros.  Zero
padding (DCCRN) matches a stream that starts from zeros (extra = 0).  Mirrored padding (CRN,
torch.stft's "reflect") needs ``x[1 .. n_fft/2]`` for frame 0, one sample past what ``lag`` hops hold
when ``n_fft/2`` is a multiple of the hop, so such models wait one more hop (extra = 1) and mirror the
left edge exactly as torch.stft does; the right edge (the end of a stream) is not known, so the last
``n_fft`` samples of a file differ from the offline output, which pads that edge too.  The iSTFT is an
overlap-add of ``irfft(frame) * window`` with a carried tail of ``n_fft - hop`` samples, divided by the
overlap-added squared window (also carried), as torch.istft does; each step emits the ``hop`` samples
no later frame touches.  Delay: ``(lag + extra - 1) * hop + n_fft/2`` samples (CRN defaults 320 = 20 ms
at 16 kHz, 160 of them the mirrored edge's price; DCCRN-CL defaults 456 = 28.5 ms).

The network state: per causal (transposed) convolution the last ``kernel_time - 1`` input frames, and
the LSTMs' (h, c).  BatchNorm runs in eval mode (running statistics), so a model must be in eval mode.
"""

import math

import torch
import torch.nn.functional as F

from kdspeech.errors import KdError

#: models that cannot stream, and why (the message of ``stream_model``)
NOT_STREAMABLE = {
    "WaveUNet": "its convolutions are non-causal (each output sample sees future samples) and its "
                "down/up-sampling works on whole segments",
    "ConformerEnh": "its self-attention and convolutions see the whole utterance (full context, no "
                    "causal masking)",
    "PsmBlstm": "its bidirectional LSTM needs the end of the signal before the first output",
    "ConformerCtc": "it is a full-context recogniser, not a waveform-to-waveform model",
}


class StreamingModel:
    """Protocol: ``hop`` samples per step, ``delay`` (samples), ``init_state(batch=1)``, ``step``."""

    hop = None
    delay = None
    name = "model"

    def init_state(self, batch=1):
        raise NotImplementedError

    def step(self, chunk, state):
        raise NotImplementedError

    def run(self, wav, state=None):
        """Stream ``wav [B, T]`` (T a multiple of ``hop``) hop by hop: (output [B, T], final state)."""
        if wav.dim() != 2 or wav.shape[-1] % self.hop:
            raise KdError(f"{self.name} stream: run needs [B, T] with T a multiple of the hop {self.hop}, "
                          f"got {list(wav.shape)}")
        state = self.init_state(wav.shape[0]) if state is None else state
        outs = []
        for start in range(0, wav.shape[-1], self.hop):
            out, state = self.step(wav[:, start:start + self.hop], state)
            outs.append(out)
        return torch.cat(outs, -1), state


def state_numel(state):
    """Total number of elements of a state (a dict of tensors, nested dicts/lists allowed)."""
    if torch.is_tensor(state):
        return state.numel()
    if isinstance(state, dict):
        return sum(state_numel(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(state_numel(v) for v in state)
    return 0


class SpectralStream(StreamingModel):
    """Frame-level STFT / overlap-add iSTFT around a per-frame network (``init_net_state``, ``frame``)."""

    def __init__(self, model, stft):
        if model.training:
            raise KdError(f"{type(model).__name__}: streaming needs eval mode (BatchNorm running "
                          "statistics); call model.eval() first")
        self.model, self.name = model, type(model).__name__
        self.n_fft, self.hop = stft.n_fft, stft.hop
        self.reflect = stft.pad_mode == "reflect"
        half = self.n_fft // 2
        self.lag = math.ceil(half / self.hop)
        self.extra = 1 if self.reflect else 0
        self.history = (self.lag + self.extra) * self.hop + half
        self.delay = (self.lag + self.extra - 1) * self.hop + half
        left = (self.n_fft - stft.win_length) // 2
        window = stft.window.detach().float()
        self.window = F.pad(window, (left, self.n_fft - stft.win_length - left))
        # a counter capped past the last step that treats the edge differently: bounded state
        self.cap = self.lag + self.extra + self.lag + 2
        self.tag = f"{self.name}/{self.n_fft}/{self.hop}"

    def init_state(self, batch=1):
        zeros = torch.zeros
        return {"tag": self.tag,
                "step": torch.zeros((), dtype=torch.long),
                "input": zeros(batch, self.history - self.hop),
                "ola": zeros(batch, self.n_fft - self.hop),
                "env": zeros(self.n_fft - self.hop),
                "net": self.init_net_state(batch)}

    def _frame_samples(self, hist, m):
        """The samples of frame m from the history (its left edge mirrored in reflect mode)."""
        half = self.n_fft // 2
        if not (self.reflect and m * self.hop < half):
            return hist[:, :self.n_fft]
        start = m * self.hop - half                # the history starts at this sample (< 0)
        src = torch.arange(start, start + self.n_fft).abs() - start
        return hist[:, src]

    def step(self, chunk, state):
        if not isinstance(state, dict) or state.get("tag") != self.tag:
            raise KdError(f"{self.name} stream: the state was not made by this model's init_state "
                          f"(expected tag {self.tag!r})")
        if chunk.dim() != 2 or chunk.shape[-1] != self.hop or chunk.shape[0] != state["input"].shape[0]:
            raise KdError(f"{self.name} stream: a step takes one hop [B, {self.hop}] with the state's batch "
                          f"{state['input'].shape[0]}, got {list(chunk.shape)}")
        hist = torch.cat([state["input"], chunk.to(state["input"].dtype)], -1)
        k = int(state["step"]) + 1
        m = k - self.lag - self.extra
        new = dict(state)
        new["input"] = hist[:, self.hop:]
        new["step"] = torch.tensor(min(k, self.cap), dtype=torch.long)
        if m < 0:
            return chunk.new_zeros(chunk.shape), new
        frame = self._frame_samples(hist, m) * self.window
        spec = torch.fft.rfft(frame, n=self.n_fft)
        est, new["net"] = self.frame(spec, state["net"])
        frame_out = torch.fft.irfft(est, n=self.n_fft) * self.window
        ola = F.pad(state["ola"], (0, self.hop)) + frame_out
        env = F.pad(state["env"], (0, self.hop)) + self.window.square()
        done, weight = ola[:, :self.hop], env[:self.hop]
        out = torch.where(weight > 1e-11, done / weight.clamp_min(1e-11), torch.zeros_like(done))
        new["ola"], new["env"] = ola[:, self.hop:], env[self.hop:]
        return out, new

    def init_net_state(self, batch):
        raise NotImplementedError

    def frame(self, spec, net):
        """One complex frame ``[B, n_fft/2+1]`` -> (the estimate's frame, the new network state)."""
        raise NotImplementedError


def _causal_conv_step(conv, buf, x, time_axis):
    """A causal time convolution on one frame: (the one output frame, the new input buffer)."""
    inp = torch.cat([buf, x], time_axis)
    return conv(inp), inp.narrow(time_axis, 1, inp.shape[time_axis] - 1)


class CrnStream(SpectralStream):
    """Streaming CRN (``kdspeech.models.crn``): layers on [B, C, time, freq], one frame a step."""

    def __init__(self, model):
        super().__init__(model, model.stft)
        self.kt = model.encoder[0].time_pad + 1

    def init_net_state(self, batch):
        model = self.model
        enc, size, c_in = [], model.n_fft // 2 + 1, 1
        sizes = []
        for block in model.encoder:
            sizes.append(size)
            enc.append(torch.zeros(batch, c_in, self.kt - 1, size))
            conv = block.conv
            size = (size - conv.kernel_size[1]) // conv.stride[1] + 1
            c_in = conv.out_channels
        dec = []
        for block, size_in in zip(model.decoder, [size] + list(reversed(sizes))[:-1]):
            dec.append(torch.zeros(batch, block.deconv.in_channels, block.time_kernel - 1, size_in))
        lstm = model.lstm
        hc = torch.zeros(2, lstm.num_layers, batch, lstm.hidden_size)
        return {"enc": enc, "dec": dec, "lstm": hc}

    def frame(self, spec, net):
        model = self.model
        mag = spec.abs()
        x = mag[:, None, None, :]  # [B, 1, 1 frame, F]
        enc, skips, sizes = [], [], []
        for block, buf in zip(model.encoder, net["enc"]):
            sizes.append(x.shape[-1])
            y, buf = _causal_conv_step(block.conv, buf, x, 2)
            x = F.elu(block.norm(y))
            enc.append(buf)
            skips.append(x)
        b, c, _, f = x.shape
        y, (h, cell) = model.lstm(x.reshape(b, 1, c * f), (net["lstm"][0], net["lstm"][1]))
        x = model.project(y).reshape(b, 1, c, f).permute(0, 2, 1, 3)
        dec = []
        for block, skip, size, buf in zip(model.decoder, reversed(skips), reversed(sizes), net["dec"]):
            inp = torch.cat([buf, torch.cat([x, skip], 1)], 2)
            kt = block.time_kernel
            y = block.deconv(inp, output_size=(2 * kt - 1, size))[:, :, kt - 1:kt]
            x = F.softplus(y) if block.norm is None else F.elu(block.norm(y))
            dec.append(inp[:, :, 1:])
        est = x[:, 0, 0]
        gain = est / mag.clamp_min(1e-8)
        return spec * gain, {"enc": enc, "dec": dec, "lstm": torch.stack([h, cell])}


class DccrnStream(SpectralStream):
    """Streaming DCCRN / DCCRN-CL (``kdspeech.models.dccrn``): layers on [B, 2C, freq, time]; every
    convolution of the model is causal in time (there is no look-ahead option), so it always streams.
    With ``emb_dim`` > 0 (pDCCRN) the stream takes a fixed ``enroll_emb [B, D]``."""

    def __init__(self, model, enroll_emb=None):
        super().__init__(model, model.stft)
        if model.emb_dim and enroll_emb is None:
            raise KdError(f"dccrn stream: emb_dim is {model.emb_dim}, so the stream needs enroll_emb "
                          f"[B, {model.emb_dim}]")
        self.enroll_emb = enroll_emb if model.emb_dim else None
        self.kt = model.encoder[0][0].real.kernel_size[1]

    def init_net_state(self, batch):
        model = self.model
        size = model.stft.n_fft // 2
        enc, c_in, sizes = [], 2, []
        for layer in model.encoder:
            conv = layer[0].real
            sizes.append(size)
            enc.append(torch.zeros(batch, c_in, size, self.kt - 1))
            size = (size + 2 * conv.padding[0] - conv.kernel_size[0]) // conv.stride[0] + 1
            c_in = 2 * conv.out_channels
        dec = []
        for layer, size_in in zip(model.decoder, [size] + list(reversed(sizes))[:-1]):
            deconv = layer[0] if isinstance(layer, torch.nn.Sequential) else layer
            dec.append(torch.zeros(batch, 2 * deconv.real.in_channels, size_in, self.kt - 1))
        lstm = []
        for layer in model.lstm:
            h = torch.zeros(1, 2 * batch, layer.real.hidden_size)
            lstm.append(torch.stack([h, h, h, h]))  # (h, c) of L_r, (h, c) of L_i
        return {"enc": enc, "dec": dec, "lstm": lstm}

    @staticmethod
    def _lstm_step(layer, x, hc):
        xr, xi = torch.chunk(x, 2, -1)
        both = torch.cat([xr, xi], 0)
        yr, (hr, cr) = layer.real(both, (hc[0], hc[1]))
        yi, (hi, ci) = layer.imag(both, (hc[2], hc[3]))
        rr, ri = torch.chunk(yr, 2, 0)
        ir, ii = torch.chunk(yi, 2, 0)
        out_r, out_i = rr - ii, ri + ir
        if layer.proj is not None:
            out_r, out_i = layer.proj_r(out_r), layer.proj_i(out_i)
        return torch.cat([out_r, out_i], -1), torch.stack([hr, cr, hi, ci])

    def frame(self, spec, net):
        from kdspeech.models.complex_nn import _apply_pair, complex_cat
        model = self.model
        x = torch.stack([spec.real[:, 1:], spec.imag[:, 1:]], 1)[..., None]  # [B, 2, F-1, 1]
        enc, skips = [], []
        for layer, buf in zip(model.encoder, net["enc"]):
            conv = layer[0]
            inp = torch.cat([buf, x], -1)
            x = layer[2](layer[1](_apply_pair(conv.real, conv.imag, inp)))
            enc.append(inp[..., 1:])
            skips.append(x)
        b, c, f, _ = x.shape
        seq = x.permute(0, 3, 1, 2).reshape(b, 1, c * f)
        if model.emb_dim:
            emb = self.enroll_emb.to(seq.dtype)[:, None, :]
            real, imag = seq.chunk(2, -1)
            seq = torch.cat([real, emb, imag, emb], -1)
        lstm = []
        for layer, hc in zip(model.lstm, net["lstm"]):
            seq, hc = self._lstm_step(layer, seq, hc)
            lstm.append(hc)
        x = seq.reshape(b, 1, c, f).permute(0, 2, 3, 1)
        dec = []
        kt = self.kt
        for layer, skip, buf in zip(model.decoder, reversed(skips), net["dec"]):
            seqential = isinstance(layer, torch.nn.Sequential)
            deconv = layer[0] if seqential else layer
            inp = torch.cat([buf, complex_cat([x, skip])], -1)
            x = _apply_pair(deconv.real, deconv.imag, inp)[..., kt - 1:kt]
            if seqential:
                x = layer[2](layer[1](x))
            dec.append(inp[..., 1:])
        mask = torch.complex(x[:, 0, :, 0], x[:, 1, :, 0])
        mask = torch.cat([torch.zeros_like(mask[:, :1]), mask], 1)
        if model.masking == "E":
            mag = mask.abs()
            est = spec * (torch.tanh(mag) * mask / (mag + 1e-8))
        elif model.masking == "C":
            est = spec * mask
        else:
            est = torch.complex(spec.real * mask.real, spec.imag * mask.imag)
        return est, {"enc": enc, "dec": dec, "lstm": lstm}


def stream_model(model, **kwargs):
    """The streaming adapter of ``model`` (``CrnStream``, ``DccrnStream``), or a KdError naming the model
    and why it cannot stream."""
    from kdspeech.models.crn import CRN
    from kdspeech.models.dccrn import DCCRN
    if isinstance(model, CRN):
        return CrnStream(model, **kwargs)
    if isinstance(model, DCCRN):
        return DccrnStream(model, **kwargs)
    name = type(model).__name__
    why = NOT_STREAMABLE.get(name)
    if why is None:
        why = "no streaming step is implemented for it (streaming adapters exist for CRN and DCCRN)"
    raise KdError(f"{name} cannot stream: {why}")
