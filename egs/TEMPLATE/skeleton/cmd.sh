# Job runners of this recipe: a preset of utils/cmd_backend.sh (local | slurm), chosen here or with
# KDSPEECH_CMD_BACKEND.  For your cluster, override train_cmd / cuda_cmd / decode_cmd below it, e.g.
#   cuda_cmd="utils/slurm.py --mem 32G --partition gpu --time 24:00:00"
cmd_backend=${KDSPEECH_CMD_BACKEND:-local}
. utils/cmd_backend.sh || { return 1 2>/dev/null || exit 1; }
