#!/usr/bin/env bash
# Installs everything kdspeech needs, and only what is missing:
#   * Debian packages: sox, espeak-ng, libtcmalloc-minimal4 (needs root; skipped with a warning otherwise)
#   * a virtual environment in tools/venv with the exact versions of tools/requirements.lock (every
#     package, dependencies included) and kdspeech itself (editable)
# Re-running it is cheap: each step checks first (the stamp tools/venv/.requirements.sha256 covers the
# install mode, the lock file or tools/requirements.txt, and setup.py).
#
#   tools/install.sh                the locked versions: the environment the committed RESULTS.md were made in
#   tools/install.sh --newest       the newest versions tools/requirements.txt allows (or KDSPEECH_NEWEST=1);
#                                   RESULTS.md then warn that the packages differ from the lock
#   tools/install.sh --newest --write_lock
#                                   regenerate tools/requirements.lock from what --newest installed (pip
#                                   freeze of tools/venv, kdspeech left out); run the tests, then commit it
set -euo pipefail
tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root_dir=$(dirname "${tools_dir}")
venv=${KDSPEECH_VENV:-${tools_dir}/venv}
python=${PYTHON:-python3}
lock=${tools_dir}/requirements.lock
newest=false
[ "${KDSPEECH_NEWEST:-0}" = 0 ] || newest=true
write_lock=false
log() { echo "[install] $*" >&2; }
while [ $# -gt 0 ]; do
  case $1 in
    --newest) newest=true ;;
    --write_lock) write_lock=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown option $1 (--newest, --write_lock, --help)"; exit 1 ;;
  esac
  shift
done
if ${write_lock} && ! ${newest}; then
  log "--write_lock writes the lock from the newest versions: give --newest too"
  exit 1
fi

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
if ${newest}; then
  requirements=${tools_dir}/requirements.txt
else
  requirements=${lock}
  [ -f "${requirements}" ] || { log "ERROR: ${requirements} not found (tools/install.sh --newest installs without it)"; exit 1; }
fi
want=$({ echo "mode newest=${newest}"; cat "${requirements}" "${root_dir}/setup.py"; } | sha256sum | cut -d' ' -f1)
if [ ! -f "${stamp}" ] || [ "$(cat "${stamp}")" != "${want}" ]; then
  rm -f "${stamp}"
  log "pip install -r ${requirements#"${root_dir}"/} (torch takes a minute or two)"
  "${venv}/bin/python" -m pip install -q -r "${requirements}"
  "${venv}/bin/python" -m pip install -q --no-deps -e "${root_dir}"
  echo "${want}" > "${stamp}"
else
  log "python packages up to date (${venv}, ${requirements#"${root_dir}"/})"
fi
if ${write_lock}; then
  { sed -n '1,/^# --- pip freeze/p' "${lock}"
    "${venv}/bin/python" -m pip freeze --all --exclude-editable | grep -v -i '^kdspeech=='
  } > "${lock}.tmp"
  mv -f "${lock}.tmp" "${lock}"
  log "wrote ${lock} ($(grep -c '==' "${lock}") packages); the default install now uses it"
fi
"${venv}/bin/python" -c "import torch, torchaudio, soundfile, soxr, pesq, pystoi, jiwer, yaml; print('[install] torch', torch.__version__, 'torchaudio', torchaudio.__version__)" >&2
