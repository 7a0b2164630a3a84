# Sourced by the scripts: makes `uv` available (installing it with pip when
# missing) and syncs the locked environment. Only Python 3.11+ is assumed.
set -euo pipefail
UV_VERSION="0.13.9"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"

if command -v uv >/dev/null 2>&1; then
  UV=(uv)
elif "$PYTHON" -m uv --version >/dev/null 2>&1; then
  UV=("$PYTHON" -m uv)
else
  echo "bootstrap: installing uv ${UV_VERSION} with pip" >&2
  "$PYTHON" -m pip install --quiet --user "uv==${UV_VERSION}" \
    || "$PYTHON" -m pip install --quiet --user --break-system-packages "uv==${UV_VERSION}" \
    || "$PYTHON" -m pip install --quiet "uv==${UV_VERSION}"
  UV=("$PYTHON" -m uv)
fi

# Install exactly what uv.lock pins (runtime and dev groups) into .venv.
"${UV[@]}" sync --frozen --quiet
run() { "${UV[@]}" run --frozen --no-sync "$@"; }

# buf needs google/api/field_behavior.proto: it comes from the installed
# googleapis-common-protos package, into a git-ignored buf module.
prepare_googleapis() {
  run python - <<'PY'
import pathlib, shutil
from google.api import field_behavior_pb2
src = pathlib.Path(field_behavior_pb2.__file__).parent / "field_behavior.proto"
dst = pathlib.Path(".gen/googleapis/google/api/field_behavior.proto")
dst.parent.mkdir(parents=True, exist_ok=True)
shutil.copyfile(src, dst)
PY
}
