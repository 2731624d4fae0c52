"""Repeated option arguments of the results makers: ``NAME:SET=DIR[,DIR]`` (``--system`` of
``make_results_pse``) and ``KEY=VALUE`` (``--encoders``, ``--deploy_row``, ``--alpha``; ``--noise_snr``
and ``--curves`` of ``make_results_enh``).
"""

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
