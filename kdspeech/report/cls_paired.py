"""Paired comparisons of the classification systems (``kdspeech.metrics.paired``): over the (fold,
seed) runs, per test clip, the sentence on whether the paper's ordering CSSD >= BASD > fine-tuned
holds on them, and section 5.3's ablations against the systems they change.
"""

import math

from kdspeech.metrics import paired
from kdspeech.report.cls_paper import paper_value, reported_in
from kdspeech.report.cls_runs import clip_correctness
from kdspeech.results import markdown_table

PAIRS = [("basd", "ft"), ("cssd", "ft"), ("cssd", "basd")]
LABEL = {"ft": "fine-tuned", "basd": "BASD", "cssd": "CSSD"}


def paired_section(exp, folds, rates, systems):
    """Per-clip paired comparisons (system - baseline accuracy, in points) at each rate."""
    rows = []
    for r in rates:
        for a, b in PAIRS:
            if a not in systems or b not in systems:
                continue
            ca = per_run(clip_correctness(exp, folds, systems[a].format(r=r), r))
            cb = per_run(clip_correctness(exp, folds, systems[b].format(r=r), r))
            result = paired.compare_maps(ca, cb)
            rows.append([f"{r // 1000} kHz", f"{a} - {b}", result.n, 100 * result.mean_baseline,
                         100 * result.mean_system, paired.format_diff(result, scale=100, digits=1),
                         paired.format_per_seed(result, scale=100, digits=1),
                         paired.format_p(result.p_value), result.verdict])
    text = ("Each test clip scores 1 when classified right, so a difference is one of plain accuracy "
            "(not the class-averaged figure of Table 1), in points, over the test clips of all folds. "
            f"95 % CI: bootstrap of the mean difference ({paired.RESAMPLES} resamples, seed "
            f"{paired.SEED}) that resamples the training seeds and then the clips, so it holds training "
            "noise as well as test-set noise; per seed: each seed's difference; p: two-sided Wilcoxon "
            "signed-rank test on the clips' differences averaged over the seeds (clips both systems get "
            f"right, or both wrong, drop out). The verdict needs {paired.MIN_SEEDS} seeds or more, the CI "
            f"excluding 0 and p < {paired.LEVEL}.\n\n")
    return text + markdown_table(["rate", "comparison (A - B)", "clips", "B accuracy (%)",
                                  "A accuracy (%)", "A - B [95 % CI]", "per seed", "p (Wilcoxon)", "verdict"],
                                 rows)


def per_run(correctness):
    """``[{(fold, clip): 0/1}]``, one map per run (seed) of ``clip_correctness``'s ``{(run, fold, clip)}``."""
    runs = {}
    for (run, fold, clip), value in correctness.items():
        runs.setdefault(run, {})[(fold, clip)] = value
    return [runs[r] for r in sorted(runs)]


def run_paired(values, a, b):
    """``paired.compare`` of systems ``a`` and ``b`` over the (fold, seed) keys both have."""
    keys = sorted(set(values[a]) & set(values[b]), key=str)
    seeds = len({seed for seed, _ in keys})   # the pairs are training runs: folds x these seeds
    return paired.compare([values[a][k] for k in keys], [values[b][k] for k in keys], seeds=seeds)


def _verdict(result, strict):
    """How a relation A > B (strict) or A >= B stands on the paired difference A - B."""
    if not result.enough_seeds:
        holds = result.mean_diff > 0 or (not strict and result.mean_diff >= 0)
        return f"{'holds' if holds else 'fails'} on the mean ({result.verdict})", holds
    if result.n < 2 or math.isnan(result.ci_low):
        return "on the mean only (too few pairs for a confidence interval)", result.mean_diff > 0 or (
            not strict and result.mean_diff == 0)
    if result.confirmed:
        return (("holds" if result.ci_low > 0 else "reversed") + " at the 5 % level (CI "
                + ("above" if result.ci_low > 0 else "below") + " 0, Wilcoxon p < 0.05)"), result.ci_low > 0
    holds = result.mean_diff > 0 or (not strict and result.mean_diff >= 0)
    why = ("CI includes 0" if not result.significant else
           f"CI {'above' if result.ci_low > 0 else 'below'} 0 but Wilcoxon p >= 0.05")
    return f"{'holds' if holds else 'fails'} on the mean, not significant ({why})", holds


def ordering_sentence(label, rate, cmp, paper_means=None):
    """One sentence on CSSD >= BASD > fine-tuned from the paired results ``cmp[(a, b)]``."""
    parts, holds, sure, reversed_ = [], True, True, False
    for (a, b), strict in ((("basd", "ft"), True), (("cssd", "basd"), False), (("cssd", "ft"), True)):
        res = cmp[(a, b)]
        text, ok = _verdict(res, strict)
        holds &= ok
        reversed_ |= text.startswith("reversed")
        if strict:  # a strict step is established when its CI is above 0
            sure &= ok and "5 % level" in text
        parts.append(f"{LABEL[a]} {'>' if strict else '>='} {LABEL[b]}: {text}, "
                     f"{paired.format_diff(res, scale=100, digits=1)} points, p {paired.format_p(res.p_value)}")
    n = cmp[("basd", "ft")].n
    head = (f"- **{label}, {rate // 1000} kHz** ({n} (fold, seed) pairs): the paper's ordering CSSD >= BASD > "
            f"fine-tuned {'holds' if holds else 'does not hold'}"
            + ((" (a step reversed at the 5 % level)" if reversed_ else " on the means (no step reversed at the 5 %"
                " level)") if not holds else " (both > steps at the 5 % level)" if sure
               else " on the means (not every > step at the 5 % level)") + ". "
            + "; ".join(parts) + ".")
    if paper_means and all(paper_means.get(s) is not None for s in ("ft", "basd", "cssd")):
        p = paper_means
        ok = p["cssd"] >= p["basd"] > p["ft"]
        head += (f" Paper: {'holds' if ok else 'does not hold'} (fine-tuned {p['ft']:.1f}, BASD {p['basd']:.1f}, "
                 f"CSSD {p['cssd']:.1f}).")
    return head


def ablation_pairs(rates):
    """Section 5.3's claims as (A, B, rate): the second BASD generation against the first at the lowest
    rate, and the lowest rate's fine-tuned model as teacher against CSSD and fine-tuning at each other."""
    lo = min(rates)
    return [("basd2", "basd", lo)] + [(a, b, r) for r in sorted(rates) if r > lo
                                      for a, b in (("cssdlow", "cssd"), ("cssdlow", "ft"))]


def section53_paired(per_arch, rates, paper):
    """Paired (fold, seed) differences behind section 5.3, beside the paper's difference of means."""
    rows = []
    for arch, values in per_arch.items():
        for a, b, r in ablation_pairs(rates):
            if (a, r) not in values or (b, r) not in values:
                continue
            res = run_paired(values, (a, r), (b, r))
            pa, pb = (paper_value(paper, reported_in(s), arch, f"{s}_{r}") for s in (a, b))
            paper_diff = f"{pa - pb:+.1f}" if isinstance(pa, float) and isinstance(pb, float) else "n/r"
            verdict = ({1: "A higher", -1: "A lower", 0: "not shown"}[res.direction] if res.enough_seeds
                       else res.verdict)
            rows.append([arch, f"{r // 1000} kHz", f"{a} - {b}", res.n, 100 * res.mean_baseline,
                         100 * res.mean_system, paired.format_diff(res, scale=100, digits=1),
                         paired.format_p(res.p_value), verdict, paper_diff])
    text = ("Each pair is one (fold, seed) run; A - B in points with a bootstrap 95 % CI and a two-sided "
            f"Wilcoxon p; the verdict names a side only where {paired.MIN_SEEDS} seeds or more stand behind the "
            "pairs, the CI excludes 0 and p < 0.05. Paper: its "
            "difference of the two reported means (no spread given).\n\n")
    return ("Section 5.3: paired differences over (fold, seed) runs",
            text + markdown_table(["architecture", "rate", "comparison (A - B)", "pairs", "B (%)", "A (%)",
                                   "A - B [95 % CI]", "p (Wilcoxon)", "verdict", "paper A - B"], rows))
