#!/usr/bin/env bash
# Get this checkout ready for `make test` / `make demo`: a Docker Engine that answers
# (scripts/engine.sh ensure) and this package installed in editable mode with its test
# and dev extras. Quick when everything is already in place.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
cd "$ROOT"

"$ROOT/scripts/engine.sh" ensure

# Run from / so the checkout is not on sys.path by accident: secure_run must be
# importable because it is installed, and from this checkout.
installed() {
    (cd / && "$PYTHON" - "$ROOT" <<'EOF'
import os
import sys
from importlib.metadata import distribution

import docker, hypothesis, mypy, pytest, ruff  # noqa: F401
import secure_run

dist = distribution("secure-run")
# the installed metadata must be this checkout's: e.g. the pytest plugin's entry point
if not any(e.name == "secure_run" for e in dist.entry_points if e.group == "pytest11"):
    sys.exit(1)
root = os.path.realpath(sys.argv[1])
here = os.path.realpath(os.path.dirname(secure_run.__file__))
sys.exit(0 if here == os.path.join(root, "secure_run") else 1)
EOF
    ) >/dev/null 2>&1
}

if installed; then
    echo "bootstrap.sh: secure-run is installed from $ROOT" >&2
else
    echo "bootstrap.sh: installing secure-run from $ROOT (pip install -e '.[test,dev]')" >&2
    "$PYTHON" -m pip install -q -e '.[test,dev]'
    installed || {
        echo "bootstrap.sh: error: after pip install, secure_run still does not import from $ROOT" >&2
        exit 1
    }
fi
