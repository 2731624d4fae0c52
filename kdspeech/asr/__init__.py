"""ASR backends: decode speech to text for transcript metrics (WER/CER) and the privacy stage.

    from kdspeech.asr import build_backend
    asr = build_backend("pocketsphinx", {"lm": "exp/score/asr_lm/lm.arpa"})
    asr.transcribe(samples, 16000)          # -> "the cat sat"

A backend is a class registered here with a ``transcribe(samples, sr) -> str`` method (lower-case
words); its options come from ``build_backend``'s ``conf``.  ``pocketsphinx`` is the offline
default: the pip package ships a US-English acoustic model, dictionary and language model, and
``kdspeech.asr.lm.build_arpa_lm`` makes a recipe-specific language model from training text.
``moonshine`` (``kdspeech.asr.moonshine``, package ``moonshine-voice==0.1.0``, whose wheel ships the
English tiny model) is the second offline backend; its hypotheses go through the WER/CER text
normaliser ``kdspeech.asr.text_norm.normalize`` (case, punctuation, numbers, spelled letters).
``trained:<exp dir or model file>`` (``kdspeech.asr.trained``) decodes with a recogniser a recipe
trained (task ``asr``, e.g. ``conformer_ctc``), so enhanced speech can be scored by an ASR trained on
the recipe's own data.
"""

from kdspeech.registry import Registry

BACKENDS = Registry("ASR backend")
DEFAULT_BACKEND = "pocketsphinx"


def build_backend(name=DEFAULT_BACKEND, conf=None, where=None):
    """An ASR backend by registry name, or ``trained:<exp dir or model file>``; an unknown name or
    option is a KdError."""
    from kdspeech.asr.trained import split_spec

    _load_builtin()
    name, spec_conf = split_spec(name)
    return BACKENDS.build(name, {**spec_conf, **(conf or {})}, where)


def backend_identity(name):
    """What ``name`` decodes with, for output keys (a ``trained:`` model by its file's SHA-256)."""
    from kdspeech.asr.trained import identity

    return identity(name)


def backend_names():
    _load_builtin()
    return BACKENDS.names()


def _load_builtin():
    # registering imports nothing heavy: each backend loads its library when it is built
    from kdspeech.asr import sphinx  # noqa: F401
    from kdspeech.asr import moonshine  # noqa: F401  (moonshine-voice==0.1.0)
    from kdspeech.asr import trained  # noqa: F401  (a recogniser trained by a recipe, task asr)
