"""Write the character token list of a recogniser from a Kaldi ``text`` file (the ``asr`` task's
``data.token_list`` and ``conformer_ctc``'s ``tokens``).

    python -m kdspeech.bin.make_tokens --text data/train/text --out data/token_list/char/tokens.txt

One token per line: ``<blank>`` (id 0), ``<space>``, then the characters of the transcripts after the
WER/CER normaliser, sorted (``kdspeech.asr.tokens``).  An empty ``text`` is an error naming it.
"""

import argparse
import logging

from kdspeech.cli import run_main

log = logging.getLogger("make_tokens")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", required=True, help="Kaldi text file of the training set")
    p.add_argument("--out", required=True, help="token list to write (atomically)")
    args = p.parse_args(argv)
    from kdspeech.asr.tokens import write_token_list

    tokens = write_token_list(args.text, args.out)
    log.info("%s: %d tokens (%s)", args.out, len(tokens), " ".join(tokens[2:]))
    return 0


if __name__ == "__main__":
    run_main(main)
