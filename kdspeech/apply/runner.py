"""Run one step over every input with a progress bar; a bad file fails alone, counted at the end.

    failures = run_items(items, step, "enhance")     # step(item) raises KdError for a bad file
    return 1 if failures else 0

A ``KdError`` raised while processing one input (unreadable, empty, truncated...) is printed as one
line naming that input, and the next input is processed; the run ends with ``N of M inputs failed``
and the caller exits with status 1.  Any other exception is a bug and stops the run.

``Notices`` prints a conversion the command makes on its own (another sample rate, several channels)
once per kind, naming the first file it applies to, so a folder of 44.1 kHz stereo files gives one
line, not one per file.
"""

import logging
import sys

from tqdm import tqdm

from kdspeech.errors import KdError

log = logging.getLogger("kdspeech")


def say(text):
    """One line on stderr that does not break a progress bar."""
    tqdm.write(text, file=sys.stderr)


class Notices:
    """One line per kind of automatic conversion (see the module text)."""

    def __init__(self, what="the model's rate"):
        self.seen = set()
        self.what = what

    def reader(self, reader, item):
        """Report what reading ``item`` through ``reader`` converts."""
        changes = []
        if reader.native_rate != reader.sr:
            changes.append(f"resampled {reader.native_rate} Hz -> {reader.sr} Hz ({self.what})")
        if reader.channels != 1:
            changes.append(f"{reader.channels} channels down-mixed to mono (their mean)")
        key = (reader.native_rate, reader.channels)
        if changes and key not in self.seen:
            self.seen.add(key)
            say(f"notice: {', '.join(changes)}: {item.source} and every other input like it")


def run_items(items, step, desc):
    """``step(item)`` for every item with a progress bar; the number of inputs that failed."""
    failures = 0
    for item in tqdm(items, desc=desc, unit="file", disable=None, file=sys.stderr):
        try:
            step(item)
        except KdError as err:
            failures += 1
            named = err.path is not None and err.path in item.source
            say(f"ERROR {err}" if named else f"ERROR {item.source}: {err}")
    if failures:
        say(f"{failures} of {len(items)} inputs failed (named above); the others are done")
    return failures
