"""The ``kdspeech`` command: trained models applied to your own audio files (``kdspeech.console``).

``inputs`` (files, folders, lists, scp files, data dirs), ``chunking`` (overlap-add and window means
for long recordings), ``runner`` (progress, per-file failures, notices), ``model`` (a packed model or
an exp dir for one task), and one module per subcommand: ``enhance``, ``classify``, ``embed``
(embed and verify), ``transcribe``.
"""
