"""Job runners with one command line, Kaldi's ``run.pl``/``slurm.pl`` style.

``utils/run.py [options] JOB=1:4 exp/x/log/foo.JOB.log cmd args...`` runs ``cmd args`` four times
with ``JOB`` replaced by 1..4 in the words and in the log path, one log per job; any failing job
fails the whole call (exit 1) after printing its log's tail.  ``utils/slurm.py`` takes the same
arguments and runs the jobs as a Slurm job array.  Recipes choose the runner in ``cmd.sh``.

- :mod:`kdspeech.jobs.spec`: the command line (options, job range, log path, command words)
- :mod:`kdspeech.jobs.local`: parallel processes on this machine
- :mod:`kdspeech.jobs.slurm`: a Slurm array submitted with ``sbatch --wait``
- :mod:`kdspeech.jobs.threads`: CPU threads per job (cores // jobs at once), set in each job's env
- :mod:`kdspeech.jobs.launch`: one training process, or torchrun for several (utils/launch.py)
"""

from kdspeech.jobs.spec import JobSpec, RunnerOptions, parse_command_line

__all__ = ["JobSpec", "RunnerOptions", "parse_command_line"]
