"""One paired comparison of two systems on one metric, from their per-utterance score files, for
every report: WER and CER as the difference of corpus rates (``kdspeech.metrics.paired_rate.
compare_rate``, on the per-utterance error and reference-length counts), every other metric as the
mean per-utterance difference (``kdspeech.metrics.paired.compare``).  Each side is one system's
``score_dirs.read_utterance_scores`` or a list of them, one per training seed.

    from kdspeech.report.paired_metric import compare_metric, speaker_groups
    result = compare_metric([scores_s2], [scores_noisy], "wer", groups=speaker_groups("dump/mix/test"))
"""

import os

from kdspeech.data.datadir import read_kv
from kdspeech.metrics import paired
from kdspeech.metrics.paired_rate import compare_rate_maps
from kdspeech.report.score_dirs import ratio_counts


def compare_metric(a_runs, b_runs, metric, utts=None, seeds=None, groups=None):
    """``Paired`` A - B of ``metric`` on the utterances every run scored (and in ``utts``, if given);
    ``None`` when a run lacks the metric (or, for WER / CER, its counts).  ``seeds``: as
    ``paired.compare``'s; ``groups``: ``{utt: speaker}`` for WER / CER, resampled by speaker."""
    a_runs = a_runs if isinstance(a_runs, list) else [a_runs]
    b_runs = b_runs if isinstance(b_runs, list) else [b_runs]
    counts = ratio_counts(metric)
    columns = counts if counts else (metric,)
    if any(column not in run for run in a_runs + b_runs for column in columns):
        return None
    keep = None if utts is None else set(utts)

    def values(run, column):
        return run[column] if keep is None else {u: v for u, v in run[column].items() if u in keep}

    if counts:
        errors, lengths = counts
        return compare_rate_maps([values(r, errors) for r in a_runs], [values(r, errors) for r in b_runs],
                                 [values(r, lengths) for r in a_runs + b_runs], groups=groups, seeds=seeds)
    return paired.compare_maps([values(r, metric) for r in a_runs], [values(r, metric) for r in b_runs],
                               seeds=seeds)


def repeated_speakers(utt2spk):
    """``utt2spk`` (``{utt: speaker}``) when some speaker has several utterances, then a WER bootstrap
    resamples speakers with all their utterances; ``None`` otherwise (each utterance its own unit)."""
    return utt2spk if utt2spk and len(set(utt2spk.values())) < len(utt2spk) else None


def speaker_groups(data_dir):
    """``repeated_speakers`` of ``data_dir/utt2spk`` (``None`` without one)."""
    return repeated_speakers(read_kv(os.path.join(data_dir, "utt2spk"), allow_missing=True))
