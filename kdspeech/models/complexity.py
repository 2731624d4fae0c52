"""Model cost: example inputs, multiply-accumulates (MACs) and CPU time; THE MAC counter of kdspeech.

``count_macs(model, inputs)`` runs one forward pass and adds up the MACs of the operations it sees,
from the shapes they actually get, so input-dependent paths (decimation, STFT framing) are counted as
run.  Counted (one MAC = one multiplication and one addition; biases are not counted):

- convolutions ``conv1d/2d/3d`` (output elements x input channels per group x kernel taps) and
  transposed convolutions (input elements x output channels per group x kernel taps), whether called
  by ``nn.Conv*`` modules or functionally;
- ``linear`` and the matrix products ``matmul``/``@``, ``mm``, ``bmm``, ``mv``, ``addmm``,
  ``baddbmm``, ``addmv`` and two-operand ``einsum`` (output elements x contracted size), e.g. a mel
  filterbank or attention written by hand;
- ``scaled_dot_product_attention``: ``Q K^T`` and the weighted sum of ``V``;
- ``nn.MultiheadAttention`` as a whole: the q/k/v and output projections and both attention products;
- recurrent layers (``nn.LSTM/GRU/RNN`` and their cells): per step, every weight matrix once
  (input-hidden, hidden-hidden and an LSTM's projection);
- a complex-valued operand makes each complex MAC four real MACs; a complex convolution built from
  two real ``Conv2d`` (real and imaginary parts, DCCRN style) is counted as the real convolutions it runs.

Not counted: the STFT/iSTFT and other FFTs, normalisation, activations, pooling, interpolation,
element-wise arithmetic (masks, gates, residual sums), softmax, bias additions, and contractions other
than the ones above (``tensordot``, ``addbmm``, einsum with three or more operands).  They are a small
fraction in the models here; say so when quoting the number (``NOT_COUNTED``).

The model calling convention: a model's forward takes its inputs by keyword, the first parameter
receives the task's main input (a waveform ``[B, T]``), and ``example_inputs(model, num_samples)`` gives
the batch-1 inputs every measurement here uses.
"""

import math
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from kdspeech.errors import KdError

NOT_COUNTED = ("STFT/FFT, normalisation, activations, pooling, interpolation, element-wise ops, "
               "softmax and biases are not counted")
EXAMPLE_SEED = 0


def first_input_name(model):
    """The name of the model's first input (it receives the task's main input; kdspeech.models.calling)."""
    from kdspeech.models.calling import input_names
    names = input_names(model)
    if not names:
        raise KdError(f"{type(model).__name__}.forward takes no named first input; define "
                      "example_inputs(self, num_samples) on the model")
    return names[0]


def example_inputs(model, num_samples):
    """Keyword inputs for batch size 1: ``model.example_inputs(num_samples)`` if the model defines it,
    else ``{first forward parameter: randn(1, num_samples)}`` (seeded, so runs are repeatable)."""
    own = getattr(model, "example_inputs", None)
    if callable(own):
        inputs = own(int(num_samples))
        if not isinstance(inputs, dict):
            raise KdError(f"{type(model).__name__}.example_inputs must return a dict of keyword inputs, "
                          f"not {type(inputs).__name__}")
        return inputs
    generator = torch.Generator().manual_seed(EXAMPLE_SEED)
    return {first_input_name(model): torch.randn(1, int(num_samples), generator=generator)}


def run_forward(model, inputs):
    """``model(**inputs)`` for a dict of keyword inputs, ``model(inputs)`` for a single tensor."""
    return model(**inputs) if isinstance(inputs, dict) else model(inputs)


# -- MAC rules: (args, kwargs, output) of one call -> MACs ----------------------------------------

def _arg(args, kwargs, index, name):
    return args[index] if len(args) > index else kwargs[name]


def _conv(args, kwargs, out):
    weight = _arg(args, kwargs, 1, "weight")  # [C_out, C_in / groups, *kernel]
    return out.numel() * math.prod(weight.shape[1:])


def _conv_transpose(args, kwargs, out):
    x, weight = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")  # [C_in, C_out / groups, *k]
    return x.numel() * math.prod(weight.shape[1:])


def _linear(args, kwargs, out):
    return out.numel() * _arg(args, kwargs, 1, "weight").shape[-1]


def _product(first, name):
    """Matrix products whose contracted size is the last dimension of argument ``first``."""
    def rule(args, kwargs, out):
        return out.numel() * _arg(args, kwargs, first, name).shape[-1]
    return rule


def _rmatmul(args, kwargs, out):  # Tensor.__rmatmul__(self, other) computes other @ self
    return out.numel() * args[1].shape[-1]


def _einsum(args, kwargs, out):
    """Two operands: the product of the sizes of all indices (those kept and those summed over)."""
    equation = args[0].replace(" ", "")
    operands = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
    if len(operands) != 2 or "->" not in equation:
        return None  # not counted (see NOT_COUNTED)
    sizes, batch = {}, []
    for spec, op in zip(equation.split("->")[0].split(","), operands):
        letters = spec.replace("...", "")
        shape = list(op.shape)
        if "..." in spec:  # the dims the ellipsis stands for broadcast like batch dims
            start, width = spec.index("..."), op.dim() - len(letters)
            batch.append(tuple(shape[start:start + width]))
            del shape[start:start + width]
        for letter, size in zip(letters, shape):
            sizes[letter] = max(size, sizes.get(letter, 1))
    return math.prod(sizes.values()) * math.prod(torch.broadcast_shapes(*batch))


def _sdpa(args, kwargs, out):
    q, k = _arg(args, kwargs, 0, "query"), _arg(args, kwargs, 1, "key")
    length_k, dim_qk, dim_v = k.shape[-2], q.shape[-1], out.shape[-1]
    return math.prod(out.shape[:-1]) * length_k * (dim_qk + dim_v)


def _rnn(args, kwargs, out):
    # lstm/gru/rnn_*(input, [batch_sizes,] hx, params, ...): params is the last list among the first four.
    x = args[0]
    params = [a for a in args[:4] if isinstance(a, (list, tuple))][-1]
    steps = x.numel() // x.shape[-1]  # [T, B, F], [B, T, F], [T, F] or packed [sum of lengths, F]
    return steps * sum(w.numel() for w in params if w.dim() == 2)


def _rnn_cell(args, kwargs, out):
    x, w_ih, w_hh = args[0], args[2], args[3]  # *_cell(input, hx, w_ih, w_hh, b_ih, b_hh)
    steps = x.shape[0] if x.dim() == 2 else 1
    return steps * (w_ih.numel() + w_hh.numel())


def _mha(module, args, kwargs):
    """nn.MultiheadAttention(query, key, value, ...): projections and both attention products."""
    q, k = _arg(args, kwargs, 0, "query"), _arg(args, kwargs, 1, "key")
    if q.dim() == 2:
        batch, length_q, length_k = 1, q.shape[0], k.shape[0]
    elif module.batch_first:
        batch, length_q, length_k = q.shape[0], q.shape[1], k.shape[1]
    else:
        batch, length_q, length_k = q.shape[1], q.shape[0], k.shape[0]
    e = module.embed_dim
    projections = length_q * e * e + length_k * (module.kdim + module.vdim) * e + length_q * e * e
    attended = length_k + int(module.bias_k is not None) + int(module.add_zero_attn)
    return batch * (projections + 2 * length_q * attended * e)


FUNCTION_RULES = {
    **{f: _conv for f in (F.conv1d, F.conv2d, F.conv3d)},
    **{f: _conv_transpose for f in (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)},
    F.linear: _linear,
    **{f: _product(0, "input") for f in (torch.matmul, torch.mm, torch.bmm, torch.mv, torch.Tensor.matmul,
                                        torch.Tensor.__matmul__, torch.Tensor.mm, torch.Tensor.bmm,
                                        torch.Tensor.mv)},
    **{f: _product(1, "mat1") for f in (torch.addmm, torch.Tensor.addmm)},
    **{f: _product(1, "batch1") for f in (torch.baddbmm, torch.Tensor.baddbmm)},
    **{f: _product(1, "mat") for f in (torch.addmv, torch.Tensor.addmv)},
    torch.Tensor.__rmatmul__: _rmatmul,
    torch.einsum: _einsum,
    F.scaled_dot_product_attention: _sdpa,
    **{f: _rnn for f in (torch.lstm, torch.gru, torch.rnn_tanh, torch.rnn_relu)},
    **{f: _rnn_cell for f in (torch.lstm_cell, torch.gru_cell, torch.rnn_tanh_cell, torch.rnn_relu_cell)},
}
MODULE_RULES = {nn.MultiheadAttention: _mha}  # counted whole; the calls inside them are not counted again


def _is_complex(args, kwargs):
    values = list(args) + list(kwargs.values())
    return any(isinstance(v, torch.Tensor) and v.is_complex() for v in values)


class _MacCounter(TorchFunctionMode):
    """Sees every torch function called while active; adds the counted ones to the innermost module."""

    def __init__(self, counts):
        super().__init__()
        self.counts, self.stack, self.opaque = counts, [], 0

    def add(self, macs, complex_operands=False):
        if macs:
            name = self.stack[-1] if self.stack else ""
            self.counts[name] = self.counts.get(name, 0) + int(macs) * (4 if complex_operands else 1)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)  # functions called inside ``func`` are not seen (the mode is off there)
        rule = FUNCTION_RULES.get(func)
        if rule is not None and not self.opaque:
            first = out[0] if isinstance(out, (tuple, list)) else out
            self.add(rule(args, kwargs, first), _is_complex(args, kwargs))
        return out

    def hooks(self, model):
        def enter(name, module, args, kwargs):
            self.stack.append(name)
            rule = MODULE_RULES.get(type(module))
            if rule is not None and not self.opaque:
                self.add(rule(module, args, kwargs), _is_complex(args, kwargs))
            self.opaque += rule is not None

        def leave(name, module):
            self.stack.pop()
            self.opaque -= MODULE_RULES.get(type(module)) is not None

        handles = []
        for name, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(
                lambda m, a, k, name=name: enter(name, m, a, k), with_kwargs=True))
            handles.append(module.register_forward_hook(lambda m, a, o, name=name: leave(name, m),
                                                        always_call=True))
        return handles


def count_macs(model, inputs, by_layer=False):
    """MACs of one forward pass on ``inputs`` (a dict of keyword inputs, or one tensor), in eval mode;
    ``by_layer``: ``(total, {module name: MACs})``, each call attributed to the innermost module."""
    counts = {}
    counter = _MacCounter(counts)
    handles = counter.hooks(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            run_forward(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    total = sum(counts.values())
    return (total, counts) if by_layer else total


def macs_per_second(model, sr=16000):
    """MACs to process one second of audio (batch 1, ``sr`` samples of the main input)."""
    return count_macs(model, example_inputs(model, int(sr)))


def median_seconds(fn, repeats=5, warmup=1):
    """Median wall-clock seconds of ``fn()`` over ``repeats`` timed calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def cpu_latency(model, seconds=1.0, sr=16000, repeats=5, warmup=1, inputs=None):
    """Median seconds of one forward pass on ``seconds`` of audio (batch 1, inference mode, this CPU
    with torch's current thread count); ``inputs`` defaults to ``example_inputs``."""
    inputs = example_inputs(model, int(round(seconds * sr))) if inputs is None else inputs
    model.eval()
    with torch.inference_mode():
        return median_seconds(lambda: run_forward(model, inputs), repeats, warmup)
