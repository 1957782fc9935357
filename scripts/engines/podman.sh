#!/usr/bin/env bash
# The `podman` engine: rootful Podman 4.3.1's Docker-compatible API (`podman system
# service`) beside the default Docker Engine.
#   scripts/engines/podman.sh up | down | env   (or scripts/engines.sh ... podman)
#
# - The configuration is scripts/podman.sh's (the `podman kube play` engine), sourced
#   here with its state folder moved to ${SECURE_RUN_ENGINES_DIR:-/tmp/secure-run-engines}/podman:
#   its own containers.conf, storage.conf (graph root, run root) and registries.conf (no
#   registry), runc (crun fails here: "cgroups in hybrid mode not supported"), the
#   cgroupfs manager, default nofile and nproc ulimits at or below this machine's hard
#   limits, the dead proxy at 127.0.0.1:9 and the test image loaded by `docker save |
#   podman load`.
# - What this engine adds to it:
#   - a `bridge` network (the default network, named podman, as the Docker API's
#     "bridge"): the CNI bridge plugin on sr-podman0 with host-local addresses from
#     10.215.0.0/24 kept under the state folder, no gateway and no masquerade, and no
#     firewall or portmap plugin: nothing is written to the host's iptables, and nothing
#     on the bridge has a way out. Ports cannot be published (that needs portmap's
#     iptables rules); the library refuses them on Podman.
#   - runc behind a wrapper (bin/runc, a shell script that starts bin/runc-clamp.py
#     only for create, run and exec) that clamps RLIMIT_NOFILE and RLIMIT_NPROC of a
#     container (create) or an exec (exec) to the service's own hard limits. Podman 4.3.1 fills the one of the
#     two a container does not set with 1048576 as soon as it sets any ulimit (its
#     default_ulimits apply only to a container with none); root here lacks
#     CAP_SYS_RESOURCE, so runc then fails "error setting rlimit type 6: operation not
#     permitted". Podman 4.5 and later clamp the same way themselves when the engine
#     lacks CAP_SYS_RESOURCE. A limit the config asks for above the hard limit is
#     clamped too, and verify() reads the container's /proc/<pid>/limits, so it shows.
# - `down` stops the service by its PID and removes everything (scripts/podman.sh down),
#   then the bridge.
set -euo pipefail

NAME=podman
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ENGINE_STATE="${SECURE_RUN_ENGINES_DIR:-/tmp/secure-run-engines}/$NAME"
BRIDGE=sr-podman0
SUBNET=10.215.0.0/24

export SECURE_RUN_PODMAN_DIR="$ENGINE_STATE"
export PODMAN_NETNS=bridge
export PODMAN_CNI_PLUGIN_DIR=/usr/lib/cni
# exit_command_delay: an exec's conmon otherwise lingers 300 s after the exec ends.
export PODMAN_ENGINE_EXTRA="exit_command_delay = 5
[engine.runtimes]
runc = [\"$ENGINE_STATE/bin/runc\"]"
# shellcheck source=scripts/podman.sh
. "$here/../podman.sh"

say() { printf 'engines/%s.sh: %s\n' "$NAME" "$*" >&2; }

write_network() {
    mkdir -p "$ENGINE_STATE/networks"
    cat >"$ENGINE_STATE/networks/podman.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "podman",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$ENGINE_STATE/cni-ipam",
        "ranges": [[{ "subnet": "$SUBNET" }]]
      }
    }
  ]
}
EOF
}

write_runtime() {
    mkdir -p "$ENGINE_STATE/bin"
    # bin/runc: a shell script, so the calls that start nothing (state, kill, delete, start,
    # features...: most of them) cost one exec; only create, run and exec start Python
    # (-I -S: no site, no user paths), which clamps and then execs runc.
    cat >"$ENGINE_STATE/bin/runc" <<EOF
#!/bin/sh
for arg in "\$@"; do
    case "\$arg" in
    create | run | exec) exec /usr/bin/python3 -I -S "$ENGINE_STATE/bin/runc-clamp.py" "\$@" ;;
    esac
done
exec /usr/sbin/runc "\$@"
EOF
    cat >"$ENGINE_STATE/bin/runc-clamp.py" <<'EOF'
"""runc, with RLIMIT_NOFILE and RLIMIT_NPROC in the container's config.json (create,
run) or the exec's process.json (exec) clamped to this process's hard limits first:
what Podman 4.5+ does itself when the engine lacks CAP_SYS_RESOURCE."""
import json
import os
import resource
import sys

RUNC = "/usr/sbin/runc"
HARD = {
    "RLIMIT_NOFILE": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
    "RLIMIT_NPROC": resource.getrlimit(resource.RLIMIT_NPROC)[1],
}


def value(args, *names):
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.partition("=")[2]
    return None


def clamp(path, process_only):
    try:
        with open(path) as f:
            spec = json.load(f)
    except OSError:
        return
    process = spec if process_only else spec.get("process") or {}
    changed = False
    for rlimit in process.get("rlimits") or ():
        top = HARD.get(rlimit.get("type"))
        if top is None or top == resource.RLIM_INFINITY:
            continue
        hard = min(int(rlimit.get("hard", top)), top)
        soft = min(int(rlimit.get("soft", hard)), hard)
        if (hard, soft) != (rlimit.get("hard"), rlimit.get("soft")):
            rlimit["hard"], rlimit["soft"], changed = hard, soft, True
    if changed:
        with open(path, "w") as f:
            json.dump(spec, f)


args = sys.argv[1:]
command = next((a for a in args if a in ("create", "run", "exec")), None)
if command in ("create", "run"):
    bundle = value(args, "--bundle", "-b") or "."
    clamp(os.path.join(bundle, "config.json"), False)
elif command == "exec":
    process = value(args, "--process", "-p")
    if process:
        clamp(process, True)
os.execv(RUNC, [RUNC, *args])
EOF
    chmod 0755 "$ENGINE_STATE/bin/runc" "$ENGINE_STATE/bin/runc-clamp.py"
}

engine_up() {
    [ "$(id -u)" -eq 0 ] || { say "error: needs root (a rootful engine)"; exit 1; }
    if ip -o addr show | grep -q ' 10\.215\.' && ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        say "error: this host already uses 10.215.0.0/16; refusing to add $BRIDGE there"
        exit 1
    fi
    mkdir -p "$ENGINE_STATE"
    write_network
    write_runtime
    # scripts/podman.sh's up: install, config, image, service (idempotent); its
    # exports are for the kube-play tests, not for this engine.
    cmd_up >&2
    edocker_version="$(podman --url "unix://$SOCK" version --format '{{.Server.Version}}')"
    say "Podman $edocker_version answers at unix://$SOCK"
}

engine_down() {
    cmd_down
    if ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link del "$BRIDGE" || say "warning: could not delete the bridge $BRIDGE"
    fi
    say "down"
}

engine_env() {
    printf 'export SECURE_RUN_ENGINE_URL=%q\n' "unix://$SOCK"
    printf 'export SECURE_RUN_ENGINE_NAME=%q\n' "$NAME"
}

case "${1:-}" in
up) engine_up ;;
down) engine_down ;;
env) engine_env ;;
*)
    echo "usage: $0 up | down | env" >&2
    exit 2
    ;;
esac
