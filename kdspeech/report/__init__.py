"""The sections of the recipes' RESULTS.md files, behind ``python -m kdspeech.bin.make_results_<task>``
(those verbs parse the command line and write the file with ``kdspeech.results``).

Classification (``make_results_cls``): ``cls_runs`` reads the exp tree (runs, score summaries, per-clip
scores, mean ± std over runs); ``cls_paired``: paired comparisons and the sentence on the paper's
ordering; ``cls_paper``: the paper's numbers and Table 2, section 5.3 and Table 3; ``cls_arch_sections``:
Table 1 and the other sections of one architecture.

Enhancement (``make_results_enh``) and personalized enhancement (``make_results_pse``): ``score_dirs``
reads the score dirs of ``kdspeech.bin.score``; ``enh_tables``: overall, by SNR, by noise type, noise x
SNR; ``enh_paper``: published numbers beside ours, pooled test sets; ``enh_paired``: paired tests on
per-utterance scores; ``enh_training``: model selection and validation curves; ``specs``: the
repeated option arguments of the makers; ``pse_table1``: Table I; ``pse_paired``: tests against the
plain model; ``pse_alpha``: Fig. 3 (alpha sweep); ``pse_deploy``: deployment rows and table.
"""
