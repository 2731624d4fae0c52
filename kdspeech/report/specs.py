"""Repeated option arguments of the results makers: ``NAME:SET=DIR[,DIR]`` (``--system`` of
``make_results_pse``) and ``KEY=VALUE`` (``--encoders``, ``--deploy_row``, ``--alpha``; ``--noise_snr``
and ``--curves`` of ``make_results_enh``).
"""

import re

from kdspeech.errors import KdError


def parse_systems(specs):
    """``{name: {set: [dirs]}}`` in command-line order from ``NAME:SET=DIR[,DIR]``."""
    systems = {}
    for spec in specs:
        key, sep, dirs = spec.partition("=")
        name, colon, test_set = key.partition(":")
        dirs = [d for d in dirs.split(",") if d]
        if not (sep and colon and name and test_set and dirs):
            raise KdError(f"--system {spec!r}: expected NAME:SET=SCORE_DIR[,SCORE_DIR]")
        if test_set in systems.setdefault(name, {}):
            raise KdError(f"--system {name}:{test_set} given twice")
        systems[name][test_set] = dirs
    if not systems:
        raise KdError("give at least one --system NAME:SET=SCORE_DIR")
    return systems


def parse_pairs(specs, option):
    """``{key: value}`` from ``KEY=VALUE`` words of a repeated option (every results maker's)."""
    out = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key or not value:
            raise KdError(f"{option} {spec!r}: expected KEY=VALUE")
        out[key] = value
    return out


_SEED_NAME = re.compile(r"^(?P<model>.+)_seed(?P<seed>[0-9]+)$")


def _split(name):
    model, slash, test_set = name.partition("/")
    return model, slash + test_set


def seed_group(name, names):
    """The training seeds of system ``name`` among ``names``: ``[name]`` followed by every
    ``<model>_seed<k>[/<set>]`` of ``name``'s model and set, by seed (the recipes' naming of the other
    seeds of a system, utils/seeds.sh); just ``[name]`` when it has none."""
    model, rest = _split(name)
    others = []
    for other in names:
        other_model, other_rest = _split(other)
        match = _SEED_NAME.match(other_model)
        if match and match["model"] == model and other_rest == rest:
            others.append((int(match["seed"]), other))
    return [name] + [other for _, other in sorted(others)]


def seed_base(name):
    """The system of which ``name`` is a seed: ``light`` of ``light_seed2`` (``name`` itself otherwise)."""
    model, rest = _split(name)
    match = _SEED_NAME.match(model)
    return f"{match['model']}{rest}" if match else name


def is_extra_seed(name, names):
    """Whether ``name`` is a second or later seed (``<model>_seed<k>``) of a system also in ``names``."""
    model, rest = _split(name)
    match = _SEED_NAME.match(model)
    return bool(match) and f"{match['model']}{rest}" in names
