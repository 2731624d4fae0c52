"""The one write-to-a-temporary-name-then-rename helper: a reader never sees a half-written file.

    with atomic_path("exp/x/best.pth") as tmp:
        torch.save(obj, tmp)

The temporary file sits beside the target (same file system, so the rename is atomic), its name
keeps the target's suffix (libraries that pick a format by suffix still work), parent directories
are created, and on an exception the temporary file is removed and the target left as it was.
"""

import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path, fsync=False):
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
