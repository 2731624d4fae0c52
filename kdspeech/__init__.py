"""kdspeech: knowledge distillation recipes for speech and audio."""

__version__ = "0.1.0"

import os as _os

if _os.environ.get("KDSPEECH_CODE_RECORD"):  # under a recipe stage: say which code it ran
    from kdspeech import code_record as _code_record
    _code_record.install()
