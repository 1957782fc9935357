#!/usr/bin/env bash
# Engines beside the default one, each on its own socket, data root and exec root:
#   scripts/engines.sh up NAME | down NAME | env NAME | list
# Each engine is one script, scripts/engines/NAME.sh, taking up | down | env: `up` starts
# it (idempotent) with the test image loaded, `down` removes all it made (daemons by PID),
# `env` prints `export SECURE_RUN_ENGINE_URL=unix:///...` and `export
# SECURE_RUN_ENGINE_NAME=NAME` for `eval "$(scripts/engines.sh env NAME)"`. The default
# engine (scripts/engine.sh) and the host's cgroup mounts are never touched; no engine can
# pull (the dead proxy at 127.0.0.1:9).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() { echo "usage: $0 up NAME | down NAME | env NAME | list" >&2; exit 2; }
engines() { for f in "$here"/engines/*.sh; do if [ -e "$f" ]; then basename "$f" .sh; fi; done; }

case "${1:-}" in
    list) engines ;;
    up|down|env)
        [ -n "${2:-}" ] || usage
        script="$here/engines/$2.sh"
        [ -x "$script" ] || { echo "no such engine: $2 (known: $(engines | xargs))" >&2; exit 2; }
        exec "$script" "$1"
        ;;
    *) usage ;;
esac
