"""Character token lists of the trained recogniser: written from training text, read by the ASR task
and the model.

A token list is a text file of one token per line; the line number (from 0) is the token's id, as in
ESPnet's ``tokens.txt``.  ``<blank>`` (the CTC blank) is always id 0 and ``<space>`` stands for the
space between words; the other tokens are the characters of the training text after the WER/CER
normaliser (``kdspeech.asr.text_norm.normalize``: lower case, numbers and symbols written out,
punctuation dropped), sorted.  So a transcript is encoded after the same normalisation as the
references it is scored against, and a decoded hypothesis is already normalised text.

    write_token_list("data/train/text", "data/tokens.txt")
    tokens = read_token_list("data/tokens.txt")
    ids = encode("HELLO WORLD", tokens)     # [ids of h e l l o <space> w o r l d]
    decode(ids, tokens)                      # "hello world"

A character that is not in the list after normalisation is a KdError naming it (``encode``'s ``where``
names the utterance, the file and its line); ``<unk>`` is not used, so an unsuitable list cannot
train quietly on placeholders.
"""

from pathlib import Path

from kdspeech.atomic import atomic_write_text
from kdspeech.errors import KdError

BLANK = "<blank>"
SPACE = "<space>"


def normalized(text):
    """The text a transcript is encoded from: ``kdspeech.asr.text_norm.normalize``."""
    from kdspeech.asr.text_norm import normalize

    return normalize(text)


def token_list_from_texts(texts):
    """``[<blank>, <space>, sorted characters]`` of the normalised ``texts``."""
    chars = set()
    for text in texts:
        chars.update(normalized(text).replace(" ", ""))
    return [BLANK, SPACE] + sorted(chars)


def write_token_list(text_file, out):
    """Write the character token list of a Kaldi ``text`` file to ``out``; returns the tokens.  An
    empty ``text`` file (or one whose transcripts normalise to nothing) is a KdError naming it."""
    from kdspeech.data.datadir import read_kv

    texts = read_kv(text_file)
    if not texts:
        raise KdError("the text file is empty: no transcripts to make a token list from", path=text_file)
    tokens = token_list_from_texts(texts.values())
    if len(tokens) == 2:
        raise KdError("no transcript has a character left after normalisation", path=text_file)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, "".join(t + "\n" for t in tokens))
    return tokens


def read_token_list(source):
    """The tokens of a token-list file, or of a list given inline (a model file carries its list)."""
    if isinstance(source, (list, tuple)):
        tokens = [str(t) for t in source]
        where = "token list"
    else:
        path = Path(source)
        if not path.is_file():
            raise KdError("token list not found (one token per line; make it with "
                          "python -m kdspeech.bin.make_tokens)", path=path)
        tokens = path.read_text(encoding="utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
        where = path
    if not tokens or tokens[0] != BLANK:
        raise KdError(f"a token list starts with {BLANK} (the CTC blank, id 0)", path=where)
    if len(set(tokens)) != len(tokens) or any(not t or any(c.isspace() for c in t) for t in tokens):
        raise KdError("a token list has one token per line: no duplicate, empty or blank-containing ones",
                      path=where)
    return tokens


def encode(text, tokens, where=None):
    """The ids of the normalised characters of ``text`` (``where``: "utterance X (file:line)")."""
    index = {t: i for i, t in enumerate(tokens)}
    ids, unknown = [], []
    for c in normalized(text):
        token = SPACE if c == " " else c
        if token in index:
            ids.append(index[token])
        elif c not in unknown:
            unknown.append(c)
    if unknown:
        raise KdError(f"{where or 'transcript'}: characters {unknown} are not in the token list "
                      f"({len(tokens)} tokens); remake the list from the training text or normalise the "
                      "transcript")
    return ids


def decode(ids, tokens):
    """The text of token ids (blanks dropped, ``<space>`` as a space, spaces collapsed)."""
    chars = [" " if tokens[i] == SPACE else tokens[i] for i in ids if tokens[i] != BLANK]
    return " ".join("".join(chars).split())
