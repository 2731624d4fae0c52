"""Which kdspeech code a recipe stage ran, recorded by the stage's own Python processes.

While ``utils/stage.sh`` runs a stage it exports ``KDSPEECH_CODE_RECORD``, a folder; every Python
process that imports kdspeech then writes there, as it exits, one line per kdspeech module it
imported: the sha256 of the file's content and its absolute path (``sha256sum``'s format).  The stage's
stamp keeps the union, so that a later run can name the library files that changed since the
outputs were made (the stage's verb, the models and losses it built, the helpers they import),
including modules imported while running (a registry's plug-ins), which no reading of the source
finds.  A process killed before it exits records nothing, but a stage whose process was killed
fails and leaves no stamp anyway.

    KDSPEECH_CODE_RECORD=/tmp/rec python -m kdspeech.bin.validate_data_dir data/x
    cat /tmp/rec/*.txt   # 3f5c...  /path/to/kdspeech/bin/validate_data_dir.py ...
"""

import atexit
import hashlib
import os
import socket
import sys

ENV = "KDSPEECH_CODE_RECORD"
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def loaded_files():
    """The files of the kdspeech modules this process imported (``python -m`` verbs included)."""
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py"):
            continue
        path = os.path.abspath(path)
        if path.startswith(_PACKAGE + os.sep):
            files.add(path)
    return sorted(files)


def write_record(folder):
    """One file in ``folder`` (named by host and process, written atomically) listing
    ``<sha256>  <path>`` of every loaded kdspeech module."""
    lines = []
    for path in loaded_files():
        try:
            with open(path, "rb") as f:
                lines.append(f"{hashlib.sha256(f.read()).hexdigest()}  {path}\n")
        except OSError:
            continue
    name = f"{socket.gethostname()}.{os.getpid()}"
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name}.tmp")
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.replace(tmp, os.path.join(folder, f"{name}.txt"))


def _at_exit(folder):
    try:
        write_record(folder)
    except OSError as err:  # the stage still succeeds; its stamp then misses this process's code
        print(f"kdspeech: could not record the code of this process in {folder}: {err}", file=sys.stderr)


def install():
    """Record at exit when ``KDSPEECH_CODE_RECORD`` is set (called by ``kdspeech/__init__.py``)."""
    folder = os.environ.get(ENV)
    if folder:
        atexit.register(_at_exit, os.path.abspath(folder))
