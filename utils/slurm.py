#!/usr/bin/env python3
"""Job runner: a Slurm job array through sbatch --wait (Kaldi's slurm.pl).

    utils/slurm.py [options] JOB=1:4 exp/x/log/foo.JOB.log cmd args...
    utils/slurm.py [options] exp/x/log/foo.log cmd args...

Options (shared by utils/run.py and utils/slurm.py): --mem --gpu --num_threads --time
--max_jobs_run --partition --num_nodes; see --help and kdspeech/jobs/.
"""

import os
import sys

# utils/ holds scripts, not modules: take it off the import path so that none can shadow a module.
_here = os.path.realpath(os.path.dirname(__file__))
sys.path = [p for p in sys.path if os.path.realpath(p or os.curdir) != _here]

try:
    from kdspeech.jobs import slurm
except ImportError as err:
    sys.exit(f"utils/slurm.py: cannot import kdspeech ({err}); source path.sh first, "
             "it activates tools/venv")

if __name__ == "__main__":
    sys.exit(slurm.main(sys.argv[1:], prog="slurm.py"))
