"""ONNX export of a streaming step of k hops (``hops_per_step`` > 1): the steady step batched, the
warm-up hop by hop, one ``If`` choosing between them.  ``stream_onnx.export_stream_onnx`` hands a k-hop
stream here.

A k-hop torch step runs its k frames' convolutions and linear layers as one call each once the stream
is past its warm-up, and goes hop by hop before (the warm-up's branches take one frame).  The export
keeps that split:

- ``else`` branch: ``stream_onnx.StepGraph`` of the k-hop stream, k one-hop steps in a row, each with
  the warm-up gates of the one-hop export (``where`` on the step counter);
- ``then`` branch: ``SteadyGraph``, the adapter's k-hop step traced with every counter at its steady
  value (the batched path), its counters' next values those steady values;
- the step graph: ``If(state.<clock> >= its steady value, then, else)``, ``clock`` the counter that
  settles last (``stream_onnx.WarmUp``).  The branches read the step's inputs from the outer scope;
  their initializers and large constants are moved to the step graph, the identical ones (the same
  weight in both branches, the DFT matrices of every hop) once.

Inputs, outputs, state order and metadata are those of ``stream_onnx`` with ``chunk`` and ``out`` of
``[1, k hop]`` and the metadata's ``hops`` k, so that ``OrtStream`` runs it and ``check_stream_onnx``
checks it against the torch stream.
"""

import hashlib

import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from kdspeech.errors import KdError


class SteadyGraph(nn.Module):
    """The steady k-hop step of ``stream`` (the ``then`` branch): inputs and outputs as ``StepGraph``'s,
    counters fed to the adapter at their steady values ``counters`` and returned as those."""

    def __init__(self, stream, template, paths, counters):
        super().__init__()
        self.stream, self.template, self.paths, self.counters = stream, template, paths, counters
        self.model = getattr(stream, "model", None)

    def forward(self, chunk, **state_in):
        from kdspeech.deploy.stream_onnx import ComplexAsPairs, flatten_state, unflatten_state
        state = {p: state_in[f"state.{p}"] for p in self.paths}
        for p, value in self.counters.items():
            state[p] = torch.tensor(value, dtype=state[p].dtype)
        with ComplexAsPairs():
            out, new = self.stream.step(chunk, unflatten_state(self.template, [state[p] for p in self.paths]))
        new = dict(flatten_state(new))
        return {"out": out, **{f"next.{p}": state[p] if p in self.counters else new[p] for p in self.paths}}


def _branch(model, prefix, outer, shared):
    """``model``'s graph as an ``If`` branch: no inputs (the names in ``outer`` read from the outer
    scope), internal names prefixed, initializers moved to ``shared`` (``{content hash: tensor}``,
    renamed to the first one of the same content; those of a node's subgraph too, its names mapped the
    same way), every output produced by a node of its own."""
    graph = model.graph
    rename = {}

    def share(name, tensor):
        array = numpy_helper.to_array(tensor)
        key = hashlib.sha1(f"{array.dtype}{array.shape}".encode() + array.tobytes()).hexdigest()
        if key not in shared:
            shared[key] = numpy_helper.from_array(array, f"{prefix}{name}")
        rename[name] = shared[key].name
    for init in graph.initializer:
        share(init.name, init)
    kept = []
    for node in graph.node:   # large constants (DFT matrices, folded weights): shared as initializers too
        value = [a.t for a in node.attribute if a.name == "value" and a.type == onnx.AttributeProto.TENSOR]
        if node.op_type == "Constant" and value and numpy_helper.to_array(value[0]).size >= 256:
            share(node.output[0], value[0])
        else:
            kept.append(node)

    def name(value):
        if not value or value in outer:
            return value
        return rename.get(value, prefix + value)
    def nested(sub):   # a subgraph of a node (pse_refine's periodic If): its initializers shared, names mapped
        for init in sub.initializer:
            share(init.name, init)
        del sub.initializer[:]
        for node in sub.node:
            node.input[:] = [name(n) for n in node.input]
            node.output[:] = [name(n) for n in node.output]
            node.name = prefix + node.name
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPHS:
                    raise KdError("exporting a k-hop step: a branch holds a list of subgraphs")
                if attr.type == onnx.AttributeProto.GRAPH:
                    nested(attr.g)
        for value in list(sub.input) + list(sub.output):
            value.name = name(value.name)
        sub.name = prefix + sub.name

    nodes = []
    for node in kept:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPHS:
                raise KdError("exporting a k-hop step: a branch holds a list of subgraphs")
            if attr.type == onnx.AttributeProto.GRAPH:
                nested(attr.g)
        node.input[:] = [name(n) for n in node.input]
        node.output[:] = [name(n) for n in node.output]
        node.name = prefix + node.name
        nodes.append(node)
    produced = {o for n in nodes for o in n.output}
    outputs = []
    for out in graph.output:
        inner = name(out.name)
        if inner not in produced:   # an input passed through, or an initializer
            nodes.append(helper.make_node("Identity", [inner], [f"{prefix}{out.name}/identity"]))
            inner = f"{prefix}{out.name}/identity"
        value = onnx.ValueInfoProto()
        value.CopyFrom(out)
        value.name = inner
        outputs.append(value)
    return helper.make_graph(nodes, f"{prefix}branch", [], outputs)


def splice_hops(steady_path, warm_path, clock, cap, out_path):
    """Write ``out_path``: ``If(state.<clock> >= cap, steady, warm)`` over the two exports' common
    inputs and outputs (``clock`` None: the steady export alone)."""
    steady, warm = onnx.load(str(steady_path)), onnx.load(str(warm_path))
    if [o.name for o in steady.graph.output] != [o.name for o in warm.graph.output]:
        raise KdError("exporting a k-hop step: the steady and the warm-up step differ in their outputs")
    if clock is None:
        onnx.save(steady, str(out_path))
        return
    # the exporter leaves out inputs a graph does not read (the steady step's counters): the union, in order
    outputs = list(warm.graph.output)
    given = {i.name: i for i in list(steady.graph.input) + list(warm.graph.input)}
    order = ["chunk"] + [f"state.{o.name[len('next.'):]}" for o in outputs if o.name.startswith("next.")]
    inputs = [given[n] for n in order if n in given] + [i for n, i in given.items() if n not in order]
    outer = {i.name for i in inputs}
    shared = {}
    then_graph = _branch(steady, "steady/", outer, shared)
    else_graph = _branch(warm, "warmup/", outer, shared)
    cap_init = helper.make_tensor("hops/cap", onnx.TensorProto.INT64, [], [int(cap)])
    nodes = [helper.make_node("GreaterOrEqual", [f"state.{clock}", "hops/cap"], ["hops/steady"]),
             helper.make_node("If", ["hops/steady"], [o.name for o in outputs], name="hops",
                              then_branch=then_graph, else_branch=else_graph)]
    graph = helper.make_graph(nodes, warm.graph.name, inputs, outputs, list(shared.values()) + [cap_init])
    model = helper.make_model(graph, opset_imports=list(warm.opset_import), ir_version=warm.ir_version)
    onnx.checker.check_model(model)
    onnx.save(model, str(out_path))


def export_hops(stream, path):
    """Export ``stream``'s k-hop step to ``path`` (module text); returns ``(export_onnx``'s dict, the
    ``StepGraph``)."""
    from kdspeech.deploy.onnx_export import export_onnx
    from kdspeech.deploy.stream_onnx import StepGraph
    graph = StepGraph(stream).eval()
    warm = graph.warmup
    steady = SteadyGraph(stream, graph.template, graph.paths, warm.counters).eval()
    parts = {name: path.with_name(f"{path.name}.{name}.onnx") for name in ("steady", "warmup")}
    try:
        exported = export_onnx(steady, graph.example_inputs(), parts["steady"])
        export_onnx(graph, graph.example_inputs(), parts["warmup"])
        cap = warm.counters[warm.clock] if warm.clock is not None else None
        splice_hops(parts["steady"], parts["warmup"], warm.clock, cap, path)
    finally:
        for part in parts.values():
            part.unlink(missing_ok=True)
    return exported, graph
