"""The run-to-run spread a recipe's RESULTS.md states (``kdspeech.results.spread_section``), measured
over the training seeds of its systems: for each metric, the largest difference between two seeds'
overall means of one system (``<model>`` and its ``<model>_seed<k>``, ``specs.seed_group``), over every
system trained at several seeds.  A re-run of the recipe, here or on another machine, should land
within it of the committed numbers; the compare stage (``kdspeech.results_compare``) judges each cell
so.  Without several seeds of any system there is nothing to measure, and the section says so.
"""

import math

from kdspeech.report.specs import is_extra_seed, seed_group
from kdspeech.results import spread_section


def seed_spreads(overall, metrics, label=str):
    """``({label(metric): spread}, systems)``: ``overall[name][metric]`` is a system's overall mean; the
    spread of a metric is the largest max - min over a system's seeds; ``systems`` lists the systems
    with several seeds."""
    spreads, systems = {}, []
    for name in overall:
        if is_extra_seed(name, overall):
            continue
        group = seed_group(name, overall)
        if len(group) < 2:
            continue
        systems.append(f"{name} ({len(group)} seeds)")
        for metric in metrics:
            values = [overall[n].get(metric) for n in group]
            values = [float(v) for v in values if v is not None and not math.isnan(float(v))]
            if len(values) >= 2:
                spreads[label(metric)] = max(spreads.get(label(metric), 0.0), max(values) - min(values))
    return spreads, systems


def seed_spread_section(overall, metrics, label=str):
    """The ``Run-to-run spread`` section, or None when no system was trained at several seeds."""
    spreads, systems = seed_spreads(overall, metrics, label)
    if not spreads:
        return None
    note = ("Measured over training seeds: for each metric, the largest difference between two seeds' "
            f"overall means of one system, over {', '.join(systems)}.  A re-run of this recipe (here or on "
            "another machine) reproduces a number of this file when it lands within this distance of it; "
            "the recipe's compare stage checks every cell so.")
    return spread_section(spreads, note)
