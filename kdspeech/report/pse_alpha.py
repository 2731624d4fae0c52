"""Fig. 3 of the personalized-enhancement RESULTS.md: the light model's PDNSMOS at each scaling factor
alpha on the validation and test sets, the alpha chosen, and the SIG vs BAK trade-off PNG.
"""

import os

from kdspeech.errors import KdError
from kdspeech.plot import plot_tradeoff
from kdspeech.report.specs import parse_pairs
from kdspeech.report.pse_table1 import MOS
from kdspeech.report.score_dirs import label, read_summaries
from kdspeech.results import link_from, markdown_table


def alpha_means(specs, option):
    """``{alpha (float): overall means}`` from ``ALPHA=DIR[,DIR]``."""
    out = {}
    for key, dirs in parse_pairs(specs, option).items():
        try:
            alpha = float(key)
        except ValueError:
            raise KdError(f"{option} {key}=...: alpha must be a number") from None
        out[alpha] = read_summaries([d for d in dirs.split(",") if d], f"alpha {key}")["overall"]
    return dict(sorted(out.items()))


def alpha_section(args):
    test = alpha_means(args.alpha, "--alpha")
    valid = alpha_means(args.alpha_valid, "--alpha_valid")
    chosen = args.alpha_chosen
    if chosen is None and valid:
        if any(overall.get(args.alpha_metric) is None for overall in valid.values()):
            raise KdError(f"--alpha_valid: the score dirs have no {args.alpha_metric} (--alpha_metric)")
        chosen = max(valid, key=lambda a: valid[a][args.alpha_metric])
    for name, means in (("--alpha", test), ("--alpha_valid", valid)):
        for alpha, overall in means.items():
            if any(overall.get(m) is None for m in MOS):
                raise KdError(f"{name} {alpha:g}: the score dirs have no {', '.join(MOS)}")
    rows = [[f"{a:g}" + (" (chosen)" if a == chosen else ""), *(valid.get(a, {}).get(m) for m in MOS),
             *(test.get(a, {}).get(m) for m in MOS)] for a in sorted(set(test) | set(valid))]
    header = ["alpha", *(f"valid {label(m)}" for m in MOS), *(f"test {label(m)}" for m in MOS)]
    how = "given" if args.alpha_chosen is not None else f"the highest validation {label(args.alpha_metric)}"
    text = (f"The light model evaluated at each alpha; alpha is chosen on the validation set"
            f"{f' (chosen: {chosen:g}, {how})' if chosen is not None else ''}, the test-set points make the "
            f"figure.\n\n")
    text += markdown_table(header, rows)
    if test:
        png = os.path.join(args.plot_dir, "fig3_sig_vs_bak_alpha.png")
        points = {f"α={a:g}": (p["pdnsmos_sig"], p["pdnsmos_bak"]) for a, p in test.items()}
        plot_tradeoff(points, f"α={chosen:g}" if chosen is not None else None, "PDNSMOS SIG", "PDNSMOS BAK", png,
                      f"PDNSMOS SIG vs BAK by alpha ({args.alpha_set})", "light similarity")
        text += f"\n![SIG vs BAK by alpha]({link_from(args.out, png)})\n"
    return text
