#!/usr/bin/env python3
"""Training launcher: one process as is, several through torchrun (see kdspeech/jobs/launch.py).

    utils/launch.py --ngpu G --num_nodes M [--nproc P] [--rdzv_endpoint HOST:PORT] [--print] \
        -- python -m kdspeech.bin.train ...
"""

import os
import sys

# utils/ holds scripts, not modules: take it off the import path so that none can shadow a module.
_here = os.path.realpath(os.path.dirname(__file__))
sys.path = [p for p in sys.path if os.path.realpath(p or os.curdir) != _here]

try:
    from kdspeech.jobs import launch
except ImportError as err:
    sys.exit(f"utils/launch.py: cannot import kdspeech ({err}); source path.sh first, "
             "it activates tools/venv")

if __name__ == "__main__":
    sys.exit(launch.main(sys.argv[1:]))
