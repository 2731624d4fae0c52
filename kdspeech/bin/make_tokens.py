"""Write the token list of a recogniser from a Kaldi ``text`` file (the ``asr`` task's
``data.token_list`` and ``conformer_ctc``'s ``tokens``): characters, or BPE pieces.

    python -m kdspeech.bin.make_tokens --text data/train/text --out data/token_list/char/tokens.txt
    python -m kdspeech.bin.make_tokens --text data/train/text --out data/token_list/bpe300/tokens.txt \
        --token_type bpe --bpe_units 300      # + data/token_list/bpe300/bpe.model (data.bpe_model)

Characters: one token per line, ``<blank>`` (id 0), ``<space>``, then the characters of the
transcripts after the WER/CER normaliser, sorted.  BPE: a sentencepiece model trained on the
normalised transcripts, ``<blank>`` then its pieces (``kdspeech.asr.tokens``).  An empty ``text`` is an
error naming it.
"""

import argparse
import logging

from kdspeech.cli import run_main

log = logging.getLogger("make_tokens")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", required=True, help="Kaldi text file of the training set")
    p.add_argument("--out", required=True, help="token list to write (atomically)")
    p.add_argument("--token_type", default="char", choices=("char", "bpe"))
    p.add_argument("--bpe_units", type=int, default=300, help="BPE vocabulary size (sentencepiece's vocab_size)")
    args = p.parse_args(argv)
    from kdspeech.asr.tokens import write_bpe_list, write_token_list

    if args.token_type == "bpe":
        tokens = write_bpe_list(args.text, args.out, args.bpe_units)
    else:
        tokens = write_token_list(args.text, args.out)
    log.info("%s: %d tokens (%s)", args.out, len(tokens), " ".join(tokens[1:40]))
    return 0


if __name__ == "__main__":
    run_main(main)
