"""``python -m kdspeech``: the ``kdspeech`` command (kdspeech.console)."""

from kdspeech.console import console

console()
