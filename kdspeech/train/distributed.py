"""DDP set-up from the environment torchrun provides (RANK, WORLD_SIZE, LOCAL_RANK).

One process: nothing to set up.  Several: NCCL on GPUs, gloo on the CPU (how the tests run it).
"""

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from kdspeech.errors import KdError


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def enabled(self):
        return self.world_size > 1


def pick_device(pref, local_rank=0):
    """``auto``: a GPU when one is visible, else the CPU; ``cpu``/``cuda``: as asked."""
    if pref not in ("auto", "cpu", "cuda"):
        raise KdError(f"device must be auto, cpu or cuda, not '{pref}'")
    if pref == "auto":
        pref = "cuda" if torch.cuda.is_available() else "cpu"
    if pref == "cuda":
        if not torch.cuda.is_available():
            raise KdError("device cuda was asked for, but no GPU is visible")
        return torch.device("cuda", local_rank)
    return torch.device(pref)


def init_distributed(device_pref="auto"):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_pref, local_rank)
    if world <= 1:
        return DistInfo(device=device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(dist.get_rank(), world, local_rank, device)


def all_reduce_sum(values, info):
    """Sum a list of floats over processes (identity with one process)."""
    if not info.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return t.tolist()


def cleanup(info):
    """Leave the process group together: a rank that tears down gloo while another still talks to it
    can abort ("terminate called without an active exception").

    Call it after dropping every DistributedDataParallel wrapper.  A wrapper's reducer holds the
    group; freed after ``destroy_process_group`` it is the group's last holder, and the gloo group's
    destructor then runs under the GIL and joins a worker thread that needs the GIL to free the last
    collective's tensors: a deadlock at the end of about one run in 20 on a busy machine (seen with
    py-spy: ``~ProcessGroupGloo`` in ``thread::join`` from ``~Reducer``).  Freed first, the reducer only
    drops a reference; the group then goes through ``destroy_process_group``, whose binding releases
    the GIL."""
    if info.enabled and dist.is_initialized():
        gc.collect()   # DDP modules sit in reference cycles: free them now, while the group lives
        dist.barrier()
        dist.destroy_process_group()
