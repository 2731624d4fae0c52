"""One exception type for bad input, so every entry point can report it the same way.

A ``KdError`` message names the file, the line or the utterance that is wrong.  The stage is not
known here: ``kdspeech.cli.run_main`` prefixes it from ``$KDSPEECH_STAGE``, which ``utils/stage.sh``
exports while a stage runs.
"""


class KdError(Exception):
    """Bad input (a file, a line, a config key) described in words a user can act on."""

    def __init__(self, message, path=None, line=None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}:{line}"
            where += ": "
        super().__init__(where + message)
