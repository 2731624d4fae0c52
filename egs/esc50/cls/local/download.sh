#!/usr/bin/env bash
# Stage 0 of egs/esc50/cls: the official ESC-50 archive (about 600 MB) into ${dest}, resumed when
# interrupted, checked against --md5 when given, skipped when ${dest}/ESC-50-master/meta/esc50.csv exists.
# Point db.sh's esc50 at ${dest}/ESC-50-master (the default) or at a copy you already have.
set -euo pipefail
dest=downloads
url=https://github.com/karoldvl/ESC-50/archive/master.zip
md5=""               # the archive follows the repository's master branch: no fixed checksum is published
help_message="Usage: $0 [--dest downloads] [--url URL] [--md5 SUM]"
. utils/parse_options.sh
opts=(--url "${url}" --dest "${dest}" --extract --creates ESC-50-master/meta/esc50.csv)
[ -n "${md5}" ] && opts+=(--md5 "${md5}")
python utils/download.py "${opts[@]}"
