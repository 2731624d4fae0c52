"""Deterministic training: the same command on the same machine, with the same thread counts, gives the
same weights and so the same scores, byte for byte.

``set_deterministic(True)`` (``trainer.deterministic``, on by default) asks torch for deterministic
algorithms where it has them (``torch.use_deterministic_algorithms(..., warn_only=True)``): an op with
no deterministic implementation runs anyway and torch's warning, naming the op, lands in the training
log once.  On the CPU the ops the recipes use are deterministic already (the benchmark
``benchmarks/bench_deterministic.py`` measures the cost); on CUDA the known ones without a
deterministic kernel are the backward passes of ``ctc_loss``, ``index_add_`` / ``scatter_add_`` on
floating point, adaptive pooling and ``interpolate`` (bilinear/bicubic), and ``torch.bincount`` with
weights.  cuDNN's autotuner is switched off and cuBLAS gets a fixed workspace
(``CUBLAS_WORKSPACE_CONFIG``, set before CUDA starts).

``worker_seed`` seeds each DataLoader worker's ``random`` and NumPy global generators from torch's
per-worker seed, which the loader draws from torch's global generator, itself seeded per epoch from
(seed, epoch) by the trainer: the data draws of the tasks use their own ``(seed, epoch, index)``
generators, so the numbers do not depend on the worker count, and anything else drawn in a worker is
still reproducible.
"""

import os
import random

import numpy as np
import torch


def set_deterministic(enabled=True):
    """Switch torch's deterministic mode on or off (call before CUDA is first used)."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(bool(enabled), warn_only=True)
    torch.backends.cudnn.deterministic = bool(enabled)
    torch.backends.cudnn.benchmark = False


def worker_seed(worker_id):  # noqa: ARG001 (DataLoader's worker_init_fn signature)
    """``worker_init_fn``: seed the worker's ``random`` and NumPy global generators from torch's."""
    seed = torch.initial_seed() % 2 ** 32
    random.seed(seed)
    np.random.seed(seed)
