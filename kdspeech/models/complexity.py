"""Model complexity: parameters and multiply-accumulates (MACs), counted with forward hooks.

``count_macs(model, example)`` runs one forward pass and adds up the MACs of every Conv1d/2d,
ConvTranspose1d/2d, Linear and LSTM/GRU module from the shapes it actually sees, so input-dependent
paths (decimation, STFT framing) are counted as run.  Only these layers are counted: normalisation,
activations, interpolation, the STFT and bias additions are a small fraction and are left out (say
so when quoting the number).  ``macs_per_second(model, sr)`` is the count for one second of audio
at batch size 1, the usual way to compare enhancement models.
"""

import math
import time

import torch
from torch import nn


def _conv_macs(module, inputs, output):
    kernel = math.prod(module.kernel_size)
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        # Every input element is scattered into kernel x out_channels/groups outputs.
        return inputs[0].numel() * kernel * module.out_channels // module.groups
    return output.numel() * kernel * module.in_channels // module.groups


def _linear_macs(module, inputs, output):
    return output.numel() * module.in_features


def _rnn_macs(module, inputs, output):
    x = inputs[0]
    steps = x.shape[0] * x.shape[1] if x.dim() == 3 else x.shape[0]  # batch x time (either layout)
    gates = {nn.LSTM: 4, nn.GRU: 3}.get(type(module), 1)
    directions = 2 if module.bidirectional else 1
    hidden, total = module.hidden_size, 0
    size_in = module.input_size
    for _ in range(module.num_layers):
        total += directions * gates * hidden * (size_in + hidden)
        size_in = hidden * directions
    return steps * total


COUNTERS = {
    nn.Conv1d: _conv_macs, nn.Conv2d: _conv_macs,
    nn.ConvTranspose1d: _conv_macs, nn.ConvTranspose2d: _conv_macs,
    nn.Linear: _linear_macs, nn.LSTM: _rnn_macs, nn.GRU: _rnn_macs, nn.RNN: _rnn_macs,
}


def count_macs(model, example, by_layer=False):
    """MACs of ``model(example)`` (total, or ``(total, {module name: macs})`` when ``by_layer``)."""
    counts = {}
    hooks = []
    for name, module in model.named_modules():
        counter = COUNTERS.get(type(module))
        if counter is not None:
            def hook(mod, inputs, output, name=name, counter=counter):
                out = output[0] if isinstance(output, tuple) else output
                counts[name] = counts.get(name, 0) + int(counter(mod, inputs, out))
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    total = sum(counts.values())
    return (total, counts) if by_layer else total


def macs_per_second(model, sr=16000):
    """MACs to process one second of audio (batch 1, ``sr`` samples)."""
    return count_macs(model, torch.zeros(1, int(sr)))


def cpu_latency(model, seconds=1.0, sr=16000, repeats=5, warmup=1):
    """Median wall-clock seconds of one forward pass on ``seconds`` of audio (batch 1, no grad)."""
    x = torch.randn(1, int(round(seconds * sr))) * 0.1
    model.eval()
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            t0 = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]
