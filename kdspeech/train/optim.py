"""Optimisers and learning-rate schedules named in a config (``optim:`` and ``scheduler:``).

Schedules step once per epoch; ``plateau`` reads the validation loss (the paper's "reduce the rate
when the validation loss stops improving").
"""

import torch

from kdspeech.errors import KdError

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


def build_optimizer(params, conf, where=None):
    conf = dict(conf)
    name = conf.pop("name", "adam")
    if name not in OPTIMIZERS:
        raise KdError(f"unknown optimizer '{name}' (known: {', '.join(OPTIMIZERS)})", path=where)
    if "betas" in conf:
        conf["betas"] = tuple(conf["betas"])
    try:
        return OPTIMIZERS[name](params, **conf)
    except TypeError as err:
        raise KdError(f"optimizer '{name}': {err}", path=where) from None


class ConstantLR:
    """No change; keeps the same interface as torch's schedulers."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    def step(self, *args):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def build_scheduler(optimizer, conf, max_epochs, where=None):
    conf = dict(conf or {})
    name = conf.pop("name", "constant")
    sched = torch.optim.lr_scheduler
    builders = {
        "constant": lambda: ConstantLR(optimizer, **conf),
        "plateau": lambda: sched.ReduceLROnPlateau(optimizer, **{"factor": 0.5, "patience": 2, **conf}),
        "step": lambda: sched.StepLR(optimizer, **conf),
        "cosine": lambda: sched.CosineAnnealingLR(optimizer, **{"T_max": max_epochs, **conf}),
    }
    if name not in builders:
        raise KdError(f"unknown scheduler '{name}' (known: {', '.join(builders)})", path=where)
    try:
        return builders[name]()
    except TypeError as err:
        raise KdError(f"scheduler '{name}': {err}", path=where) from None


def scheduler_step(scheduler, valid_loss):
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(valid_loss)
    else:
        scheduler.step()
