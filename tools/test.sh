#!/usr/bin/env bash
# Quick start, step 2: install what is missing (tools/install.sh) and run the whole test suite.
# Extra arguments go to pytest (e.g. tests/test_trainer.py -x; -n 0 runs in this process alone).
# The files run in parallel worker processes (pytest-xdist), one per core up to 4
# (KDSPEECH_TEST_JOBS overrides), each file whole in one worker (its module fixtures made once).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"${root}/tools/install.sh"
cd "${root}"
cores=$(nproc 2>/dev/null || echo 1)
jobs=${KDSPEECH_TEST_JOBS:-$(( cores < 4 ? cores : 4 ))}
# the 25 slowest: where CI time goes
exec tools/venv/bin/python -m pytest -q --durations=25 -n "${jobs}" --dist loadfile "${@:-tests}"
