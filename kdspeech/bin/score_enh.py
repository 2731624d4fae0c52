"""Deprecated alias of ``python -m kdspeech.bin.score`` (same options), kept for old scripts."""
from kdspeech.bin.score import main
from kdspeech.cli import run_main
if __name__ == "__main__":
    run_main(main)
