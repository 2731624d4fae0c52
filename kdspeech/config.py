"""YAML configuration with command-line overrides and a check for keys that do not exist.

``load_config("conf/train.yaml", ["optim.lr=1e-4", "trainer.max_epochs=3"], defaults=DEFAULTS)``
returns the defaults, updated by the file, updated by the overrides (values parsed as YAML, so
``1e-4`` is a float and ``[1,2]`` a list).  A key that is not in ``defaults`` is an error naming the
file, unless it lies under one of the ``free`` paths (sections whose keys belong to a plugin, such
as a model's constructor arguments, which the registry checks instead).
"""

import copy
import re

import yaml

from kdspeech.errors import KdError


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-4`` (no dot) as a string; researchers write learning rates that way."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)$|^[-+]?\d*\.\d+$|^[-+]?\d+\.$"),
    list("-+0123456789."),
)


def yaml_load(text_or_stream):
    return yaml.load(text_or_stream, Loader=_Loader)


def _parse_value(text):
    try:
        return yaml_load(text)
    except yaml.YAMLError:
        return text


def parse_overrides(overrides):
    """``["a.b=1", "c=x"]`` -> ``{"a": {"b": 1}, "c": "x"}``."""
    out = {}
    for item in overrides:
        if "=" not in item:
            raise KdError(f"config override '{item}' is not of the form key.path=value")
        key, value = item.split("=", 1)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _parse_value(value)
    return out


def _check_keys(conf, defaults, free, where, prefix=""):
    for key, value in conf.items():
        path = f"{prefix}{key}"
        if path in free:
            continue
        if key not in defaults:
            known = ", ".join(sorted(defaults))
            raise KdError(f"unknown config key '{path}' (known at this level: {known})", path=where)
        if isinstance(value, dict) and isinstance(defaults[key], dict):
            _check_keys(value, defaults[key], free, where, prefix=path + ".")


def merge(base, update):
    """Deep merge of ``update`` into a copy of ``base``."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_yaml(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml_load(f)
    except FileNotFoundError:
        raise KdError("config file not found", path=path) from None
    except yaml.YAMLError as err:
        raise KdError(f"not valid YAML: {err}", path=path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KdError("a config file must hold a mapping at the top level", path=path)
    return data


def load_config(path=None, overrides=(), defaults=None, free=()):
    conf = read_yaml(path) if path else {}
    if defaults is not None:
        _check_keys(conf, defaults, set(free), path)
    over = parse_overrides(overrides)
    if defaults is not None:
        _check_keys(over, defaults, set(free), "command-line override")
    base = copy.deepcopy(defaults) if defaults is not None else {}
    return merge(merge(base, conf), over)


def save_config(conf, path):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(conf, f, sort_keys=False, default_flow_style=None)
