"""ONNX export of a streaming step (``kdspeech.models.streaming``), run frame by frame in onnxruntime
and checked against the torch stream over a whole file.

The graph is one ``step`` at batch 1: inputs ``chunk`` ``[1, hop]`` and the state, outputs ``out``
``[1, hop]`` and the next state.  The host keeps the state between calls (``OrtStream``), as
DeepFilterNet's ``df_process_frame`` and sherpa-onnx's streaming models do.

State order (``flatten_state``): the state dict walked depth first in the order ``init_state`` builds
it (dict insertion order, nested dicts and lists by key / index), tensors only: the ``tag`` string is
left out and kept in the file's metadata instead.  Each tensor is named by its path joined with dots
(``step``, ``input``, ``ola``, ``env``, ``net.enc0``, ``net.lstm``, ...); the graph's inputs are
``chunk`` then ``state.<path>`` in that order, its outputs ``out`` then ``next.<path>`` in the same
order, so ``next.<path>`` of one call is ``state.<path>`` of the next.  The initial state is all zeros
(checked at export; ``OrtStream`` starts from zeros of the inputs' shapes and dtypes).  The file's
metadata (``kdspeech_stream_*``): tag, hop, hops (per step), delay, sr, the state paths, the
counters' caps.  A stream of k hops a step (``hops_per_step``) takes ``chunk`` ``[1, k hop]`` and
returns ``out`` ``[1, k hop]``: ``StepGraph`` runs k one-hop steps in a row, and
``kdspeech.deploy.stream_hops`` makes the export an ``If`` between that (the warm-up) and the adapter's
batched steady step.

Warm-up as tensor ops (``WarmUp``, ``StepGraph``).  An adapter's first steps take Python branches on
its step counter (SpectralStream: the first ``lag + extra`` hops emit zeros and keep the rest of the
state; pDeepFilterNet2's look-ahead frames update the network state before the overlap-add; E3Net
zeroes the output samples that precede the signal).  The export traces the steady-state step (every
integer state entry, a counter, set to the value it settles at) and ``StepGraph`` puts the warm-up
around it as tensor operations on the counter input.  What to gate is observed once, by streaming
seeded noise from the initial state until the counters settle: per state tensor the first step that
replaces it (before it, the adapter kept the very same tensor object), per output sample the first
step where it is not zero.  The graph then keeps a tensor (``where``) and zeroes an output sample
until the counter reaches that step, and the counter is ``min(counter + 1, cap)``.  With mirrored
STFT padding (CRN) the first frames also read the history through a mirror of the signal's start:
the graph gathers the history at indices ``|i + s| - s`` (``s`` the frame's first sample, negative
only at the start: for ``s >= 0`` the identity) before the steady step.  A counter that does not run
1, 2, ... up to a cap (a periodic one), an entry switched on then off, a warm-up without a counter, or
a step that does not return one hop of waveform is a KdError naming it.  So the graph gives the torch
stream's outputs from the first hop on; the check below verifies it over a whole file.  The two
streams with periodic work, pse_refine's refinement and TinyECAPA's chunk embeddings (``out`` [1, D]
and ``ready`` [1]), are written as tensor operations with the periodic part as an ONNX ``If``
(``kdspeech.deploy.stream_periodic``), and exported, run and checked the same way.

Complex numbers as pairs.  The TorchScript exporter takes no complex tensors; ``ComplexAsPairs`` (a
``TorchFunctionMode`` active while the step is traced) runs the adapter's own step with ``rfft`` /
``irfft`` as products with real DFT matrices and every complex value as a ``Pair`` of real and
imaginary tensors (``abs``, ``.real``, ``.imag``, ``torch.complex``, ``view_as_real`` /
``view_as_complex``, products, quotients by real tensors, sums, indexing, ``cat``, ``stack``,
``zeros_like``); any other operation on a ``Pair`` is an error naming it.  The DFT products cost
``2 n_fft (n_fft/2 + 1)`` MACs a hop each way, more than an FFT; they are not counted in the report's
MACs (the torch step's FFTs are not either).

Check (``check_stream_onnx``): the same file streamed hop by hop through torch and through
onnxruntime; it passes when ``max |onnxruntime - torch| <= rtol x max |torch|`` over the whole file
from sample ``delay`` on (a chunk embedding stream: every embedding; ``onnx_check.DEFAULT_RTOL``,
1e-4; float32 DFT products in place of an FFT stay far below it).  The first ``delay`` output samples precede the signal (the overlap-add divides
them by a window sum near zero, which magnifies rounding; ``kdspeech enhance --streaming`` drops
them) and are left out.
"""

import json
from functools import lru_cache

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from kdspeech.errors import KdError

#: metadata keys of the ONNX file (``onnx.ModelProto.metadata_props``)
META_PREFIX = "kdspeech_stream_"
FORMAT_VERSION = 1


# -- complex values as (real, imaginary) pairs --------------------------------------------------

class Pair:
    """A complex tensor held as real and imaginary float tensors (see the module text)."""

    def __init__(self, real, imag):
        self.real, self.imag = real, imag

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return _pair_op(func, args, kwargs or {})

    def abs(self):
        return torch.sqrt(self.real * self.real + self.imag * self.imag)

    def __getitem__(self, index):
        return Pair(self.real[index], self.imag[index])

    def __mul__(self, other):
        if isinstance(other, Pair):
            return Pair(self.real * other.real - self.imag * other.imag,
                        self.real * other.imag + self.imag * other.real)
        return Pair(self.real * other, self.imag * other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, Pair):
            raise KdError("ComplexAsPairs: division by a complex value is not supported")
        return Pair(self.real / other, self.imag / other)

    def __add__(self, other):
        if isinstance(other, Pair):
            return Pair(self.real + other.real, self.imag + other.imag)
        return Pair(self.real + other, self.imag)

    __radd__ = __add__

    def __sub__(self, other):
        if isinstance(other, Pair):
            return Pair(self.real - other.real, self.imag - other.imag)
        return Pair(self.real - other, self.imag)

    def __rsub__(self, other):
        return -self + other

    def __neg__(self):
        return Pair(-self.real, -self.imag)

    @property
    def shape(self):
        return self.real.shape

    @property
    def dtype(self):
        return self.real.dtype

    def dim(self):
        return self.real.dim()


@lru_cache(maxsize=8)
def _dft(n):
    """float32 ``(cos, -sin)`` [n, n/2+1] of the forward real DFT and ``(icos, isin)`` [n/2+1, n] of the
    inverse (the weights of the one-sided spectrum folded in, imaginary parts of DC and Nyquist ignored
    as torch.fft.irfft ignores them).  Computed in numpy, so that a trace holds them as constants."""
    bins = n // 2 + 1
    angle = 2 * np.pi * np.outer(np.arange(n), np.arange(bins)) / n
    weight = np.full(bins, 2.0)
    weight[0] = 1.0
    if n % 2 == 0:
        weight[-1] = 1.0
    inverse = weight[:, None] / n
    mats = (np.cos(angle), -np.sin(angle), inverse * np.cos(angle).T, -inverse * np.sin(angle).T)
    return tuple(torch.from_numpy(m.astype(np.float32)) for m in mats)


def _has_pair(values):
    return any(isinstance(v, Pair) or (isinstance(v, (list, tuple)) and _has_pair(v)) for v in values)


def _rfft(x, n=None, dim=-1, norm=None):
    if (dim not in (-1, x.dim() - 1)) or norm not in (None, "backward") or (n is not None and n != x.shape[-1]):
        raise KdError("ComplexAsPairs: rfft only over the last axis, unpadded and unnormalised")
    cos, sin, _, _ = _dft(int(x.shape[-1]))
    return Pair(x @ cos.to(x.dtype), x @ sin.to(x.dtype))


def _irfft(x, n=None, dim=-1, norm=None):
    if not isinstance(x, Pair) or dim not in (-1, x.dim() - 1) or norm not in (None, "backward") or n is None \
            or n // 2 + 1 != x.shape[-1]:
        raise KdError("ComplexAsPairs: irfft only of a Pair over the last axis, with n = 2 (bins - 1) or 2 bins - 1")
    _, _, icos, isin = _dft(int(n))
    return x.real @ icos.to(x.dtype) + x.imag @ isin.to(x.dtype)


def _as_pair(value):
    return value if isinstance(value, Pair) else Pair(value, torch.zeros_like(value))


_PAIR_FUNCS = {
    "mul": lambda a, b: _as_pair(a) * b if isinstance(a, Pair) else b * a,
    "div": lambda a, b: _as_pair(a) / b,
    "add": lambda a, b: _as_pair(a) + b,
    "sub": lambda a, b: _as_pair(a) - b,
    "abs": lambda a: a.abs(),
    "neg": lambda a: -a,
}
_ALIASES = {"__mul__": "mul", "__rmul__": "mul", "multiply": "mul", "__truediv__": "div", "true_divide": "div",
            "__add__": "add", "__radd__": "add", "__sub__": "sub", "__neg__": "neg", "negative": "neg",
            "fft_rfft": "rfft", "fft_irfft": "irfft"}


def _pair_op(func, args, kwargs):
    name = getattr(func, "__name__", str(func))
    name = _ALIASES.get(name, name)
    if name == "complex":
        real, imag = (list(args) + [kwargs.get("real"), kwargs.get("imag")])[:2]
        return Pair(real, imag)
    if name == "rfft":
        return _rfft(*args, **kwargs)
    if name == "irfft":
        return _irfft(*args, **kwargs)
    if name == "view_as_real" and isinstance(args[0], Pair):
        return torch.stack([args[0].real, args[0].imag], -1)
    if name == "view_as_complex":
        return Pair(args[0][..., 0], args[0][..., 1])
    if name == "zeros_like" and isinstance(args[0], Pair):
        return Pair(torch.zeros_like(args[0].real), torch.zeros_like(args[0].imag))
    if name in ("cat", "stack") and _has_pair(args[:1]):
        parts = [_as_pair(p) for p in args[0]]
        fn = getattr(torch, name)
        rest = args[1:]
        return Pair(fn([p.real for p in parts], *rest, **kwargs), fn([p.imag for p in parts], *rest, **kwargs))
    if name in _PAIR_FUNCS and _has_pair(args) and not kwargs:
        return _PAIR_FUNCS[name](*args)
    if _has_pair(args) or _has_pair(kwargs.values()):
        raise KdError(f"ComplexAsPairs: no rule for {name} on a complex value (exporting a streaming step)")
    return func(*args, **kwargs)


class ComplexAsPairs(TorchFunctionMode):
    """While active, complex values are ``Pair``s and the real FFTs are DFT products (module text)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = _ALIASES.get(getattr(func, "__name__", ""), "")
        if name in ("rfft", "irfft") or func in (torch.complex, torch.view_as_complex) \
                or _has_pair(args) or _has_pair(kwargs.values()):
            return _pair_op(func, args, kwargs)
        return func(*args, **kwargs)


# -- the state as named tensors -----------------------------------------------------------------

def flatten_state(state, prefix=""):
    """``[(path, tensor)]`` of a state in the documented order (module text); strings are left out."""
    if torch.is_tensor(state):
        return [(prefix, state)]
    if isinstance(state, dict):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        return []
    out = []
    for key, value in items:
        out += flatten_state(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def unflatten_state(template, tensors):
    """A state shaped like ``template`` holding ``tensors`` (in ``flatten_state``'s order); the
    template's strings are kept."""
    tensors = iter(tensors)

    def build(node):
        if torch.is_tensor(node):
            return next(tensors)
        if isinstance(node, dict):
            return {k: build(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return type(node)(build(v) for v in node)
        return node
    return build(template)


# -- the step as a graph ------------------------------------------------------------------------

def _mirrors_start(stream):
    """Whether ``stream`` is an STFT-domain adapter with a mirrored left edge (``SpectralStream`` with
    ``reflect``): its first frames read the history through a mirror (module text)."""
    return bool(getattr(stream, "reflect", False)) and all(
        hasattr(stream, a) for a in ("lag", "extra", "hop", "n_fft", "history"))


class WarmUp:
    """The warm-up of a stream, observed on seeded noise (module text): ``counters`` ``{path: steady
    value}``, ``first`` ``{path: first step that updates it}`` (None: never), ``out_first`` (per output
    sample, the first step where it is not zero) and ``steps`` (the probe's length)."""

    def __init__(self, stream, template, limit=256):
        flat = flatten_state(template)
        self.counters = {p: None for p, t in flat if not t.is_floating_point()}
        floats = [p for p, t in flat if t.is_floating_point()]
        generator = torch.Generator().manual_seed(0)
        state, updated, nonzero, values, settled = template, {p: [] for p in floats}, [], [], None
        with torch.inference_mode():
            for k in range(1, limit + 1):
                out, new = stream.step(0.1 * torch.randn(1, stream.hop, generator=generator), state)
                if out.dim() != 2 or tuple(out.shape) != (1, stream.hop):
                    raise KdError(f"{stream.name} stream: a step returns {list(out.shape)}, not one hop "
                                  f"[1, {stream.hop}]: only waveform streams export")
                old, cur = dict(flatten_state(state)), dict(flatten_state(new))
                for p in floats:
                    updated[p].append(cur[p] is not old[p])
                nonzero.append((out[0] != 0).tolist())
                values.append({p: int(cur[p].reshape(-1)[0]) for p in self.counters})
                if settled is None and k > 1 and values[-1] == values[-2]:
                    settled = k
                if settled is not None and k >= 2 * settled + 2:
                    break
                state = new
        self.steps = k
        if settled is None:
            raise KdError(f"{stream.name} stream: its counters {sorted(self.counters)} do not settle within "
                          f"{limit} steps (a periodic one, e.g. a window every few hops, is a Python branch "
                          "that one exported step cannot hold)")
        for p in self.counters:
            steady = values[-1][p]
            if any(v[p] != min(i + 1, steady) for i, v in enumerate(values)):
                raise KdError(f"{stream.name} stream: counter {p} does not run 1, 2, ... up to a cap; the "
                              "ONNX export cannot make its warm-up a tensor operation")
            self.counters[p] = steady
        self.first = {p: _first_true(flags, f"{stream.name} stream: state {p}") for p, flags in updated.items()}
        self.out_first = [_first_true([step[i] for step in nonzero], f"{stream.name} stream: output sample {i}")
                          for i in range(stream.hop)]
        gates = [g for g in list(self.first.values()) + self.out_first if g is not None and g > 1]
        if gates and not self.counters:
            raise KdError(f"{stream.name} stream: its first steps differ from the steady step but it has no "
                          "step counter in its state; the ONNX export cannot tell them apart")
        self.clock = max(self.counters, key=self.counters.get) if self.counters else None
        if gates and max(gates) > self.counters[self.clock] + 1:
            raise KdError(f"{stream.name} stream: its warm-up lasts longer than its counter {self.clock} counts")


def _first_true(flags, what):
    """1-based index of the first True of ``flags`` (None when there is none); a KdError when a False
    follows it (the warm-up must switch an entry on once)."""
    if True not in flags:
        return None
    first = flags.index(True)
    if not all(flags[first:]):
        raise KdError(f"{what} is updated, then not, during the warm-up; the ONNX export cannot gate it")
    return first + 1


class StepGraph(nn.Module):
    """``forward(chunk, **{"state.<path>": tensor})`` -> ``{"out": ..., "next.<path>": ...}``: one
    step of ``stream`` with the warm-up as tensor operations (module text)."""

    def __init__(self, stream):
        super().__init__()
        self.hops = getattr(stream, "hops", 1)
        stream = stream.one_hop() if self.hops > 1 else stream   # k hops: k one-hop steps in a row
        self.stream = stream
        self.model = getattr(stream, "model", None)   # a sub-module, so that .eval() reaches it
        self.template = stream.init_state(1)
        self.paths = [path for path, _ in flatten_state(self.template)]
        self.warmup = WarmUp(stream, self.template)
        self.mirror = _mirrors_start(stream) and "input" in self.paths and self.warmup.clock is not None
        self.register_buffer("out_first", torch.tensor([g or 10 ** 9 for g in self.warmup.out_first]),
                             persistent=False)

    def example_inputs(self):
        return {"chunk": torch.zeros(1, self.hops * self.stream.hop),
                **{f"state.{p}": t.clone() for p, t in flatten_state(self.template)}}

    def forward(self, chunk, **state_in):
        """``hops`` one-hop steps (``one_hop``) in a row, each the state of the one before."""
        if self.hops == 1:
            return self.one_hop(chunk, **state_in)
        hop, outs = self.stream.hop, []
        for j in range(self.hops):
            result = self.one_hop(chunk[:, j * hop:(j + 1) * hop], **state_in)
            outs.append(result.pop("out"))
            state_in = {f"state.{k[len('next.'):]}": v for k, v in result.items()}
        return {"out": torch.cat(outs, -1), **result}

    def one_hop(self, chunk, **state_in):
        warm = self.warmup
        old = [state_in[f"state.{p}"] for p in self.paths]
        given = dict(zip(self.paths, old))
        steady = dict(given)
        for p, value in warm.counters.items():   # the steady path of the step's Python branches
            steady[p] = torch.tensor(value, dtype=given[p].dtype)
        k = given[warm.clock] + 1 if warm.clock is not None else None
        if self.mirror:
            shifted = torch.cat([given["input"], chunk.to(given["input"].dtype)], -1)[:, self.stream.hop:]
            chunk = self._mirrored(chunk, steady, k)
        with ComplexAsPairs():
            out, new = self.stream.step(chunk, unflatten_state(self.template, [steady[p] for p in self.paths]))
        new = dict(flatten_state(new))
        result = {}
        if k is not None:   # conditions expanded to the values' shapes: onnxruntime's broadcasting Where is slow
            out = torch.where((k >= self.out_first).expand(out.shape), out, torch.zeros_like(out))
        for p in self.paths:
            if p in warm.counters:
                result[p] = torch.clamp(given[p] + 1, max=warm.counters[p])
            elif warm.first[p] is None:
                result[p] = given[p]
            elif warm.first[p] <= 1:
                result[p] = new[p]
            else:
                result[p] = torch.where((k >= warm.first[p]).expand(new[p].shape), new[p], given[p])
        if self.mirror:
            result["input"] = shifted
        return {"out": out, **{f"next.{p}": result[p] for p in self.paths}}

    def _mirrored(self, chunk, steady, k):
        """The chunk, and ``steady["input"]``, replaced by the history read through the mirror of the
        signal's start: frame ``m = k - lag - extra`` begins at sample ``s = m hop - n_fft/2`` and reads
        sample ``|i + s|`` at position i (the identity once ``s >= 0``)."""
        s = self.stream
        hist = torch.cat([steady["input"], chunk.to(steady["input"].dtype)], -1)
        first = (k - s.lag - s.extra) * s.hop - s.n_fft // 2
        index = ((torch.arange(s.n_fft) + first).abs() - first).clamp(0, hist.shape[-1] - 1)
        index = torch.cat([index, torch.arange(s.n_fft, hist.shape[-1])])
        mirrored = hist[:, index]
        steady["input"] = mirrored[:, :-s.hop]
        return mirrored[:, -s.hop:]


def export_stream_onnx(stream, path, sr=None):
    """Write ``stream``'s step to ``path`` (``onnx_export.export_onnx``) with its metadata; returns
    ``{"inputs", "outputs", "rewritten", "metadata"}``.  A non-zero initial state is a KdError."""
    from pathlib import Path

    from kdspeech.deploy.onnx_export import export_onnx
    from kdspeech.deploy.stream_hops import export_hops
    from kdspeech.deploy.stream_periodic import export_periodic, periodic_graph

    periodic = periodic_graph(stream)     # pse_refine's refinement, TinyECAPA's chunk embeddings
    hops = getattr(stream, "hops", 1)
    template = stream.init_state(1)
    nonzero = [p for p, t in flatten_state(template) if bool(torch.any(t != 0))]
    if nonzero:
        raise KdError(f"{stream.name} stream: the ONNX export needs an all-zero initial state; "
                      f"init_state sets {', '.join(nonzero)}")
    if periodic:
        graph = periodic[0]
        exported = export_periodic(stream, Path(path), *periodic)
    elif hops > 1:                        # the steady step batched, the warm-up hop by hop
        exported, graph = export_hops(stream, Path(path))
    else:
        graph = StepGraph(stream).eval()
        exported = export_onnx(graph, graph.example_inputs(), path)
    warmup = getattr(graph, "warmup", None)
    meta = {"tag": str(graph.template.get("tag", "")), "hop": int(stream.hop), "hops": int(hops),
            "delay": int(stream.delay),
            "state": json.dumps(graph.paths), "counters": json.dumps(warmup.counters if warmup else {}),
            "mirrored_start": int(getattr(graph, "mirror", False)), "format_version": FORMAT_VERSION,
            "outputs": json.dumps([n for n in exported["outputs"] if not n.startswith("next.")])}
    if sr is not None:
        meta["sr"] = int(sr)
    _write_metadata(path, meta)
    exported["metadata"] = meta
    return exported


def _write_metadata(path, meta):
    import onnx

    from kdspeech.atomic import atomic_path
    model = onnx.load(str(path))
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = META_PREFIX + key, str(value)
    with atomic_path(path) as tmp:
        onnx.save(model, str(tmp))


def read_metadata(session):
    """``{key: value}`` of an export's metadata (the ``kdspeech_stream_`` keys, prefix removed)."""
    props = session.get_modelmeta().custom_metadata_map
    return {k[len(META_PREFIX):]: v for k, v in props.items() if k.startswith(META_PREFIX)}


class OrtStream:
    """An exported step run in onnxruntime with the state kept here: ``init_state()``, ``step(chunk
    [1, step_size] float32 array) -> out`` (``step_size`` = ``hops`` x ``hop``) and ``run(wav [1,
    T])``, ``T`` a multiple of the hop (a last partial step padded with zeros, cut back).  A chunk
    embedding stream (outputs ``out`` and ``ready``) steps to ``(embedding [1, D], ready [1])`` and
    runs to the ready embeddings ``[1, K, D]``, as ``TinyEcapaStream.run``."""

    def __init__(self, path, num_threads=1):
        from kdspeech.deploy.onnx_check import onnx_session
        self.session = onnx_session(path, num_threads)
        self.meta = read_metadata(self.session)
        if not self.meta.get("hop"):
            raise KdError("not a streaming export of kdspeech (no kdspeech_stream_hop metadata)", path=path)
        self.hop, self.delay = int(self.meta["hop"]), int(self.meta["delay"])
        self.hops = int(self.meta.get("hops", 1))
        self.step_size = self.hops * self.hop
        self.inputs = [i for i in self.session.get_inputs() if i.name != "chunk"]
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.results = [o for o in self.outputs if not o.startswith("next.")]
        if self.results not in (["out"], ["out", "ready"]) or self.outputs[len(self.results):] != [
                "next." + i.name[len("state."):] for i in self.inputs]:
            raise KdError("the export's state inputs and outputs do not pair up (state.<path> / next.<path>)",
                          path=path)
        self.state = None

    def init_state(self):
        types = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(double)": np.float64}
        self.state = [np.zeros(i.shape, types[i.type]) for i in self.inputs]
        return self.state

    def step(self, chunk):
        if self.state is None:
            self.init_state()
        feed = {"chunk": np.asarray(chunk, np.float32).reshape(1, self.step_size)}
        feed.update((i.name, s) for i, s in zip(self.inputs, self.state))
        values = self.session.run(self.outputs, feed)
        n = len(self.results)
        self.state = values[n:]
        return values[0] if n == 1 else tuple(values[:n])

    def run(self, wav):
        wav = np.asarray(wav, np.float32)
        length = wav.shape[-1]
        wav = np.pad(wav, ((0, 0), (0, -length % self.step_size)))   # a last partial step: zeros after
        self.init_state()
        steps = [self.step(wav[:, i:i + self.step_size]) for i in range(0, wav.shape[-1], self.step_size)]
        if len(self.results) == 1:
            return np.concatenate(steps, -1)[:, :length]
        ready = [out[:, None] for out, flag in steps if int(flag[0])]
        return np.concatenate(ready, 1) if ready else np.zeros((1, 0, steps[0][0].shape[-1]), np.float32)


def compare_streams(reference, got, delay, rtol=None):
    """Compare two streams' outputs ``[1, T]`` from sample ``delay`` on (the samples before it precede the
    signal) by ``onnx_check.compare_outputs``: passed when ``max |got - reference| <= rtol x max
    |reference|``; adds ``scale`` (max |reference|), ``relative`` (the difference over it) and ``rtol``."""
    from kdspeech.deploy.onnx_check import DEFAULT_RTOL, compare_outputs
    rtol = DEFAULT_RTOL if rtol is None else rtol
    ref = np.asarray(reference, np.float32)[..., delay:]
    got = np.asarray(got, np.float32)[..., delay:]
    if not ref.size:
        raise KdError(f"a stream of {np.shape(reference)[-1]} samples has nothing past its delay {delay} to compare")
    result = compare_outputs({"out": torch.from_numpy(ref)}, {"out": got}, rtol)
    scale = float(np.max(np.abs(ref)))
    result.update(scale=scale, rtol=rtol, relative=result["max_abs_diff"] / scale if scale else float("inf"))
    result["passed"] = bool(result["passed"] and scale > 0)
    return result


def check_stream_onnx(stream, path, wav, num_threads=1, rtol=None):
    """Stream ``wav [1, T]`` (T a multiple of the hop) hop by hop through torch and through the export at
    ``path`` in onnxruntime; ``compare_streams``' dict plus ``hops``."""
    with torch.inference_mode():
        ref, _ = stream.run(wav)
    got = OrtStream(path, num_threads).run(wav.numpy())
    delay = 0 if ref.dim() == 3 else stream.delay     # chunk embeddings [1, K, D]: every one compared
    result = compare_streams(ref.numpy(), got, delay, rtol)
    result["hops"] = wav.shape[-1] // stream.hop
    return result
