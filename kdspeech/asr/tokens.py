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

BPE (``write_bpe_list``, ``make_tokens --token_type bpe``): a sentencepiece model (``model_type=bpe``,
every character covered, no BOS/EOS, one thread: the same text gives the same model) trained on the
normalised training text, written as ``bpe.model`` beside the list; the list is ``<blank>`` then the
model's pieces (``▁`` marks a word start, as in ESPnet's ``tokens.txt``) without its ``<unk>``.  A
transcript is encoded by that model (``encode(..., bpe_model=path)``, the asr task's
``data.bpe_model``); a piece outside the list (an unseen character) is the same KdError.  ``decode``
needs no model: pieces are joined and ``▁`` becomes a space, so a model file carrying its list decodes
alone.
"""

import functools
import io

from pathlib import Path

from kdspeech.atomic import atomic_path, atomic_write_text
from kdspeech.errors import KdError

BLANK = "<blank>"
SPACE = "<space>"
WORD_START = "\u2581"   # sentencepiece's word-start mark


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


@functools.lru_cache(maxsize=4)
def bpe_processor(path):
    """The sentencepiece model at ``path`` (loaded once per process)."""
    try:
        import sentencepiece as spm
    except ImportError:
        raise KdError("BPE tokens need the sentencepiece package (tools/install.sh installs it)") from None
    if not Path(path).is_file():
        raise KdError("BPE model not found (make_tokens --token_type bpe writes it beside the token list)",
                      path=path)
    return spm.SentencePieceProcessor(model_file=str(path))


def write_bpe_list(text_file, out, units):
    """Train a BPE model of about ``units`` pieces on the normalised transcripts of ``text_file``; write
    it as ``bpe.model`` beside the token list ``out`` and the list; returns the tokens."""
    import sentencepiece as spm

    from kdspeech.data.datadir import read_kv

    texts = [normalized(t) for t in read_kv(text_file).values()]
    texts = [t for t in texts if t]
    if not texts:
        raise KdError("no transcript to train a BPE model on (empty, or nothing left after normalisation)",
                      path=text_file)
    least = len(set("".join(texts).replace(" ", ""))) + 2   # every character, the word-start mark, <unk>
    if int(units) < least:
        raise KdError(f"{units} BPE units cannot hold the {least} pieces the text needs (its characters, the "
                      "word-start mark and <unk>): raise --bpe_units", path=text_file)
    folder = Path(out).parent
    folder.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()   # trained from memory: no path inside the model, the same bytes from the same text
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=model, vocab_size=int(units),
                                   model_type="bpe", character_coverage=1.0, bos_id=-1, eos_id=-1, unk_id=0,
                                   hard_vocab_limit=False, num_threads=1, minloglevel=2)
    with atomic_path(folder / "bpe.model") as tmp:
        tmp.write_bytes(model.getvalue())
    bpe_processor.cache_clear()
    sp = bpe_processor(str(folder / "bpe.model"))
    tokens = [BLANK] + [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if i != sp.unk_id()]
    atomic_write_text(out, "".join(t + "\n" for t in tokens))
    return tokens


def encode(text, tokens, where=None, bpe_model=None):
    """The ids of the normalised characters of ``text`` (``where``: "utterance X (file:line)"), or of
    its BPE pieces by ``bpe_model``."""
    index = {t: i for i, t in enumerate(tokens)}
    ids, unknown = [], []
    units = bpe_processor(str(bpe_model)).encode(normalized(text), out_type=str) if bpe_model else normalized(text)
    for c in units:
        token = SPACE if c == " " else c
        if token in index:
            ids.append(index[token])
        elif c not in unknown:
            unknown.append(c)
    if unknown:
        raise KdError(f"{where or 'transcript'}: {'pieces' if bpe_model else 'characters'} {unknown} are not in the token list "
                      f"({len(tokens)} tokens); remake the list from the training text or normalise the "
                      "transcript")
    return ids


def decode(ids, tokens):
    """The text of token ids (blanks dropped, ``<space>`` and ``▁`` as spaces, spaces collapsed)."""
    chars = [" " if tokens[i] == SPACE else tokens[i] for i in ids if tokens[i] != BLANK]
    return " ".join("".join(chars).replace(WORD_START, " ").split())
