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
        "cosine": lambda: _cosine(optimizer, max_epochs, conf),
    }
    if name not in builders:
        raise KdError(f"unknown scheduler '{name}' (known: {', '.join(builders)})", path=where)
    try:
        return builders[name]()
    except TypeError as err:
        raise KdError(f"scheduler '{name}': {err}", path=where) from None


def _cosine(optimizer, max_epochs, conf):
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, **{"T_max": max_epochs, **conf})
    scheduler.follows_max_epochs = "T_max" not in conf  # stretched when max_epochs grows on resume
    return scheduler


def fit_schedule_to(scheduler, max_epochs, epoch):
    """After resuming with another ``max_epochs``: a cosine schedule whose length was max_epochs is
    rebuilt for the new length, continuing from ``epoch`` (the rate is set to the closed form at
    ``epoch``, from which torch's recursive steps follow the new curve exactly)."""
    if not getattr(scheduler, "follows_max_epochs", False) or scheduler.T_max == max_epochs:
        return
    import math
    scheduler.T_max = int(max_epochs)
    for group, base in zip(scheduler.optimizer.param_groups, scheduler.base_lrs):
        group["lr"] = scheduler.eta_min + (base - scheduler.eta_min) * (
            1 + math.cos(math.pi * epoch / scheduler.T_max)) / 2
    scheduler._last_lr = [g["lr"] for g in scheduler.optimizer.param_groups]


def scheduler_step(scheduler, valid_loss):
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(valid_loss)
    else:
        scheduler.step()
