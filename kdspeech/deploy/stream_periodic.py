"""ONNX export of the streams with periodic work: ``pse_refine``'s on-the-fly refinement (an encoder pass
over the last T' of mixture every T'/2) and TinyECAPA's chunk embeddings (the blocks over the last
window of feature frames every chunk/2).  ``stream_onnx.export_stream_onnx`` hands these two here.

Why not ``stream_onnx.StepGraph``: that one traces the steady step and gates a warm-up that ends; a
periodic counter is a Python branch that one traced step cannot hold, and computing the periodic part
in every step (to select it with ``where``) would run a 1 s encoder pass every 10 ms hop.  Here:

- the step is written as tensor operations on its counters (``PseRefineGraph``, ``TinyEcapaGraph``):
  the counters are int64 state tensors (``count``, ``step``), the condition ``fire`` a tensor;
- the periodic part (``encoder -> cosine with E``; ``blocks -> statistics -> projection``) is exported
  alone and spliced into the step as the ``then`` branch of an ONNX ``If`` on ``fire``
  (``splice_if``); the ``else`` branch is zeros of its output's shape.  onnxruntime runs the branch
  only in the steps that fire, as the torch stream does;
- so the step graph is traced with the branch's output as a placeholder input (``encoded``) and
  ``fire`` as an extra output; the splice removes both and wires the ``If`` in between.

The inputs and outputs are those of ``stream_onnx`` (``chunk`` and ``state.<path>`` in, ``out`` and
``next.<path>`` out, the state order of ``flatten_state``, an all-zero initial state), so that
``OrtStream`` runs both.  pse_refine: ``out`` is one hop of waveform; its enhancer's warm-up is that
enhancer's ``StepGraph`` (the enhancer step takes the refined ``[E, s]`` of the delay line).  The
reference embedding E is a constant of the graph (one export per enrolled speaker, as for the offline
exports).  TinyECAPA: ``out`` is ``[1, D]``, the chunk embedding of the window this step completes, and
``ready`` ``[1]`` (int64) says whether it completed one (``out`` is zeros otherwise); the stream's first
steps (the STFT's mirrored left edge, the deltas' replicated first frames) are ``where`` on ``step``.

pse_refine with k hops a step (k up to the period, so at most one window completes in a step): the
step gathers the completed window's samples at the hop that completes it (``fired_window``, the
branch's input) and gives the enhancer one ``[E, s]`` per frame; it is exported twice, the enhancer's
k one-hop steps with their warm-up gates and its batched steady k-hop step, each spliced with the
periodic ``If``, and the two joined by ``stream_hops.splice_hops`` (``If`` on the enhancer's clock).
"""

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from kdspeech.errors import KdError

#: name of the placeholder input the branch's output replaces, of the condition output and of pse_refine's
#: fired window (the branch's input, an output of the traced step that the splice removes)
ENCODED, FIRE, WINDOW = "encoded", "fire", "fired_window"


# -- the If splice ------------------------------------------------------------------------------

def _toposort(nodes, available):
    """Nodes ordered so that every input (and every outer-scope name a subgraph reads) is produced first."""
    def needs(node):
        names = [n for n in node.input if n]
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                inner = {o for n in attr.g.node for o in n.output} | {i.name for i in attr.g.initializer}
                names += [n for sub in attr.g.node for n in sub.input if n and n not in inner]
        return names
    have, todo, done = set(available), list(nodes), []
    while todo:
        ready = [n for n in todo if all(name in have for name in needs(n))]
        if not ready:
            raise KdError("splicing the periodic branch: the step graph has a cycle or an unknown input")
        for node in ready:
            todo.remove(node)
            done.append(node)
            have.update(node.output)
    return done


def _branch_graph(branch, reads, prefix):
    """``branch``'s graph (one input, one output) as a subgraph that reads the outer value ``reads``:
    its internal names prefixed (unique in the outer graph), no inputs, its initializers kept."""
    graph = branch.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise KdError("splicing the periodic branch: it must have one input and one output")
    source = graph.input[0].name

    def rename(name):
        return reads if name == source else (prefix + name if name else name)
    for node in graph.node:
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
        node.name = prefix + node.name
    for init in graph.initializer:
        init.name = rename(init.name)
    out = graph.output[0]
    out.name = rename(out.name)
    return helper.make_graph(list(graph.node), prefix + "then", [], [out], list(graph.initializer))


def splice_if(step_path, branch_path, reads, out_path=None):
    """Write ``step_path`` with its placeholder input ``encoded`` computed inside it: ``encoded = If(fire,
    then: branch(reads), else: zeros)``, ``fire`` (a bool output of the step) and ``reads`` (a value of
    the step, the branch's input) by name; ``fire``, ``encoded`` and ``fired_window`` leave the inputs
    and outputs."""
    step, branch = onnx.load(str(step_path)), onnx.load(str(branch_path))
    graph = step.graph
    if ENCODED not in [i.name for i in graph.input] or FIRE not in [o.name for o in graph.output]:
        raise KdError(f"splicing the periodic branch: the step needs an input {ENCODED!r} and an output {FIRE!r}")
    encoded = next(i for i in graph.input if i.name == ENCODED)
    dims = [d.dim_value for d in encoded.type.tensor_type.shape.dim]
    zeros = numpy_helper.from_array(np.zeros(dims, np.float32), "periodic/zeros")
    else_graph = helper.make_graph([helper.make_node("Constant", [], ["periodic/else"], value=zeros)],
                                   "periodic/else", [], [helper.make_tensor_value_info("periodic/else",
                                                                                      onnx.TensorProto.FLOAT, dims)])
    then_graph = _branch_graph(branch, reads, "periodic/")
    then_graph.output[0].type.CopyFrom(else_graph.output[0].type)
    node = helper.make_node("If", [FIRE], [ENCODED], name="periodic", then_branch=then_graph, else_branch=else_graph)
    inputs = [i for i in graph.input if i.name != ENCODED]
    outputs = [o for o in graph.output if o.name not in (FIRE, WINDOW)]
    available = {i.name for i in inputs} | {i.name for i in graph.initializer}
    nodes = _toposort(list(graph.node) + [node], available)
    new = helper.make_graph(nodes, graph.name, inputs, outputs, list(graph.initializer))
    model = helper.make_model(new, opset_imports=list(step.opset_import), ir_version=step.ir_version)
    model.metadata_props.extend(step.metadata_props)
    onnx.checker.check_model(model)
    onnx.save(model, str(out_path or step_path))


# -- pse_refine ---------------------------------------------------------------------------------

class _WithEmb:
    """A frame-wise enhancer stream seen as a plain one: its steps take the embedding set in ``emb``
    (for ``StepGraph``, whose steps have no other inputs); every other attribute is the stream's."""

    def __init__(self, stream, emb):
        self.stream, self.emb = stream, emb

    def step(self, chunk, state):
        return self.stream.step(chunk, state, emb=self.emb)

    def __getattr__(self, name):
        if name.startswith("__") or name == "stream":   # copy/pickle probe a bare instance
            raise AttributeError(name)
        return getattr(self.stream, name)


class PseEncodeCosine(nn.Module):
    """``window [1, T'] -> cos(E, f_enc(window)) [1]``: the periodic branch of pse_refine's stream."""

    def __init__(self, stream):
        super().__init__()
        self.encoder = stream.model.encoder
        self.register_buffer("enroll", stream.enroll_emb.detach().clone(), persistent=False)

    def forward(self, window):
        from kdspeech.models.calling import as_outputs, primary
        from kdspeech.models.similarity import cosine_sequence
        emb = primary(as_outputs(self.encoder(window)))
        return cosine_sequence(emb[:, None], self.enroll)[:, 0]


class PseRefineGraph(nn.Module):
    """One step of ``PseRefineStream`` (k hops, its ``hops``) as tensor operations (module text), the
    cosine of the window completed in the step given as the input ``encoded`` (used where ``fire``).

    The k hops' counters are ``count + j hop`` (j = 1 .. k): ``fire`` where one of them completes a
    window (at most one per step: k <= the period), whose samples (gathered from the buffer at that
    hop, output ``fired_window``) the branch embeds; the hops from that one on take the new value, the
    delay line takes the k values and the enhancer gets one ``[E, s]`` per frame.  The enhancer: k
    one-hop ``StepGraph`` steps (its warm-up gates; ``steady`` False) or, ``steady`` True, its batched
    k-hop step with its counters at their steady values (``stream_hops.SteadyGraph``)."""

    def __init__(self, stream, steady=False):
        from kdspeech.deploy.stream_hops import SteadyGraph
        from kdspeech.deploy.stream_onnx import StepGraph, flatten_state
        super().__init__()
        self.stream, self.model, self.hops = stream, stream.model, int(stream.hops)
        if self.hops > stream.period:
            raise KdError(f"{stream.name} stream: the ONNX export takes at most one refinement window a step, "
                          f"so at most {stream.period} hops a step (hops_per_step {self.hops})")
        self.template = stream.init_state(1)
        self.paths = [p for p, _ in flatten_state(self.template)]
        probe = torch.cat([stream.enroll_emb[:1], torch.ones(1, 1, dtype=stream.enroll_emb.dtype)], -1)
        self.inner = _WithEmb(stream.inner.one_hop(), probe)
        self.enhancer = StepGraph(self.inner)
        self.steady = None
        if steady:
            self.batched = _WithEmb(stream.inner, probe[:, None].expand(-1, self.hops, -1))
            self.steady = SteadyGraph(self.batched, self.enhancer.template, self.enhancer.paths,
                                      self.enhancer.warmup.counters)
        self.register_buffer("enroll", stream.enroll_emb[:1].detach().clone(), persistent=False)

    def example_inputs(self):
        from kdspeech.deploy.stream_onnx import flatten_state
        return {"chunk": torch.zeros(1, self.hops * self.stream.hop), ENCODED: torch.zeros(1),
                **{f"state.{p}": t.clone() for p, t in flatten_state(self.template)}}

    def forward(self, chunk, encoded, **state_in):
        from kdspeech.models.similarity import scale_clip
        s, model, k = self.stream, self.model, self.hops
        size, every, initial, hop = int(model.chunk), int(model.hop), s.initial, s.hop
        samples = torch.cat([state_in["state.window"], chunk], -1)
        hops = torch.arange(k)
        counts = state_in["state.count"] + (hops + 1) * hop
        fires = (counts >= size) & (torch.remainder(counts - size, every) == 0)
        fire = fires.to(torch.int64).sum() > 0
        first = (fires.to(torch.int64) * hops).sum()                        # the hop that completes it
        fired = samples[:, (first + 1) * hop + torch.arange(size)]
        sim = state_in["state.sim"]
        cosine = torch.where(fire.expand(encoded.shape), encoded, state_in["state.cosine"])
        batch = (sim.shape[0], k)
        after = (fire & (hops >= first))[None].expand(batch)
        latest = torch.where(after, scale_clip(cosine, model.alpha)[:, None].expand(batch),
                             (sim[:, -1:] + initial).expand(batch))
        line = torch.cat([sim, latest - initial], 1)
        frames = torch.cat([self.enroll[:, None].expand(-1, k, -1), line[:, 1:k + 1, None] + initial], -1)
        enh_in = {f"state.{p}": state_in[f"state.enh.{p}"] for p in self.enhancer.paths}
        if self.steady is not None:
            self.batched.emb = frames
            enh = self.steady(chunk, **enh_in)
        else:
            outs = []
            for j in range(k):
                self.inner.emb = frames[:, j]
                enh = self.enhancer(chunk[:, j * hop:(j + 1) * hop], **enh_in)
                outs.append(enh.pop("out"))
                enh_in = {f"state.{p[len('next.'):]}": v for p, v in enh.items()}
            enh["out"] = torch.cat(outs, -1)
        total = state_in["state.count"] + k * hop
        result = {"out": enh.pop("out"), "next.count": torch.where(total >= size, size + torch.remainder(
            total - size, every), total), "next.window": samples[:, k * hop:], "next.sim": line[:, k:],
            "next.cosine": cosine}
        result.update((f"next.enh.{p[len('next.'):]}", v) for p, v in enh.items())
        return {"out": result["out"], **{f"next.{p}": result[f"next.{p}"] for p in self.paths}, FIRE: fire,
                WINDOW: fired}


# -- TinyECAPA chunk embeddings -----------------------------------------------------------------

class EcapaEmbed(nn.Module):
    """``frames [1, 80, c] -> embedding [1, D]``: the periodic branch of TinyECAPA's stream."""

    def __init__(self, stream):
        super().__init__()
        self.model = stream.model

    def forward(self, frames):
        from kdspeech.models.tiny_ecapa import mean_std
        return self.model.project(mean_std(self.model.blocks(frames)))


class TinyEcapaGraph(nn.Module):
    """One step of ``TinyEcapaStream`` as tensor operations (module text): ``out`` the embedding where
    ``ready``, its embedding given as the input ``encoded``."""

    def __init__(self, stream):
        from kdspeech.deploy.stream_onnx import _dft, flatten_state
        super().__init__()
        self.stream, self.model = stream, stream.model
        self.template = stream.init_state(1)
        self.paths = [p for p, _ in flatten_state(self.template)]
        front = stream.model.frontend
        cos, sin, _, _ = _dft(stream.n_fft)
        self.register_buffer("cos", stream.window[:, None] * cos, persistent=False)   # window folded in
        self.register_buffer("sin", stream.window[:, None] * sin, persistent=False)
        self.register_buffer("fb", front.logmel.mel.mel_scale.fb.float().clone(), persistent=False)
        self.register_buffer("dct", front.dct.float().T.clone(), persistent=False)
        self.eps = float(front.logmel.eps)
        r = stream.reach
        self.cap = stream.lag + 2 * r + 2     # TinyEcapaStream's cap of its step counter

    def example_inputs(self):
        from kdspeech.deploy.stream_onnx import flatten_state
        return {"chunk": torch.zeros(1, self.stream.hop), ENCODED: torch.zeros(1, self.model.emb_dim),
                **{f"state.{p}": t.clone() for p, t in flatten_state(self.template)}}

    @staticmethod
    def _keep(cond, new, old):
        return torch.where(cond.expand(new.shape), new, old)

    def forward(self, chunk, encoded, **state_in):
        s = self.stream
        r, n_fft = s.reach, s.n_fft
        hist = torch.cat([state_in["state.input"], chunk], -1)
        k = state_in["state.step"] + 1
        f = k - s.lag                                               # the STFT frame this hop completes
        start = f * s.hop - n_fft // 2                               # mirrored left edge: |i + start| - start
        index = ((torch.arange(n_fft) + start).abs() - start).clamp(0, hist.shape[-1] - 1)
        frame = hist[:, index]
        power = (frame @ self.cos) ** 2 + (frame @ self.sin) ** 2
        ceps = torch.log(power @ self.fb + self.eps) @ self.dct         # [1, C]
        old_c, old_d = state_in["state.ceps"], state_in["state.d1"]
        buf = self._keep(f == 0, ceps[..., None].expand(old_c.shape), old_c)
        win_c = torch.cat([buf, ceps[..., None]], -1)                   # c_(f - 2r) .. c_f
        d1 = s._delta(win_c, r)
        g = f - r
        buf = self._keep(g == 0, d1[..., None].expand(old_d.shape), old_d)
        win_d = torch.cat([buf, d1[..., None]], -1)                     # d1_(g - 2r) .. d1_g
        feat = torch.cat([win_c[..., 0][:, 1:], win_d[..., r], s._delta(win_d, r)], 1)
        frames = torch.cat([state_in["state.window"][..., 1:], feat[..., None]], -1)
        valid = g >= r
        count = state_in["state.count"] + 1
        size, every = int(s.frames), int(s.frames_hop)
        fire = valid & (count >= size) & (torch.remainder(count - size, every) == 0)
        wrapped = torch.where(count >= size, size + torch.remainder(count - size, every), count)
        nxt = {"step": torch.clamp(k, max=self.cap), "count": torch.where(valid, wrapped, state_in["state.count"]),
               "input": hist[:, s.hop:], "ceps": self._keep(f >= 0, win_c[..., 1:], old_c),
               "d1": self._keep(g >= 0, win_d[..., 1:], old_d),
               "window": self._keep(valid, frames, state_in["state.window"])}
        out = self._keep(fire, encoded, torch.zeros_like(encoded))
        return {"out": out, "ready": fire.to(torch.int64).reshape(1),
                **{f"next.{p}": nxt[p] for p in self.paths}, FIRE: fire}


# -- export -------------------------------------------------------------------------------------

def periodic_graph(stream):
    """``(step graph, branch module, branch example input, the step value the branch reads)`` of a
    stream with periodic work, or None for the others."""
    from kdspeech.models.streaming.pse import PseRefineStream
    from kdspeech.models.streaming.tiny_ecapa import TinyEcapaStream
    if isinstance(stream, PseRefineStream):
        return PseRefineGraph(stream).eval(), PseEncodeCosine(stream).eval(), \
            {"window": torch.zeros(1, int(stream.model.chunk))}, WINDOW
    if isinstance(stream, TinyEcapaStream):
        if stream.hops > 1:
            raise KdError(f"{stream.name} stream: the ONNX export of the chunk embeddings takes one hop a step "
                          f"(its out is one embedding), not hops_per_step {stream.hops}")
        frontend_dim = stream.model.frontend.dim
        return TinyEcapaGraph(stream).eval(), EcapaEmbed(stream).eval(), \
            {"frames": torch.zeros(1, frontend_dim, int(stream.frames))}, "next.window"
    return None


def export_periodic(stream, path, graph, branch, branch_inputs, reads):
    """Export ``graph`` (with the placeholder) and ``branch`` and splice them into ``path``; returns
    ``export_onnx``'s dict for the spliced graph (``encoded``, ``fire`` and ``fired_window`` removed).
    pse_refine with k > 1 hops a step whose enhancer has a warm-up: ``graph`` (its k one-hop enhancer
    steps) and its ``steady`` twin (the batched k-hop enhancer step) each get the branch, and
    ``stream_hops.splice_hops`` joins them as ``If(state.enh.<clock> >= its steady value)``."""
    from kdspeech.deploy.onnx_export import export_onnx
    from kdspeech.deploy.stream_hops import splice_hops
    parts = {name: path.with_name(f"{path.name}.{name}.onnx") for name in ("branch", "steady", "warmup")}
    warm = getattr(getattr(graph, "enhancer", None), "warmup", None)
    hops = getattr(graph, "hops", 1) > 1
    try:
        export_onnx(branch, branch_inputs, parts["branch"])
        target = parts["warmup"] if hops else path
        exported = export_onnx(graph, graph.example_inputs(), target)
        splice_if(target, parts["branch"], reads)
        if hops:
            steady = PseRefineGraph(graph.stream, steady=True).eval()
            export_onnx(steady, steady.example_inputs(), parts["steady"])
            splice_if(parts["steady"], parts["branch"], reads)
            clock = warm.clock
            splice_hops(parts["steady"], parts["warmup"], None if clock is None else f"enh.{clock}",
                        None if clock is None else warm.counters[clock], path)
    finally:
        for part in parts.values():
            part.unlink(missing_ok=True)
    exported["inputs"] = [n for n in exported["inputs"] if n != ENCODED]
    exported["outputs"] = [n for n in exported["outputs"] if n not in (FIRE, WINDOW)]
    return exported
