"""Check that espeak-ng and the requested voices exist, before synthesizing anything.

espeak-ng silently falls back to its default variant when ``+variant`` is unknown, so a typo in a
voice name would quietly change the speakers; this module rejects such names instead.
A voice is ``<language or voice name>[+<variant>]``, e.g. ``en-us+m3``.
"""

import re
import shutil
import subprocess

from kdspeech.errors import KdError


def require_espeak():
    if shutil.which("espeak-ng") is None:
        raise KdError("espeak-ng not found on PATH (install it: apt-get install -y espeak-ng)")


def _listing(kind):
    """Lower-cased names espeak-ng accepts, from ``espeak-ng --voices[=variant]``."""
    arg = "--voices=variant" if kind == "variant" else "--voices"
    proc = subprocess.run(["espeak-ng", arg], capture_output=True, text=True)
    if proc.returncode != 0:
        raise KdError(f"'espeak-ng {arg}' failed: {proc.stderr.strip()}")
    names = set()
    for line in proc.stdout.splitlines()[1:]:  # header: Pty Language Age/Gender VoiceName File Other
        cols = line.split()
        if len(cols) < 5:
            continue
        if kind == "variant":
            names.update(m.lower() for m in re.findall(r"!v/(\S+)", line))
            names.add(cols[3].lower())
        else:
            names.update({cols[1].lower(), cols[3].lower(), cols[4].lower(), cols[4].split("/")[-1].lower()})
    return names


def check_voices(voices):
    """KdError naming the first voice whose language or variant espeak-ng does not have."""
    languages, variants = _listing("language"), _listing("variant")
    for voice in voices:
        base, _, variant = voice.partition("+")
        if base.lower() not in languages:
            raise KdError(f"espeak-ng has no voice/language '{base}' (in voice '{voice}'); "
                          "see 'espeak-ng --voices'")
        if variant and variant.lower() not in variants:
            raise KdError(f"espeak-ng has no variant '{variant}' (in voice '{voice}'); "
                          "see 'espeak-ng --voices=variant'")
