#!/usr/bin/env bash
# Quick start, step 2: install what is missing (tools/install.sh) and run the whole test suite.
# Extra arguments go to pytest (e.g. tests/test_trainer.py -x).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"${root}/tools/install.sh"
cd "${root}"
exec tools/venv/bin/python -m pytest -q --durations=25 "${@:-tests}"   # the 25 slowest: where CI time goes
