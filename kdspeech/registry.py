"""A name -> builder table; models and distillation losses each have one."""

import inspect

from kdspeech.errors import KdError


class Registry:
    def __init__(self, kind):
        self.kind = kind
        self._table = {}

    def register(self, name):
        def deco(obj):
            if name in self._table:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._table[name] = obj
            return obj

        return deco

    def names(self):
        return sorted(self._table)

    def get(self, name):
        if name not in self._table:
            raise KdError(f"unknown {self.kind} '{name}' (known: {', '.join(self.names())})")
        return self._table[name]

    def defaults(self, name):
        """The keyword options of ``name``'s builder that have a default, with it."""
        params = inspect.signature(self.get(name)).parameters.values()
        return {p.name: p.default for p in params
                if p.default is not inspect.Parameter.empty and p.kind != p.VAR_KEYWORD}

    def build(self, name, conf=None, where=None):
        """Call the builder with ``conf`` as keyword arguments; an unknown key is a ``KdError``."""
        builder = self.get(name)
        conf = dict(conf or {})
        params = inspect.signature(builder).parameters
        takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
        unknown = [k for k in conf if k not in params]
        if unknown and not takes_any:
            known = ", ".join(k for k in params if k != "self")
            raise KdError(
                f"{self.kind} '{name}' has no option {', '.join(map(repr, unknown))} (options: {known})",
                path=where,
            )
        return builder(**conf)
