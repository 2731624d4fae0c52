"""The moonshine backend: Useful Sensors' Moonshine through ``moonshine-voice==0.1.0``.

That version's wheel ships the English tiny model (``moonshine_voice/assets/tiny-en``, ONNX Runtime
``.ort`` files run by the bundled ``libmoonshine.so``), so decoding is offline; later versions
download their weights at run time.  Only ``moonshine_voice.transcriber`` is imported: the package's
microphone module needs PortAudio.

Every utterance is decoded on its own, as one segment.  ``transcribe_without_streaming`` cuts its
input into segments with a Silero voice-activity detector, and that detector is one object shared by
the whole process (``VoiceActivityDetector::silero_vad`` in ``libmoonshine.so``), whose state is never
reset: neither a new stream nor a new ``Transcriber`` starts it afresh, so with it a hypothesis
depended on the utterances decoded before (20 AN4 utterances decoded forward and in reverse: 16
differed, the tail of one utterance's last segment often coming back as a first line of the next).
The backend sets the detector's threshold to 0 (``vad_threshold``: every window is speech), so each
call is one segment from the first sample to the last and the detector's state decides nothing.  WER
on shared/corpora, before / after: AN4 (70 transcribed utterances) 35.7 % / 20.0 %, its 10 test
utterances 66.7 % / 16.7 % (the detector's segments made most of the inserted "you"), mini_ljspeech
1.1 % / 2.2 % (1 word of 91 more), SpeechBrain sentences 8.1 % / 8.1 %.  Utterances much longer than
the model's 30 s of training segments are better split before decoding.

Moonshine writes cased, punctuated text with numbers as digits or words and spelled words as
``P-i-t-t``; hypotheses are normalised by ``kdspeech.asr.text_norm.normalize`` (lower case, numbers
to words, spelled letters split, punctuation dropped) so that they compare with Kaldi-style
references.
"""

import numpy as np

from kdspeech.asr import BACKENDS
from kdspeech.errors import KdError

SR = 16000  # the model's rate
PACKAGE = "moonshine-voice==0.1.0"
OPTIONS = {"vad_threshold": "0"}  # one segment per utterance: the shared detector's state decides nothing


@BACKENDS.register("moonshine")
class Moonshine:
    """Decode speech with Moonshine (``model``: ``tiny-en``, the model the 0.1.0 wheel ships, or a
    directory holding ``encoder_model.ort`` and ``decoder_model_merged.ort``; ``arch``: ``tiny`` or
    ``base``, the architecture of that model; ``normalize``: apply ``text_norm.normalize`` to the
    hypotheses)."""

    def __init__(self, model="tiny-en", arch="tiny", normalize=True):
        try:
            from moonshine_voice.moonshine_api import ModelArch
            from moonshine_voice.transcriber import Transcriber
            from moonshine_voice.utils import get_model_path
        except ImportError as err:
            raise KdError(f"the moonshine ASR backend needs the package {PACKAGE} ({err}); install it "
                          f"with: tools/venv/bin/pip install '{PACKAGE}'") from None
        from pathlib import Path

        path = Path(model)
        if not path.is_dir():
            path = get_model_path(model)
        if not (path / "encoder_model.ort").is_file():
            raise KdError(f"moonshine model '{model}' not found (no encoder_model.ort in {path}); "
                          f"{PACKAGE} ships 'tiny-en'", path=path)
        archs = {"tiny": ModelArch.TINY, "base": ModelArch.BASE}
        if arch not in archs:
            raise KdError(f"moonshine arch '{arch}' is not one of {sorted(archs)}")
        try:
            self.transcriber = Transcriber(str(path), archs[arch], options=OPTIONS)
        except Exception as err:  # MoonshineError and ctypes loading errors
            raise KdError(f"moonshine cannot load {path} ({err})", path=path) from None
        self.normalize = normalize

    def transcribe(self, samples, sr):
        """The transcript of one utterance (normalised lower-case words; empty for silence)."""
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise KdError(f"moonshine decodes one channel, got an array of shape {x.shape}")
        if sr != SR:
            from kdspeech.data.resample import resample

            x = resample(x, sr, SR).astype(np.float32)
        if x.size == 0:
            return ""
        transcript = self.transcriber.transcribe_without_streaming(np.clip(x, -1.0, 1.0).tolist(), SR)
        text = " ".join(line.text for line in transcript.lines if line.text)
        if self.normalize:
            from kdspeech.asr.text_norm import normalize

            return normalize(text)
        return text.strip()
