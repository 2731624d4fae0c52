"""``SpectralStream``: a frame-level STFT and an overlap-add iSTFT inside the step, around a per-frame
network (``init_net_state``, ``frame``), for the models built on ``kdspeech.models.spectral.Stft``.

The offline models use a centred STFT (frame m at ``m * hop``, spanning ``[m hop - n_fft/2, m hop +
n_fft/2)``, the edges padded).  The step keeps the last ``H - hop`` input samples, ``H = (lag + extra)
hop + n_fft/2`` with ``lag = ceil(n_fft/2 / hop)``, so that after chunk k it holds frame ``m = k - lag -
extra`` whole; steps with m < 0 emit zeros.  Zero padding (DCCRN, pDeepFilterNet2) matches a stream
that starts from zeros (extra = 0).  Mirrored padding (CRN: torch.stft's "reflect") needs ``x[0 ..
n_fft/2]`` for frame 0, one sample past what ``lag`` hops hold when ``n_fft/2`` is a multiple of the
hop; such models wait one more hop (extra = 1) and mirror the left edge as torch.stft does.

The network may look ``lookahead`` frames ahead (pDeepFilterNet2): ``frame`` then returns the estimate
of frame ``m - lookahead`` (None while that is negative).  The iSTFT is an overlap-add of
``irfft(frame) * window`` with a carried tail of ``n_fft - hop`` samples, divided by the overlap-added
squared window (also carried), as torch.istft does; each step emits the ``hop`` samples no later frame
touches.  Delay: ``(lag + extra - 1 + lookahead) hop + n_fft/2`` samples.  With k hops a step, a
steady step takes its k frames as one ``[B, k, bins]`` spectrum through ``frames`` and overlap-adds
the k estimates (warm-up steps go hop by hop; latency ``delay + (k - 1) hop``).

Flush (the end of a finite file of T samples, T a multiple of the hop): the offline STFT has frames up
to ``T / hop``, the last ones reaching past the end into the right padding.  ``flush`` feeds ``lag +
extra`` hops of that padding (zeros, or the mirror of the last ``n_fft/2`` samples for "reflect": the
right edge is known by then), runs the ``lookahead`` frames past the end as the offline model does
(``frames(None, ..., end=j)``), and emits what is left of the overlap-add: the file's last ``delay``
samples, so that streamed + flushed output equals the offline output over the whole file.
"""

import math

import torch
import torch.nn.functional as F

from kdspeech.errors import KdError
from kdspeech.models.streaming.base import StreamingModel, prefixed, unprefixed


class SpectralStream(StreamingModel):
    """Frame-level STFT / overlap-add iSTFT around a per-frame network (``init_net_state``, ``frame``).
    ``cond_lag``: steps between the step that ends at sample ``n hop`` and the one that runs network
    frame n (where a frame-wise embedding is consumed)."""

    lookahead = 0   # network frames of look-ahead (frame m's step returns the estimate of m - lookahead)
    net_lag = 0     # network frame n runs at STFT frame n + net_lag

    def __init__(self, model, stft, sample_rate=16000, hops_per_step=1, **tag):
        if model.training:
            raise KdError(f"{type(model).__name__}: streaming needs eval mode (BatchNorm running "
                          "statistics); call model.eval() first")
        self.model, self.name, self.sample_rate = model, type(model).__name__, int(sample_rate)
        self.n_fft, self.hop = stft.n_fft, stft.hop
        self.reflect = stft.pad_mode == "reflect"
        half = self.n_fft // 2
        self.lag = math.ceil(half / self.hop)
        self.extra = 1 if self.reflect and self.lag * self.hop <= half else 0
        self.history = (self.lag + self.extra) * self.hop + half
        self.delay = (self.lag + self.extra - 1 + self.lookahead) * self.hop + half
        self.cond_lag = self.lag + self.extra + self.net_lag
        left = (self.n_fft - stft.win_length) // 2
        window = stft.window.detach().float()
        self.window = F.pad(window, (left, self.n_fft - stft.win_length - left))
        # the step counter is capped past the last step that treats the start differently: bounded state
        self.cap = 2 * (self.lag + self.extra) + self.lookahead + 2
        self.steady_step = self.cap
        self.set_tag(n_fft=self.n_fft, hop=self.hop, **tag)
        self.set_hops(hops_per_step)

    def init_state(self, batch=1):
        state = {"tag": self.tag,
                 "step": torch.zeros((), dtype=torch.long),
                 "input": torch.zeros(batch, self.history - self.hop),
                 "ola": torch.zeros(batch, self.n_fft - self.hop),
                 "env": torch.zeros(self.n_fft - self.hop)}
        state.update(prefixed("net.", self.init_net_state(batch)))
        return state

    def _frame_samples(self, hist, m):
        """The samples of frame m from the history (its left edge mirrored in reflect mode)."""
        half = self.n_fft // 2
        if not (self.reflect and m * self.hop < half):
            return hist[:, :self.n_fft]
        start = m * self.hop - half                # the history starts at this sample (< 0)
        src = torch.arange(start, start + self.n_fft).abs() - start
        return hist[:, src]

    @torch.no_grad()
    def step(self, chunk, state, emb=None):
        """``hops`` hops; ``emb [B, D]``: the speaker embedding of the network frames this step runs (for
        a frame-wise conditioning, e.g. the on-the-fly refinement), instead of the stream's fixed one."""
        self.check_chunk(chunk, state)
        return self._hops(chunk, state, emb)

    def _advance(self, chunk, state, emb):
        """n hops (n > 1 only once ``steady``): STFT frames ``m .. m + n - 1`` through ``frames``."""
        n = chunk.shape[-1] // self.hop
        hist = torch.cat([state["input"], chunk.to(state["input"].dtype)], -1)
        k = int(state["step"]) + 1
        m = k - self.lag - self.extra
        new = dict(state)
        new["input"] = hist[:, n * self.hop:]
        new["step"] = torch.tensor(min(k + n - 1, self.cap), dtype=torch.long)
        if m < 0:
            return chunk.new_zeros(chunk.shape), new
        if n == 1:
            samples = self._frame_samples(hist, m)[:, None]
        else:
            samples = torch.stack([hist[:, j * self.hop:j * self.hop + self.n_fft] for j in range(n)], 1)
        spec = torch.fft.rfft(samples * self.window, n=self.n_fft)                  # [B, n, bins]
        return self._emit(spec, new, m, emb, 0)

    def _emit(self, spec, new, m, emb, end):
        est, net = self.frames(spec, unprefixed("net.", new), m, emb, end)
        new.update(prefixed("net.", net))
        if est is None:
            return new["input"].new_zeros(new["input"].shape[0], self.hop), new
        frame_out = torch.fft.irfft(est, n=self.n_fft) * self.window                 # [B, n, n_fft]
        n, hop = frame_out.shape[1], self.hop
        ola = F.pad(new["ola"], (0, n * hop))
        env = F.pad(new["env"], (0, n * hop))
        square = self.window.square()
        for j in range(n):   # overlap-add, frame j at j hop
            ola = ola + (F.pad(frame_out[:, j], (j * hop, (n - 1 - j) * hop)) if n > 1 else frame_out[:, 0])
            env = env + (F.pad(square, (j * hop, (n - 1 - j) * hop)) if n > 1 else square)
        new["ola"], new["env"] = ola[:, n * hop:], env[n * hop:]
        return self._normalised(ola[:, :n * hop], env[:n * hop]), new

    @staticmethod
    def _normalised(ola, env):
        return torch.where(env > 1e-11, ola / env.clamp_min(1e-11), torch.zeros_like(ola))

    @torch.no_grad()
    def flush(self, state, emb=None):
        """The last ``delay`` output samples of a finite file (module docstring); ``emb``: None or a
        function ``j -> [B, D]`` giving the embedding of the j-th flush step's network frame (j = 0,
        1, ...: the steps that would follow the file's last one).  ``state`` is left unchanged."""
        batch = state["input"].shape[0] if isinstance(state, dict) and "input" in state else 1
        self.check_state(state, batch)
        half, steps = self.n_fft // 2, self.lag + self.extra
        pad = state["input"].new_zeros(batch, steps * self.hop)
        if self.reflect:  # torch.stft's right edge: x[T - 2 - i] at T + i
            pad[:, :half] = state["input"][:, -2 - torch.arange(half)]
        outs, new = [], dict(state)
        for j in range(steps):
            out, new = self._advance(pad[:, j * self.hop:(j + 1) * self.hop], new,
                                     emb(j) if emb is not None else None)
            outs.append(out)
        m = int(new["step"]) - self.lag - self.extra
        for j in range(1, self.lookahead + 1):
            out, new = self._emit(None, new, m + j, emb(steps + j - 1) if emb is not None else None, j)
            outs.append(out)
        rest = max(0, half - self.hop)
        outs.append(self._normalised(new["ola"][:, :rest], new["env"][:rest]))
        return torch.cat(outs, -1)[:, :self.delay]

    def init_net_state(self, batch):
        raise NotImplementedError

    def frames(self, spec, net, m, emb, end):
        """STFT frames ``m .. m + n - 1`` (complex ``[B, n, n_fft/2+1]``; None past the end of the file:
        ``end`` = 1, 2, ..., one frame) -> (the estimates of frames ``m - lookahead ..`` ``[B, n, bins]``
        or None, the new network state).  n > 1 only once the stream is steady (no warm-up branch)."""
        raise NotImplementedError


def causal_conv_step(conv, buf, x, time_axis):
    """A causal time convolution on the frames ``x`` (one or more) after the buffer ``buf`` of the
    last ``kt - 1`` input frames: (the output frames, the new buffer)."""
    inp = torch.cat([buf, x], time_axis)
    return conv(inp), inp.narrow(time_axis, x.shape[time_axis], buf.shape[time_axis])


def _folded_weight(deconv, time_axis):
    """``deconv``'s weight ``[C_in, C_out, ...]`` as the matrix ``[C_out k, C_in kt]`` of
    ``deconv_frames`` (time tap ``kt - 1 - i`` at column ``c kt + i``, frequency tap j at row
    ``o k + j``); cached on the module while its weight's storage and version (in-place updates,
    ``load_state_dict``) stay the same."""
    weight = deconv.weight
    key = (weight.data_ptr(), weight._version, time_axis)
    cached = getattr(deconv, "_kd_folded", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    with torch.inference_mode(False), torch.no_grad():   # a plain tensor: usable when an export traces
        c_in, c_out = weight.shape[:2]
        kt = weight.shape[time_axis]
        taps = weight.detach().flip(time_axis).movedim(time_axis, 1)          # [C_in, kt, C_out, k]
        matrix = taps.reshape(c_in * kt, -1).t().contiguous()                  # [C_out k, C_in kt]
    deconv._kd_folded = (key, matrix)
    return matrix


def deconv_frames(deconv, inp, time_axis, freq_size=None):
    """The last n output frames of ``deconv`` (an ``nn.ConvTranspose2d``) over ``inp`` holding ``kt - 1 +
    n`` input frames on ``time_axis`` (2: [B, C, T, F], 3: [B, C, F, T]; the buffer, then a step's n
    frames): the frames a causal stream keeps, ``deconv(inp)`` narrowed to frames ``kt - 1 .. kt - 2 +
    n``.  A transposed convolution over T frames writes ``T + kt - 1``; this computes only the kept ones,
    output frame j = ``sum_i W[tap kt-1-i] frame_(j+i)``: the time taps folded into the input channels
    (``_folded_weight``), the n windows of kt frames as columns of one matrix product (the weight read
    once), and the frequency taps summed into place (``F.fold``, the transposed convolution's col2im,
    over an [n, F] grid).  Why a matrix product: oneDNN's transposed convolution costs a fixed ~200 us
    a call at one frame (DCCRN-CL's decoder: 1.56 ms of real-part calls a step, 0.71 ms this way; CRN's
    0.34 -> 0.28 ms).  While an ONNX export traces the step it is a transposed convolution over
    frequency alone (kernel height 1 over the n windows) with the folded weight (onnxruntime's
    ConvTranspose is fast, and col2im has no opset-17 export).  ``freq_size``: the output's frequency
    size (as ``output_size``), else the module's ``output_padding``."""
    kt = deconv.kernel_size[time_axis - 2]
    n = inp.shape[time_axis] - kt + 1
    if n < 1:
        raise ValueError(f"deconv_frames: {inp.shape[time_axis]} input frames, the kernel has {kt}")
    freq_axis = 5 - time_axis
    f = freq_axis - 2
    k, stride, pad, dil = deconv.kernel_size[f], deconv.stride[f], deconv.padding[f], deconv.dilation[f]
    size_in = inp.shape[freq_axis]
    natural = (size_in - 1) * stride - 2 * pad + dil * (k - 1) + 1
    size = freq_size if freq_size is not None else natural + deconv.output_padding[f]
    t = time_axis - 2
    if deconv.groups != 1 or deconv.stride[t] != 1 or deconv.padding[t] or deconv.dilation[t] != 1:
        raise ValueError("deconv_frames: a causal step needs time stride 1, no time padding "
                         "or dilation, and groups 1")
    b, c = inp.shape[:2]
    if n == 1:
        x = (inp if time_axis == 2 else inp.transpose(2, 3)).reshape(b, c * kt, size_in)
    else:   # window j's frames at rows c kt + i, its frequencies at columns j F + s
        windows = [inp.narrow(time_axis, j, kt) for j in range(n)]
        x = torch.stack([w if time_axis == 2 else w.transpose(2, 3) for w in windows], 3)   # [B, C, kt, n, F]
        x = x.reshape(b, c * kt, n * size_in)
    matrix = _folded_weight(deconv, time_axis)                                 # [C_out k, C kt]
    if torch.onnx.is_in_onnx_export():   # F.fold (col2im) has no opset-17 export; ONNX's ConvTranspose
        weight = matrix.t().reshape(c * kt, -1, 1, k)     # over frequency alone is onnxruntime's fast path
        y = F.conv_transpose2d(x.reshape(b, c * kt, n, size_in), weight, deconv.bias, stride=(1, stride),
                               padding=(0, pad), output_padding=(0, size - natural), dilation=(1, dil))
    else:
        y = F.fold(torch.matmul(matrix, x), (n, size), (1, k), dilation=(1, dil), padding=(0, pad),
                   stride=(1, stride))
        if deconv.bias is not None:
            y = y + deconv.bias[:, None, None]
    return y if time_axis == 2 else y.transpose(2, 3)                          # [B, C_out, n | F, F | n]
