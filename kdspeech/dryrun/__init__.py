"""Dry run of every paper-size config of every recipe (``utils/dry_run.sh``, ``kdspeech.bin.dry_run``).

* ``configs``: which recipes there are, where each keeps its paper-size configs, which of those are
  training configs, and what a config needs from a recipe's run (a teacher's, an encoder's weights),
  which the dry run replaces with fresh weights;
* ``data``: tiny data dirs cut from real files of ``shared/corpora`` for each task;
* ``one``: one config, in a process of its own: build, train, checkpoint, resume, evaluate, measure.
"""
