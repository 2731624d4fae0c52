"""Frozen teachers, alone or as a set routed by a property of each example.

A teacher set is configured as::

    teachers:
      snr:                         # the name loss terms refer to
        members: [exp/teacher_1, exp/teacher_2]   # exp dirs (their best.pth) or .pth files
        route_by: snr              # batch key holding a number per example (omit: one member)
        bounds: [0]                # member i takes values in [bounds[i-1], bounds[i])
        input: input               # the batch key the teachers see (a different view: input_16k)
        cache: false               # reuse outputs per batch['key'] (deterministic views only)

Routing: member ``bisect_right(bounds, value)``, so a value equal to a bound goes to the member
above it (with bounds [-10, 0, 10]: -10 -> member 1, 0 -> member 2, 10 -> member 3).  Only the members
that some example in the batch needs are run, each once on its sub-batch.
"""

import bisect

import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.train.checkpoint import load_model


class TeacherSet(nn.Module):
    def __init__(self, members, route_by=None, bounds=None, input="input", cache=False, name="teacher"):
        super().__init__()
        self.name = name
        self.members = nn.ModuleList(members)
        for model in self.members:
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
        self.route_by = route_by
        self.bounds = [float(b) for b in (bounds or [])]
        self.input_key = input
        self.cache = {} if cache else None
        if route_by is None and len(members) != 1:
            raise KdError(f"teacher set '{name}' has {len(members)} members but no 'route_by'")
        if route_by is not None and len(self.bounds) != len(members) - 1:
            raise KdError(f"teacher set '{name}': {len(members)} members need {len(members) - 1} bounds, "
                          f"got {self.bounds}")
        if self.bounds != sorted(self.bounds):
            raise KdError(f"teacher set '{name}': bounds must increase, got {self.bounds}")

    def train(self, mode=True):
        # Teachers stay in eval mode (BatchNorm statistics, dropout) whatever the student does.
        return super().train(False)

    def route(self, values):
        """Index of the member for each example's routing value."""
        return [bisect.bisect_right(self.bounds, float(v)) for v in values]

    @torch.no_grad()
    def forward(self, batch):
        x = batch[self.input_key]
        if self.cache is not None:
            return self._cached(batch, x)
        return self._run(batch, x)

    def _run(self, batch, x):
        if self.route_by is None:
            return self.members[0](x)
        routes = torch.tensor(self.route(batch[self.route_by].tolist()), device=x.device)
        out = None
        for i in routes.unique().tolist():
            idx = (routes == i).nonzero(as_tuple=True)[0]
            y = self.members[i](x.index_select(0, idx))
            if out is None:
                out = y.new_zeros((x.shape[0],) + tuple(y.shape[1:]))
            out.index_copy_(0, idx, y)
        return out

    def _cached(self, batch, x):
        keys = batch["key"]
        missing = [i for i, k in enumerate(keys) if k not in self.cache]
        if missing:
            idx = torch.tensor(missing, device=x.device)
            sub = {k: (v.index_select(0, idx) if torch.is_tensor(v) else v) for k, v in batch.items()}
            y = self._run(sub, x.index_select(0, idx))
            for j, i in enumerate(missing):
                self.cache[keys[i]] = y[j].detach().cpu()
        return torch.stack([self.cache[k] for k in keys]).to(x.device)


def build_teacher_sets(conf, device, where=None):
    """``{name: spec}`` from the config -> ``{name: TeacherSet}`` with every member loaded and frozen."""
    sets = {}
    for name, spec in (conf or {}).items():
        spec = dict(spec)
        if "precomputed" in spec:  # outputs computed once (kdspeech.distill.precomputed)
            from kdspeech.distill.precomputed import PrecomputedTeacher
            if set(spec) - {"precomputed", "members"} or spec.get("members"):
                raise KdError(f"teacher set '{name}': 'precomputed' takes no other keys", path=where)
            sets[name] = PrecomputedTeacher(spec["precomputed"], name=name).to(device)
            continue
        paths = spec.pop("members", None)
        if not paths:
            raise KdError(f"teacher set '{name}' has no 'members'", path=where)
        allowed = {"route_by", "bounds", "input", "cache"}
        unknown = set(spec) - allowed
        if unknown:
            raise KdError(f"teacher set '{name}': unknown keys {sorted(unknown)} (known: {sorted(allowed)})",
                          path=where)
        members = [load_model(p, device=device) for p in paths]
        sets[name] = TeacherSet(members, name=name, **spec).to(device)
    return sets
