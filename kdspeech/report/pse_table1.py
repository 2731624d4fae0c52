"""Table I of the personalized-enhancement RESULTS.md: PDNSMOS and the intrusive metrics of each
system per test set, its encoders and complexity, with the paper's rows (``--paper`` YAML) under ours.
"""

import yaml

from kdspeech.errors import KdError
from kdspeech.report.score_dirs import label
from kdspeech.report.specs import seed_base
from kdspeech.results import markdown_table

MOS = ("pdnsmos_sig", "pdnsmos_bak", "pdnsmos_ovrl")
INTRUSIVE = ("pesq_wb", "stoi", "si_sdr")
SET_TITLES = {"synth": "synthetic test set", "track1": "Track 1: Headset", "track2": "Track 2: Speakerphone"}


def load_paper(path):
    try:
        with open(path, encoding="utf-8") as handle:
            conf = yaml.safe_load(handle) or {}
    except OSError as err:
        raise KdError(f"cannot read the paper results ({err})", path) from None
    except yaml.YAMLError as err:
        raise KdError(f"not valid YAML: {err}", path) from None
    if not isinstance(conf, dict) or not isinstance(conf.get("systems"), dict):
        raise KdError("expected a 'systems:' mapping of name -> {label, reference, on_the_fly, "
                      "params_m, macs_g, scores}", path)
    known = {"label", "reference", "on_the_fly", "params_m", "macs_g", "scores"}
    for name, entry in conf["systems"].items():
        if not isinstance(entry, dict) or set(entry) - known:
            raise KdError(f"system {name}: expected keys {', '.join(sorted(known))}", path)
    return conf


def columns(summaries, sets):
    """``[(set, metric)]`` of Table I: PDNSMOS then the intrusive metrics a set has."""
    cols = []
    for test_set in sets:
        have = {m for s in summaries.values() for m in s.get(test_set, {}).get("overall", {})}
        cols += [(test_set, m) for m in MOS + INTRUSIVE if m in have or (m in MOS and test_set != "synth")]
    return cols


def table_one(systems, summaries, paper, encoders, deployed, sets):
    cols = columns(summaries, sets)
    header = ["system", "reference", "on-the-fly", *(f"{s} {label(m)}" for s, m in cols), "params (M)", "MACs (G/s)"]
    rows = []
    paper_systems = paper.get("systems", {})
    for name in systems:
        ref, _, fly = encoders.get(name, encoders.get(seed_base(name), "-/-")).partition("/")
        dep = deployed.get(name)
        rows.append([name, ref or "-", fly or "-", *(summaries[name].get(s, {}).get("overall", {}).get(m)
                                                      for s, m in cols),
                     dep["parameters"] / 1e6 if dep else None, dep["macs_per_second"] / 1e9 if dep else None])
        if name in paper_systems:
            rows.append(paper_row(f"{paper_systems[name].get('label', name)} (paper)", paper_systems[name], cols))
    for name, entry in paper_systems.items():
        if name not in systems:
            rows.append(paper_row(f"{entry.get('label', name)} (paper)", entry, cols))
    return markdown_table(header, rows, floatfmt=".2f")


def paper_row(title, entry, cols):
    scores = entry.get("scores") or {}
    return [title, entry.get("reference", "-"), entry.get("on_the_fly", "-"),
            *((scores.get(s) or {}).get(m) for s, m in cols), entry.get("params_m"), entry.get("macs_g")]
