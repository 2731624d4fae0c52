"""The ``trained`` backend: a recogniser trained by a recipe (task ``asr``, e.g. ``conformer_ctc``).

    build_backend("trained:exp/asr_conformer")          # its best.pth; or a model file
    build_backend("trained", {"model": "exp/asr/best.pth", "beam": 10})
    utils/score.sh --asr_backend trained:exp/asr_conformer ...   # and enh.sh --asr_backend trained:...

The model file carries its token list (``conformer_ctc`` keeps the list in its options), so nothing
else of the exp dir is read.  Each utterance is decoded on its own, whole, in eval mode (no
SpecAugment, no dropout, batch norm from its running statistics, features normalised over the
utterance itself): no state is carried from one call to the next, so a hypothesis does not depend on
the order, the job split or a resume.  ``beam`` 1 decodes greedily; larger, by the CTC prefix beam
search (``kdspeech.asr.ctc_decode``).  A hybrid CTC/attention model (``conformer_ctc`` with a
``decoder``) decodes by attention rescoring of the CTC search's ``beam``-best (``kdspeech.asr.rescore``,
WeNet's; ``beam`` 10 and ``ctc_weight`` 0.3 unless given); ``decoding: ctc`` forces CTC alone.  Input
at another rate than the model's is resampled.  The output is lower-case words of the token list's
characters (already normalised as WER/CER normalises).
"""

import numpy as np

from kdspeech.asr import BACKENDS
from kdspeech.errors import KdError

PREFIX = "trained:"


@BACKENDS.register("trained")
class Trained:
    """Decode with a trained ASR model (``model``: exp dir or model file; ``beam``: 1 greedy, more:
    prefix beam search; ``device``: cpu or cuda; ``decoding``: auto (attention rescoring for a model
    with a decoder, else CTC), ctc or rescore; ``ctc_weight``: of the rescoring score)."""

    def __init__(self, model=None, beam=None, device="cpu", decoding="auto", ctc_weight=0.3):
        import torch   # imported when built: registering this backend loads nothing heavy

        from kdspeech.train.checkpoint import load_model

        if not model:
            raise KdError("the trained ASR backend needs a model: --asr_backend trained:<exp dir or model file>")
        self.net = load_model(model, device=device)
        if not hasattr(self.net, "tokens"):
            raise KdError(f"not a trained recogniser ({type(self.net).__name__} has no token list; train one "
                          "with task: asr)", path=model)
        if beam is not None and int(beam) < 1:
            raise KdError(f"the trained ASR backend's beam must be >= 1, not {beam}")
        from kdspeech.asr.rescore import decoding_options

        self.method, self.beam, self.ctc_weight = decoding_options(decoding, beam, ctc_weight, self.net,
                                                                   what="the trained ASR backend")
        self.device, self.sr = torch.device(device), int(getattr(self.net, "sr", 16000))
        self.model = model

    def transcribe(self, samples, sr):
        """The transcript of one utterance (empty when nothing but blanks is decoded)."""
        import torch

        from kdspeech.asr.tokens import decode
        from kdspeech.tasks.asr import transcribe_one

        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise KdError(f"the trained ASR backend decodes one channel, got an array of shape {x.shape}")
        if sr != self.sr:
            from kdspeech.data.resample import resample

            x = resample(x, sr, self.sr).astype(np.float32)
        if len(x) < 1 + 6 * self.net.hop:
            return ""   # shorter than the encoder's receptive field: nothing can be recognised
        self.net.eval()
        with torch.no_grad():
            ids = transcribe_one(self.net, torch.from_numpy(x), self.device, self.beam, self.method,
                                 self.ctc_weight)
        return decode(ids, self.net.tokens)


def split_spec(name):
    """``("trained", {"model": path})`` for ``trained:<path>``, else ``(name, {})``."""
    if name.startswith(PREFIX):
        return "trained", {"model": name[len(PREFIX):]}
    return name, {}


def identity(name):
    """What a backend name stands for in output keys: ``trained:`` with its model file's SHA-256, so
    retraining the recogniser rescores; other names as they are."""
    if not name.startswith(PREFIX):
        return name
    from kdspeech.train.checkpoint import model_digest

    return PREFIX + model_digest(name[len(PREFIX):])
