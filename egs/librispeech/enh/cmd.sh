# Job runners (same interface: `$cmd [--gpu N --mem M ...] JOB=1:N log.JOB.log command ...`).
#   utils/run.py    runs the jobs on this machine, in parallel
#   utils/slurm.py  submits them to Slurm with sbatch (array jobs; --gpu N asks for --gres=gpu:N)
# train_cmd: data preparation; cuda_cmd: training; decode_cmd: enhancement and scoring.
cmd_backend=${KDSPEECH_CMD_BACKEND:-local}
if [ "${cmd_backend}" = local ]; then
  export train_cmd="utils/run.py"
  export cuda_cmd="utils/run.py"
  export decode_cmd="utils/run.py"
elif [ "${cmd_backend}" = slurm ]; then
  export train_cmd="utils/slurm.py --mem 4G"
  export cuda_cmd="utils/slurm.py --mem 16G"
  export decode_cmd="utils/slurm.py --mem 4G"
else
  echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (local or slurm)" >&2
  return 1 2>/dev/null || exit 1
fi
