#!/usr/bin/env bash
# Installs everything kdspeech needs, and only what is missing:
#   * Debian packages: sox, espeak-ng, libtcmalloc-minimal4 (needs root; skipped with a warning otherwise)
#   * a virtual environment in tools/venv with tools/requirements.txt and kdspeech itself (editable)
# Re-running it is cheap: each step checks first.
set -euo pipefail
tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root_dir=$(dirname "${tools_dir}")
venv=${KDSPEECH_VENV:-${tools_dir}/venv}
python=${PYTHON:-python3}
log() { echo "[install] $*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
debs=()
command -v sox >/dev/null 2>&1 || debs+=(sox libsox-fmt-all)
command -v espeak-ng >/dev/null 2>&1 || debs+=(espeak-ng)
ls /usr/lib/*/libtcmalloc_minimal.so.4 >/dev/null 2>&1 || debs+=(libtcmalloc-minimal4)
if [ ${#debs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "apt-get install ${debs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
  else
    log "WARNING: missing system packages (${debs[*]}); install them as root: apt-get install ${debs[*]}"
  fi
fi

# --- Python virtual environment --------------------------------------------------------------
if [ ! -x "${venv}/bin/python" ]; then
  log "creating ${venv} with $(${python} --version)"
  "${python}" -m venv "${venv}"
  "${venv}/bin/python" -m pip install -q --upgrade pip
fi
stamp=${venv}/.requirements.sha256
want=$(cat "${tools_dir}/requirements.txt" "${root_dir}/setup.py" | sha256sum | cut -d' ' -f1)
if [ ! -f "${stamp}" ] || [ "$(cat "${stamp}")" != "${want}" ]; then
  log "pip install -r tools/requirements.txt (torch takes a minute or two)"
  "${venv}/bin/python" -m pip install -q -r "${tools_dir}/requirements.txt"
  "${venv}/bin/python" -m pip install -q --no-deps -e "${root_dir}"
  echo "${want}" > "${stamp}"
else
  log "python packages up to date (${venv})"
fi
"${venv}/bin/python" -c "import torch, torchaudio, soundfile, soxr, pesq, pystoi, jiwer, yaml; print('[install] torch', torch.__version__, 'torchaudio', torchaudio.__version__)" >&2
