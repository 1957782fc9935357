#!/usr/bin/env bash
# The `hardened` engine: a second rootful dockerd configured as CIS Docker Benchmark
# section 2 asks, beside the default one.   scripts/engines/hardened.sh up | down | env
#                                         (or scripts/engines.sh up|down|env hardened)
#
# - The daemon flags: --no-new-privileges (2.14), --icc=false (2.2), --live-restore
#   (2.15), --default-ulimit nofile=1024:1024 (2.8), --userland-proxy=false (2.16),
#   --iptables=true (2.4, the default), no --cgroup-parent (2.10), no insecure registry
#   (2.5), no TCP listener (2.7), overlay2 (2.6), Docker's default seccomp profile
#   (2.17), log level info (2.3), json-file logs rotated (--log-opt max-size=10m,
#   max-file=3). Not here: userns-remap (2.9; that is the `userns` engine), an
#   authorization plugin (2.12; none is installed) and a remote log driver (2.13; the
#   suites read container logs, which json-file keeps).
# - --icc=false works through iptables, and --iptables=true in the host's network
#   namespace would rewrite the default engine's chains; so this dockerd runs in a
#   network namespace of its own, sr-hardened, started with `nsenter --net=...` (`ip
#   netns exec` remounts /sys, and dockerd then fails: "Devices cgroup isn't mounted").
#   The namespace has only `lo` and the daemon's own bridges: docker0 at 10.215.0.1/24
#   and user networks from 10.215.64.0/18, all private, with no link out of it. Its
#   iptables rules and sysctls (ip_forward, route_localnet) are the namespace's own.
#   A port the daemon publishes listens inside the namespace, not on the host's
#   loopback. The unix socket works across network namespaces.
# - Its own socket, data root, exec root, pid file and config file (an empty one: the
#   host's /etc/docker/daemon.json is never read), all under
#   ${SECURE_RUN_ENGINES_DIR:-/tmp/secure-run-engines}/hardened.
# - HTTP(S)_PROXY point at a closed loopback port (and the namespace has no route out):
#   no pull can reach a registry.
# - `up` loads the test image (built on the default engine by
#   `python3 -m secure_run.testing` if missing) with `docker save | docker load`.
# - `down`: with --live-restore, containers outlive their daemon, so it first removes
#   every container of this engine, then stops dockerd by its PID (SIGTERM, SIGKILL after
#   20 s), kills what is left of its containers (their cgroups, named by the container
#   ids under its data root) and its containerd and shims (their command lines name the
#   state folder), unmounts what is left under the state folder (a failed start leaves a
#   self bind mount of the data root), deletes the namespace and removes the folder.
set -euo pipefail

NAME=hardened
STATE="${SECURE_RUN_ENGINES_DIR:-/tmp/secure-run-engines}/$NAME"
SOCK="$STATE/$NAME.sock"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"
NETNS=sr-hardened
BIP=10.215.0.1/24
POOL=base=10.215.64.0/18,size=24
TEST_IMAGE=secure-run-test/busybox:latest
DEAD_PROXY=http://127.0.0.1:9
START_TIMEOUT=60
STOP_TIMEOUT=20
PYTHON="${PYTHON:-python3}"
# shellcheck source=scripts/engines/lib.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

our_pid() { pid_in "$PIDFILE" dockerd; }

ensure_netns() {
    if [ ! -e "/var/run/netns/$NETNS" ]; then
        ip netns add "$NETNS"
        say "created the network namespace $NETNS"
    fi
    ip -n "$NETNS" link set lo up
}

start_dockerd() {
    mkdir -p "$STATE/data" "$STATE/exec"
    [ -f "$STATE/daemon.json" ] || echo '{}' >"$STATE/daemon.json"
    : >"$LOG"
    # setsid: it outlives this script; env and nsenter exec, so $! is dockerd itself.
    setsid nohup env HTTP_PROXY="$DEAD_PROXY" HTTPS_PROXY="$DEAD_PROXY" NO_PROXY= \
        http_proxy="$DEAD_PROXY" https_proxy="$DEAD_PROXY" no_proxy= \
        nsenter --net="/var/run/netns/$NETNS" \
        dockerd \
        --config-file "$STATE/daemon.json" \
        --host "unix://$SOCK" \
        --data-root "$STATE/data" \
        --exec-root "$STATE/exec" \
        --pidfile "$PIDFILE" \
        --bip "$BIP" \
        --default-address-pool "$POOL" \
        --iptables=true \
        --icc=false \
        --userland-proxy=false \
        --no-new-privileges \
        --live-restore \
        --default-ulimit nofile=1024:1024 \
        --log-opt max-size=10m \
        --log-opt max-file=3 \
        >>"$LOG" 2>&1 </dev/null &
    local pid=$! waited=0
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$LOG" >&2 || true
            unmount_state
            die "dockerd exited at start (log: $LOG)"
        fi
        if [ "$waited" -ge "$((START_TIMEOUT * 5))" ]; then
            tail -n 20 "$LOG" >&2 || true
            die "dockerd did not answer within ${START_TIMEOUT}s (log: $LOG; stop it with: $0 down)"
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    say "dockerd $pid answers at unix://$SOCK (network namespace $NETNS)"
}

cmd_up() {
    [ "$(id -u)" -eq 0 ] || die "needs root (dockerd, a network namespace)"
    command -v dockerd >/dev/null 2>&1 || die "dockerd not found (apt-get install docker.io)"
    command -v nsenter >/dev/null 2>&1 || die "nsenter not found (apt-get install util-linux)"
    command -v iptables >/dev/null 2>&1 || die "iptables not found (apt-get install iptables)"
    mkdir -p "$STATE"
    if our_pid >/dev/null && answers; then
        say "already up (dockerd $(our_pid))"
    else
        ensure_netns
        start_dockerd
    fi
    [ "$(edocker info --format '{{.LiveRestoreEnabled}}')" = true ] ||
        die "the engine at unix://$SOCK does not report LiveRestoreEnabled"
    load_image
}

# The processes of this engine's containers (their cgroups are named by the container
# ids under our data root), and its containerd and shims.
leftover_pids() {
    local id
    for id in "$STATE"/data/containers/*/; do
        id="$(basename "$id")"
        [[ "$id" =~ ^[0-9a-f]{64}$ ]] || continue
        cat /sys/fs/cgroup/pids/docker/"$id"/cgroup.procs 2>/dev/null || true
    done
    state_pids 'containerd*'
}

remove_containers() {
    local ids
    mapfile -t ids < <(edocker ps -aq 2>/dev/null || true)
    if [ "${#ids[@]}" -gt 0 ]; then
        say "removing ${#ids[@]} container(s) (live restore would keep them running)"
        edocker rm -f "${ids[@]}" >/dev/null 2>&1 || true
    fi
}

cmd_down() {
    local pid waited=0 left id
    if pid="$(our_pid)"; then
        remove_containers
        edocker network prune -f >/dev/null 2>&1 || true
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
    left="$(leftover_pids | sort -u | tr '\n' ' ')"
    if [ -n "${left// /}" ]; then
        say "killing leftover container processes and shims: $left"
        # shellcheck disable=SC2086 # one PID per word
        kill -KILL $left 2>/dev/null || true
        sleep 0.5
    fi
    for id in "$STATE"/data/containers/*/; do
        id="$(basename "$id")"
        [[ "$id" =~ ^[0-9a-f]{64}$ ]] || continue
        rmdir /sys/fs/cgroup/*/docker/"$id" 2>/dev/null || true
    done
    if [ -d "$STATE" ]; then
        unmount_state
        rm -rf "$STATE"
    fi
    if [ -e "/var/run/netns/$NETNS" ]; then
        ip netns del "$NETNS" || say "warning: could not delete the namespace $NETNS"
    fi
    say "down"
}

cmd_env() {
    printf 'export SECURE_RUN_ENGINE_URL=%q\n' "unix://$SOCK"
    printf 'export SECURE_RUN_ENGINE_NAME=%q\n' "$NAME"
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
