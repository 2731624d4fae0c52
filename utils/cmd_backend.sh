# shellcheck shell=bash
# Job-runner presets, sourced by every recipe's cmd.sh after it sets $cmd_backend.  All runners share
# one interface: `$cmd [--gpu N --mem M ...] JOB=1:N log.JOB.log command ...`.
#   utils/run.py    runs the jobs on this machine, in parallel
#   utils/slurm.py  submits them to Slurm with sbatch (array jobs; --gpu N asks for --gres=gpu:N)
# train_cmd: data preparation and feature dumps; cuda_cmd: training; decode_cmd: inference, scoring.
case "${cmd_backend:-local}" in
  local)
    export train_cmd="utils/run.py"
    export cuda_cmd="utils/run.py"
    export decode_cmd="utils/run.py"
    ;;
  slurm)
    export train_cmd="utils/slurm.py --mem 4G"
    export cuda_cmd="utils/slurm.py --mem 16G"
    export decode_cmd="utils/slurm.py --mem 4G"
    ;;
  *)
    echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (local or slurm)" >&2
    return 1
    ;;
esac
