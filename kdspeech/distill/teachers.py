"""Frozen teachers, alone or as a set routed by a property of each example.

A teacher set is configured as::

    teachers:
      snr:                         # the name loss terms refer to
        members: [exp/teacher_1, exp/teacher_2]   # kdspeech exp dirs / .pth files, or loader dicts
        route_by: snr              # batch key holding a number per example (omit: one member)
        bounds: [0]                # member i takes values in [bounds[i-1], bounds[i])
        input: input               # the batch key the members' main input comes from (input_16k: a
                                   # different view); with apply_to: student, a student output key
        apply_to: batch            # batch | student (see below)
        cache: false               # keep outputs in memory per batch['key'] (deterministic views only)
        precomputed: [a.npz]       # outputs computed once (kdspeech.distill.precomputed); with
                                   # members too, checked against the live teacher before use

Members are loaded through the loader registry (``kdspeech.models.loaders``): a path is a kdspeech
model, ``{loader: panns, path: ..., model: cnn14}`` an official checkpoint, ``{loader: onnx, path: ...}``
an ONNX graph.  A set's output is a dict (``kdspeech.models.calling``); ``hidden.<module>`` outputs
that loss terms ask for are captured with hooks.

Routing: member ``bisect_right(bounds, value)``, so a value equal to a bound goes to the member
above it (with bounds [-10, 0, 10]: -10 -> member 1, 0 -> member 2, 10 -> member 3).  Only the members
that some example in the batch needs are run, each once on its sub-batch.

``apply_to: student`` makes the set a frozen network applied to the student's own output (an ASR
encoder on the enhanced speech, for sequence-level KD): it runs after the student, with gradients
flowing through it to the student (its own weights stay frozen), and its outputs join the student's
as ``<set>.<key>``, so a loss term compares them (``student_key: asr.out``) with a teacher set that
applies the same network to the clean speech (``input: target``).
"""

import bisect

import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models.calling import call_model, needed_keys
from kdspeech.models.loaders import load_member

SET_KEYS = {"members", "route_by", "bounds", "input", "apply_to", "cache", "precomputed"}


class TeacherSet(nn.Module):
    def __init__(self, members, route_by=None, bounds=None, input="input", cache=False, name="teacher",
                 apply_to="batch"):
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
        if apply_to not in ("batch", "student"):
            raise KdError(f"teacher set '{name}': apply_to must be batch or student, not '{apply_to}'")
        self.apply_to = apply_to
        self.cache = {} if cache else None
        self.tap_keys = set()
        if apply_to == "student" and (cache or route_by):
            raise KdError(f"teacher set '{name}': apply_to: student takes no cache or route_by")
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

    def batch_keys(self):
        """The batch keys the set reads (``kdspeech.train.contract``; a set applied to the student
        reads the student's outputs, not the batch): its input view, the routing key, ``key`` for the
        cache, and whatever else its members' forward takes."""
        if self.apply_to == "student":
            return set()
        keys = {self.input_key}
        for member in self.members:
            keys |= needed_keys(member) - {"input"}
        if self.route_by is not None:
            keys.add(self.route_by)
        if self.cache is not None:
            keys.add("key")
        return keys

    def route(self, values):
        """Index of the member for each example's routing value."""
        return [bisect.bisect_right(self.bounds, float(v)) for v in values]

    def _view(self, batch):
        if self.input_key not in batch:
            raise KdError(f"teacher set '{self.name}': input '{self.input_key}' is not in the "
                          f"{'student outputs' if self.apply_to == 'student' else 'batch'} "
                          f"({', '.join(sorted(batch))})")
        return {**batch, "input": batch[self.input_key]}

    def forward(self, batch):
        """The set's outputs for a batch (a dict of tensors aligned with the batch)."""
        view = self._view(batch)
        if self.apply_to == "student":  # gradients flow to the student through the frozen network
            return self._run(view)
        with torch.no_grad():
            if self.cache is not None:
                return self._cached(view)
            return self._run(view)

    def _run(self, batch):
        if self.route_by is None:
            return call_model(self.members[0], batch, self.tap_keys)
        x = batch["input"]
        routes = torch.tensor(self.route(batch[self.route_by].tolist()), device=x.device)
        merged = {}
        for i in routes.unique().tolist():
            idx = (routes == i).nonzero(as_tuple=True)[0]
            outs = call_model(self.members[i], _select(batch, idx), self.tap_keys)
            for key, y in outs.items():
                if key not in merged:
                    merged[key] = y.new_zeros((x.shape[0],) + tuple(y.shape[1:]))
                merged[key].index_copy_(0, idx, y)
        return merged

    def _cached(self, batch):
        keys = batch["key"]
        missing = [i for i, k in enumerate(keys) if k not in self.cache]
        if missing:
            idx = torch.tensor(missing, device=batch["input"].device)
            outs = self._run(_select(batch, idx))
            for j, i in enumerate(missing):
                self.cache[keys[i]] = {k: v[j].detach().cpu() for k, v in outs.items()}
        device = batch["input"].device
        first = self.cache[keys[0]]
        return {k: torch.stack([self.cache[u][k] for u in keys]).to(device) for k in first}


def _select(batch, idx):
    """The sub-batch of rows ``idx`` (tensors indexed, lists of keys picked)."""
    rows = idx.tolist()
    out = {}
    for k, v in batch.items():
        if torch.is_tensor(v) and v.dim() > 0:
            out[k] = v.index_select(0, idx)
        elif isinstance(v, (list, tuple)):
            out[k] = [v[i] for i in rows]
        else:
            out[k] = v
    return out


def build_teacher_sets(conf, device, where=None):
    """``{name: spec}`` from the config -> ``{name: TeacherSet or PrecomputedTeacher}``, all frozen."""
    sets = {}
    for name, spec in (conf or {}).items():
        spec = dict(spec)
        unknown = set(spec) - SET_KEYS
        if unknown:
            raise KdError(f"teacher set '{name}': unknown keys {sorted(unknown)} (known: {sorted(SET_KEYS)})",
                          path=where)
        paths = spec.pop("members", None)
        files = spec.pop("precomputed", None)
        members = [load_member(p, device=device, where=where) for p in paths or []]
        if files:  # outputs computed once (kdspeech.distill.precomputed)
            from kdspeech.distill.precomputed import PrecomputedTeacher
            live = TeacherSet(members, name=name, **spec).to(device) if members else None
            if not live and set(spec) - {"input"}:
                raise KdError(f"teacher set '{name}': with 'precomputed' and no 'members', "
                              f"{sorted(set(spec) - {'input'})} mean nothing", path=where)
            sets[name] = PrecomputedTeacher(files, name=name, live=live, view=spec.get("input", "input"))
            continue
        if not members:
            raise KdError(f"teacher set '{name}' has no 'members'", path=where)
        sets[name] = TeacherSet(members, name=name, **spec).to(device)
    return sets
