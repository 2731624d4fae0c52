#!/usr/bin/env bash
# Quick start, step 1: install everything (tools/install.sh) and run the offline mini recipe
# (egs/mini_espeak/enh) end to end.  Extra arguments go to its run.sh (e.g. --stage 4).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"${root}/tools/install.sh"
cd "${root}/egs/mini_espeak/enh"
time ./run.sh "$@"
