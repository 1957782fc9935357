#!/usr/bin/env bash
# The `userns` engine: a second rootful dockerd with --userns-remap=default, beside the
# default one.   scripts/engines/userns.sh up | down | env   (or scripts/engines.sh ... userns)
#
# - Its own socket, data root, exec root, pid file and config file (an empty one: the
#   host's /etc/docker/daemon.json is never read), all under
#   ${SECURE_RUN_ENGINES_DIR:-/tmp/secure-run-engines}/userns.
# - It runs in the host's network namespace with --iptables=false --ip-forward=false
#   (it writes no iptables rule and no sysctl: the default engine's chains stay as
#   they are) and, as its `bridge` network, a bridge this script makes, sr-userns0
#   (10.214.0.1/24; docker0 is the default engine's). Published ports are served by
#   docker-proxy on 127.0.0.1, as the examples need; the suites' internal networks come
#   from 10.214.64.0/18. No NAT rule exists for these bridges, so nothing on them has a
#   way out; and the default engine's FORWARD policy (DROP) applies to them as well.
# - `dockerd --userns-remap=default` creates the `dockremap` user and its /etc/subuid
#   and /etc/subgid ranges itself when they are missing; `up` does it first (useradd,
#   then the first free 65536 ids from 100000) so the ranges are known before start.
# - HTTP(S)_PROXY point at a closed loopback port: no pull can reach a registry.
# - `up` loads the test image (built on the default engine by
#   `python3 -m secure_run.testing` if missing) with `docker save | docker load`:
#   a remapped engine keeps its images under <data-root>/<uid>.<gid>.
# - `down` stops dockerd by its PID (SIGTERM, SIGKILL after 20 s), kills what is left
#   of its containers (their shims name its exec root), unmounts what is left under
#   the state folder, deletes the namespace and removes the folder.
set -euo pipefail

NAME=userns
STATE="${SECURE_RUN_ENGINES_DIR:-/tmp/secure-run-engines}/$NAME"
SOCK="$STATE/$NAME.sock"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"
BRIDGE=sr-userns0
BRIDGE_CIDR=10.214.0.1/24
POOL=base=10.214.64.0/18,size=24
CGROUP_PARENT=/sr-userns
TEST_IMAGE=secure-run-test/busybox:latest
DEAD_PROXY=http://127.0.0.1:9
START_TIMEOUT=60
STOP_TIMEOUT=20
PYTHON="${PYTHON:-python3}"
# shellcheck source=scripts/engines/lib.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

our_pid() { pid_in "$PIDFILE" dockerd; }

# 65536 subordinate ids for dockremap, starting at the first multiple of 65536 at or
# above 100000 that no line of FILE overlaps (what dockerd itself would do).
ensure_range() {
    local file="$1" start=100000 first count
    [ -f "$file" ] || : >"$file"
    grep -q '^dockremap:' "$file" && return 0
    while read -r first count; do
        if [ "$((first + count))" -gt "$start" ] && [ "$first" -lt "$((start + 65536))" ]; then
            start="$(((first + count + 65535) / 65536 * 65536))"
        fi
    done < <(awk -F: 'NF >= 3 { print $2, $3 }' "$file" | sort -n)
    echo "dockremap:$start:65536" >>"$file"
    say "added dockremap:$start:65536 to $file"
}

ensure_remap_user() {
    if ! getent passwd dockremap >/dev/null; then
        command -v useradd >/dev/null 2>&1 || die "useradd not found; create the user dockremap"
        useradd --system --no-create-home --shell /usr/sbin/nologin dockremap
        say "created the system user dockremap"
    fi
    ensure_range /etc/subuid
    ensure_range /etc/subgid
}

start_dockerd() {
    mkdir -p "$STATE/data" "$STATE/exec"
    [ -f "$STATE/daemon.json" ] || echo '{}' >"$STATE/daemon.json"
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
        --userns-remap=default \
        --bridge "$BRIDGE" \
        --iptables=false \
        --ip-forward=false \
        --default-address-pool "$POOL" \
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
    [ "$(id -u)" -eq 0 ] || die "needs root (dockerd, a bridge, /etc/subuid)"
    command -v dockerd >/dev/null 2>&1 || die "dockerd not found (apt-get install docker.io)"
    mkdir -p "$STATE"
    if our_pid >/dev/null && answers; then
        say "already up (dockerd $(our_pid))"
    else
        ensure_remap_user
        ensure_bridge
        start_dockerd
    fi
    edocker info --format '{{json .SecurityOptions}}' | grep -q 'name=userns' ||
        die "the engine at unix://$SOCK does not report name=userns"
    load_image
}

leftover_pids() {
    cat /sys/fs/cgroup/pids"$CGROUP_PARENT"/*/cgroup.procs 2>/dev/null || true
    state_pids 'containerd*'
}

cmd_down() {
    local pid waited=0 left dir
    if pid="$(our_pid)"; then
        # dockerd leaves the bridges of its own networks behind when it stops.
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
    for dir in /sys/fs/cgroup/*"$CGROUP_PARENT"; do
        [ -d "$dir" ] || continue
        find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    if [ -d "$STATE" ]; then
        unmount_state
        rm -rf "$STATE"
    fi
    remove_bridge
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
