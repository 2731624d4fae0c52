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
