# The repository root is where the recipe's utils link points (so a recipe copied elsewhere works).
MAIN_ROOT=$(cd "$(dirname "$(readlink -f utils)")" && pwd)
# shellcheck disable=SC1091
. "${MAIN_ROOT}/tools/env.sh" || { return 1 2>/dev/null || exit 1; }
