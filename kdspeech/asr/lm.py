"""Language models for the ASR backends, built from a recipe's own text.

``build_arpa_lm(text_path, out_path)`` writes a trigram ARPA model (pocketsphinx's ``ArpaBoLM``:
absolute discounting, discount mass 0.5) of the transcripts in a Kaldi ``text`` file
(``<utt> words...``; the first field is the utterance id and is dropped), lower-cased to match the
bundled dictionary.  The model is written atomically next to a ``.sha256`` of the text it came
from, so a rerun with the same text reuses it and a changed text rebuilds it.
"""

import hashlib
import logging
from pathlib import Path

from kdspeech.atomic import atomic_write_text
from kdspeech.errors import KdError

log = logging.getLogger(__name__)


def transcripts(text_path):
    """The sentences of a Kaldi ``text`` file, lower-cased, utterance ids dropped."""
    try:
        lines = Path(text_path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise KdError(f"cannot read the LM text ({err})", text_path) from None
    sentences = []
    for number, line in enumerate(lines, start=1):
        fields = line.split(maxsplit=1)
        if len(fields) == 2:
            sentences.append(fields[1].strip().lower())
        elif fields:
            log.warning("%s:%d: utterance %s has no words; left out of the LM", text_path, number, fields[0])
    if not sentences:
        raise KdError("no transcripts to build a language model from (expected '<utt> words...')",
                      text_path)
    return sentences


def build_arpa_lm(text_path, out_path):
    """Write (or reuse) the ARPA LM of ``text_path`` at ``out_path``; returns ``out_path``."""
    from pocketsphinx.lm import ArpaBoLM

    out_path = Path(out_path)
    sentences = transcripts(text_path)
    corpus = "\n".join(sentences) + "\n"
    digest = hashlib.sha256(corpus.encode("utf-8")).hexdigest()
    stamp = out_path.with_name(out_path.name + ".sha256")
    if out_path.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        log.info("language model %s is up to date with %s", out_path, text_path)
        return out_path
    model = ArpaBoLM(text=corpus, add_start=True)  # <s> and </s> bracket each sentence
    model.compute()
    from io import StringIO

    buffer = StringIO()
    model.write(buffer)
    atomic_write_text(out_path, buffer.getvalue())
    atomic_write_text(stamp, digest + "\n")
    log.info("language model of %d sentences written to %s", len(sentences), out_path)
    return out_path
