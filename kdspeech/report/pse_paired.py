"""Paired tests of every PSE system against the plain personalized model (``--baseline``), per test
set and metric, and the sentence on whether the light similarity (``--light``) helped.
"""

from kdspeech.errors import KdError
from kdspeech.metrics import paired
from kdspeech.report.enh_paired import comparison_rows, seed_sides
from kdspeech.report.pse_table1 import INTRUSIVE, MOS, SET_TITLES
from kdspeech.report.score_dirs import label, read_utterance_scores
from kdspeech.report.specs import is_extra_seed
from kdspeech.results import markdown_table


def paired_section(systems, baseline, light, sets):
    """Paired tests of every system against the baseline, and the sentence about the light system."""
    if baseline not in systems:
        raise KdError(f"--baseline {baseline} is not one of the --system names ({', '.join(systems)})")
    rows, words, most_seeds = [], [], 1
    for test_set in sets:
        if test_set not in systems[baseline]:
            continue
        for name, by_set in systems.items():
            if name == baseline or test_set not in by_set or is_extra_seed(name, systems):
                continue
            a_names, b_names = seed_sides(name, baseline, [n for n in systems if test_set in systems[n]])
            base = [read_utterance_scores(systems[n][test_set]) for n in b_names]
            metrics = [m for m in MOS + INTRUSIVE if m in base[0]]
            ours = [read_utterance_scores(systems[n][test_set]) for n in a_names]
            seeds = max(len(a_names), len(b_names))
            most_seeds = max(most_seeds, seeds)
            for metric, result in comparison_rows(ours, base, metrics):
                rows.append([f"{name} - {baseline}" + (f" ({seeds} seeds)" if seeds > 1 else ""), test_set, label(metric), result.n, result.mean_baseline,
                             result.mean_system, paired.format_diff(result), paired.format_p(result.p_value),
                             result.verdict])
                if name == light and metric == "pdnsmos_ovrl":
                    words.append(verdict(light, baseline, test_set, result))
    if not rows:
        return None
    text = ("Per-utterance differences against the plain model on the utterances both scored: mean with a "
            f"bootstrap 95 % CI ({paired.RESAMPLES} resamples) and the two-sided Wilcoxon signed-rank p. ")
    if most_seeds >= paired.MIN_SEEDS:
        text += ("A row over several training seeds compares the means over seeds; its bootstrap resamples the "
                 "seeds, then the utterances, so the CI holds the training noise as well as the test set's; the "
                 "Wilcoxon p runs on the per-utterance differences averaged over seeds, so it sees the test set "
                 "only. Confirmed: the CI excludes 0 and p < 0.05 (kdspeech.metrics.paired).\n\n")
    else:
        text += (f"These test the utterances, not the training: with one training seed per system a difference "
                 f"is not a verdict ({paired.MIN_SEEDS} seeds are needed).\n\n")
    text += markdown_table(["comparison (A - B)", "set", "metric", "utts", "B", "A", "A - B [95 % CI]",
                            "p (Wilcoxon)", "verdict"], rows)
    if words:
        text += "\n" + " ".join(words) + "\n"
    return text


def verdict(light, baseline, test_set, result):
    """One sentence: did the light similarity help, by how much, is it significant."""
    direction = "improved" if result.mean_diff > 0 else "did not improve"
    if not result.enough_seeds:
        judged = f"{result.verdict} (training noise unmeasured: a re-training can reverse it)"
    else:
        judged = f"{'a confirmed' if result.confirmed else 'not a confirmed'} difference at the 5 % level"
    return (f"On {SET_TITLES.get(test_set, test_set)}, {light} {direction} PDNSMOS OVRL over {baseline}: "
            f"{result.mean_baseline:.3f} -> {result.mean_system:.3f} ({paired.format_diff(result)}, Wilcoxon p "
            f"{paired.format_p(result.p_value)}, {result.n} utterances), {judged}.")
