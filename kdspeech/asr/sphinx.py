"""The pocketsphinx backend (CMU PocketSphinx 5, bundled US-English model).

Every utterance is decoded on its own. A pocketsphinx decoder carries its feature front end from one
utterance to the next: the noise-removal statistics (``remove_noise``, on in the bundled model) and
the cepstral mean (with live CMN, each utterance starts from the previous one's estimate), so
without a reset a hypothesis depends on what the process decoded before it: on the order, on
``--nj`` and on where a scoring job resumed (the 70 transcribed AN4 utterances of shared/corpora
decoded in file order and then in reverse by another decoder: 15 hypotheses differed).
``transcribe`` resets the front end (``Decoder.reinit_feat``) before each utterance: the noise
statistics are cleared and the cepstral mean goes back to the fixed ``cmninit`` (``40,3,-1`` for
en-us). The bundled model normalises with each utterance's own mean (``-cmn batch`` in its
``feat.params``, which overrides a ``cmn`` option), so that initial value does not move a
hypothesis. WER on those 70 utterances with the bundled LM: one decoder in file order, 44.8 % (103 /
230 words); each utterance on its own (the same hypotheses as a new decoder per utterance), 45.2 %
(104 / 230).
"""

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
        self.decoder.reinit_feat()  # a fresh front end: no state from the previous utterance
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr.strip().lower() if hyp is not None else ""
