# shellcheck shell=bash
# The environment of every recipe, sourced by each recipe's path.sh with MAIN_ROOT set: the kdspeech
# virtual environment (tools/install.sh), C sorting, unbuffered Python, tcmalloc preloaded when
# present (1.3-3.7x faster training steps on CPU, measured here), and OpenMP threads that sleep
# instead of spinning while they wait (a thread that spins takes a core from the job beside it, or
# from another user's process; a loaded machine then costs far more than its share).  How MANY
# threads each job gets is set by the job runner (kdspeech/jobs/threads.py: cores // parallel jobs).
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f "${MAIN_ROOT}/tools/venv/bin/activate" ]; then
  # shellcheck disable=SC1091
  . "${MAIN_ROOT}/tools/venv/bin/activate"
fi
# This checkout's kdspeech first: the venv's editable install points at the checkout it was installed
# from, so a recipe run in another clone (a copy at another commit) would otherwise run that code.
export PYTHONPATH="${MAIN_ROOT}${PYTHONPATH:+:${PYTHONPATH}}"
if ! python -c "import kdspeech" 2>/dev/null; then
  echo "path.sh: kdspeech is not installed; run ${MAIN_ROOT}/tools/install.sh first" >&2
  return 1
fi
for _lib in /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4; do
  if [ -f "${_lib}" ] && [[ ":${LD_PRELOAD:-}:" != *":${_lib}:"* ]]; then
    export LD_PRELOAD="${_lib}${LD_PRELOAD:+:${LD_PRELOAD}}"
    break
  fi
done
unset _lib
export LC_ALL=C
export PYTHONUNBUFFERED=1
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"   # GNU and LLVM OpenMP (PyTorch's intra-op pool)
export GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-0}"           # GNU OpenMP: no spinning before sleeping
export KMP_BLOCKTIME="${KMP_BLOCKTIME:-0}"             # Intel OpenMP (MKL): sleep at once
