"""The pocketsphinx backend (CMU PocketSphinx 5, bundled US-English model)."""

import numpy as np

from kdspeech.asr import BACKENDS
from kdspeech.errors import KdError

SR = 16000  # the bundled acoustic model's rate


@BACKENDS.register("pocketsphinx")
class PocketSphinx:
    """Decode 16 kHz speech (other rates are resampled) with pocketsphinx.

    ``lm``: an ARPA (or binary) language model to use instead of the bundled en-us one, e.g. one made
    by ``kdspeech.asr.lm.build_arpa_lm`` from a recipe's training text; ``dict``: a pronunciation
    dictionary instead of the bundled CMUdict (words of the LM missing from it are not recognised).
    """

    def __init__(self, lm=None, dict=None):  # noqa: A002 (pocketsphinx's own option name)
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise KdError("pocketsphinx is not installed (pip install pocketsphinx; "
                          "tools/requirements.txt)") from None
        options = {"samprate": SR, "loglevel": "FATAL"}
        if lm is not None:
            options["lm"] = str(lm)
        if dict is not None:
            options["dict"] = str(dict)
        try:
            self.decoder = Decoder(**options)
        except (RuntimeError, ValueError) as err:
            raise KdError(f"pocketsphinx cannot start with {options} ({err})", path=lm) from None
        self.lm = lm

    def transcribe(self, samples, sr):
        """The best hypothesis for one utterance (lower case; empty when nothing is recognised)."""
        x = np.asarray(samples, dtype=np.float32)
        if sr != SR:
            from kdspeech.data.resample import resample

            x = resample(x, sr, SR)
        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr.strip().lower() if hyp is not None else ""
