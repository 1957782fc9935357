#!/usr/bin/env bash
# The `gvisor` engine: a second rootful dockerd whose default runtime is gVisor's runsc,
# beside the default one.   scripts/engines/gvisor.sh up | down | env
#                           (or scripts/engines.sh up|down|env gvisor)
#
# - Its own socket, data root, exec root, pid file and config file (the host's
#   /etc/docker/daemon.json is never read), all under
#   ${SECURE_RUN_ENGINES_DIR:-/tmp/secure-run-engines}/gvisor.
# - runsc is registered in that config file as the runtime `runsc` with the runtime
#   arguments --network=none (runsc refuses a network in the root network namespace:
#   "cannot run with network enabled in root network namespace"), --platform=ptrace
#   (this build's kvm platform hangs here) and --oci-seccomp (Docker's seccomp profile
#   is then loaded inside the sandbox too; without it the workload has none there).
#   Not with --add-runtime as well: the same name twice refuses to start.
# - runsc is the daemon's default runtime, so every container on this engine runs in
#   gVisor, whether or not its config names the runtime (secure_run reads the runtime
#   from each container's inspect record). runc stays registered.
# - --bridge sr-gvisor0 --iptables=false: a bridge of its own (10.216.0.1/24, made by `up`
#   and deleted by `down`; no iptables rule). Not --bridge=none: a dockerd started so
#   deletes any link named docker0 it sees, and in the host's network namespace that is
#   the default engine's bridge. runsc runs --network=none, so containers get no network
#   anyway (secure_run refuses one there).
# - HTTP(S)_PROXY point at a closed loopback port: no pull can reach a registry.
# - `up` installs runsc (apt-get) when missing and loads the test image (built on the
#   default engine by `python3 -m secure_run.testing` if missing) with docker save|load.
# - `down` stops dockerd by its PID (SIGTERM, SIGKILL after 20 s), deletes what runsc
#   still knows under the exec root (`runsc --root <exec-root>/runtime-runsc/moby`), kills
#   leftover shims and sandboxes (their command lines name the state folder), unmounts
#   what is left and removes the folder.
set -euo pipefail

NAME=gvisor
STATE="${SECURE_RUN_ENGINES_DIR:-/tmp/secure-run-engines}/$NAME"
SOCK="$STATE/$NAME.sock"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"
CGROUP_PARENT=/sr-gvisor
BRIDGE=sr-gvisor0
BRIDGE_CIDR=10.216.0.1/24
TEST_IMAGE=secure-run-test/busybox:latest
DEAD_PROXY=http://127.0.0.1:9
START_TIMEOUT=60
STOP_TIMEOUT=20
PYTHON="${PYTHON:-python3}"
# shellcheck source=scripts/engines/lib.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

our_pid() { pid_in "$PIDFILE" dockerd; }

ensure_runsc() {
    command -v runsc >/dev/null 2>&1 && return 0
    say "installing runsc (apt-get)"
    apt-get install -y runsc >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y runsc >/dev/null; } ||
        die "apt-get install runsc failed"
}

write_config() {
    local runsc
    runsc="$(command -v runsc)"
    cat >"$STATE/daemon.json" <<EOF
{
  "runtimes": {
    "runsc": {
      "path": "$runsc",
      "runtimeArgs": ["--network=none", "--platform=ptrace", "--oci-seccomp"]
    }
  },
  "default-runtime": "runsc"
}
EOF
}

start_dockerd() {
    mkdir -p "$STATE/data" "$STATE/exec"
    write_config
    ensure_bridge
    : >"$LOG"
    # setsid: it outlives this script; env execs, so $! is dockerd itself.
    setsid nohup env HTTP_PROXY="$DEAD_PROXY" HTTPS_PROXY="$DEAD_PROXY" NO_PROXY= \
        http_proxy="$DEAD_PROXY" https_proxy="$DEAD_PROXY" no_proxy= \
        dockerd \
        --config-file "$STATE/daemon.json" \
        --host "unix://$SOCK" \
        --data-root "$STATE/data" \
        --exec-root "$STATE/exec" \
        --pidfile "$PIDFILE" \
        --bridge "$BRIDGE" \
        --iptables=false \
        --ip-masq=false \
        --cgroup-parent "$CGROUP_PARENT" \
        >>"$LOG" 2>&1 </dev/null &
    local pid=$! waited=0
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$LOG" >&2 || true
            die "dockerd exited at start (log: $LOG)"
        fi
        if [ "$waited" -ge "$((START_TIMEOUT * 5))" ]; then
            tail -n 20 "$LOG" >&2 || true
            die "dockerd did not answer within ${START_TIMEOUT}s (log: $LOG; stop it with: $0 down)"
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    say "dockerd $pid answers at unix://$SOCK"
}

cmd_up() {
    [ "$(id -u)" -eq 0 ] || die "needs root (dockerd, runsc)"
    command -v dockerd >/dev/null 2>&1 || die "dockerd not found (apt-get install docker.io)"
    ensure_runsc
    mkdir -p "$STATE"
    if our_pid >/dev/null && answers; then
        say "already up (dockerd $(our_pid))"
    else
        start_dockerd
    fi
    [ "$(edocker info --format '{{.DefaultRuntime}}')" = runsc ] ||
        die "the engine at unix://$SOCK does not run runsc by default"
    load_image
    # One start proves the sandbox works here (fails fast on a broken runsc).
    timeout -s KILL 60 docker -H "unix://$SOCK" run --rm --network none "$TEST_IMAGE" true ||
        die "a container does not start under runsc (log: $LOG)"
}

# Shims and sandboxes of this engine: their command lines name the state folder.
leftover_pids() {
    cat /sys/fs/cgroup/pids"$CGROUP_PARENT"/*/cgroup.procs 2>/dev/null || true
    state_pids 'containerd*' 'runsc*' exe
}

# What runsc itself still knows (a failed start leaks a sandbox): delete it by its id.
delete_sandboxes() {
    local root id
    command -v runsc >/dev/null 2>&1 || return 0
    for root in "$STATE"/exec/runtime-*/moby; do
        [ -d "$root" ] || continue
        for id in $(runsc --root "$root" list -q 2>/dev/null || true); do
            timeout -s KILL 20 runsc --root "$root" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
}

cmd_down() {
    local pid waited=0 left dir
    if pid="$(our_pid)"; then
        say "stopping dockerd $pid"
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt "$((STOP_TIMEOUT * 10))" ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "dockerd $pid still running after ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    delete_sandboxes
    left="$(leftover_pids | sort -u | tr '\n' ' ')"
    if [ -n "${left// /}" ]; then
        say "killing leftover shims and sandboxes: $left"
        # shellcheck disable=SC2086 # one PID per word
        kill -KILL $left 2>/dev/null || true
        sleep 0.5
    fi
    for dir in /sys/fs/cgroup/*"$CGROUP_PARENT"; do
        [ -d "$dir" ] || continue
        find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    remove_bridge
    if [ -d "$STATE" ]; then
        unmount_state
        rm -rf "$STATE"
    fi
    say "down"
}

cmd_env() {
    printf 'export SECURE_RUN_ENGINE_URL=%q\n' "unix://$SOCK"
    printf 'export SECURE_RUN_ENGINE_NAME=%q\n' "$NAME"
    # The suites' own configs ask for runsc by name too (tests/security/support.py
    # with_test_runtime: the gVisor pids minimum, and under_gvisor() for what gVisor
    # shows instead); every other container runs in it as the engine's default.
    printf 'export SECURE_RUN_TEST_RUNTIME=%q\n' runsc
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
*)
    echo "usage: $0 up | down | env" >&2
    exit 2
    ;;
esac
