#!/usr/bin/env bash
# Dry run of every paper-size config of every recipe (kdspeech.bin.dry_run): build the model, train
# --steps steps on a few real files of shared/corpora (short crops, small batches), write a checkpoint,
# resume from it, evaluate; one table row per config (parameters, peak memory, seconds per step,
# pass/fail with the error).  What a config needs from another run (a teacher, another recipe's
# encoder) gets fresh weights, and the table says so.  Exit status 1 when a config fails.
#
#   utils/dry_run.sh [--recipes "dns5/pse esc50/cls"] [--configs "librispeech/enh:*kd*"] [--steps 2]
#                    [--batch 1] [--seconds 1.0] [--device cpu|cuda] [--build_only] [--json out.json]
#
# Runs from anywhere (the repository is found from this script); --help lists every option.
set -euo pipefail
MAIN_ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
# shellcheck disable=SC1091
. "${MAIN_ROOT}/tools/env.sh"
exec python -m kdspeech.bin.dry_run "$@"
