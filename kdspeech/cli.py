"""Entry-point wrapper shared by every ``python -m kdspeech.bin.<verb>``."""

import logging
import os
import sys

from kdspeech.errors import KdError


def stage_label():
    """The running stage as exported by utils/stage.sh (``KDSPEECH_STAGE``), or ``None``."""
    return os.environ.get("KDSPEECH_STAGE") or None


def setup_logging(level=logging.INFO):
    logging.basicConfig(
        level=level,
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def run_main(main, argv=None):
    """Run ``main(argv)``; a ``KdError`` becomes one clear line naming the stage, and exit status 1."""
    setup_logging()
    try:
        rc = main(argv)
    except KdError as err:
        stage = stage_label()
        prefix = f"ERROR [stage {stage}] " if stage else "ERROR "
        print(prefix + str(err), file=sys.stderr)
        sys.exit(1)
    sys.exit(rc or 0)


def positive_count(text, expected="a count of at least 1"):
    """argparse ``type``: a whole count of at least 1."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected {expected}, got '{text}'")
    return value


def count_or_all(text):
    """argparse ``type``: ``all`` or a whole count of at least 1."""
    return "all" if text == "all" else positive_count(text, "'all' or a count of at least 1")
