#!/usr/bin/env bash
# Make sure a Docker Engine the tests can use answers on this machine, or stop the one
# this script started.
#
#   scripts/engine.sh ensure   install docker.io, busybox-static and gcc if missing
#                              (apt-get, needs root), then start dockerd if no engine
#                              answers; a daemon that already answers is left alone
#   scripts/engine.sh stop     stop the dockerd that `ensure` started (PID in the state
#                              dir); nothing else is ever stopped
#
# The daemon it starts has HTTP(S)_PROXY pointed at a closed loopback port, so any image
# pull fails at once instead of reaching a registry. State (pid file, log) lives in
# ${SECURE_RUN_STATE_DIR:-/tmp/secure-run-engine}.
set -euo pipefail

STATE="${SECURE_RUN_STATE_DIR:-/tmp/secure-run-engine}"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"
START_TIMEOUT=60
STOP_TIMEOUT=20
DEAD_PROXY=http://127.0.0.1:9

say() { printf 'engine.sh: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }

docker_answers() {
    command -v docker >/dev/null 2>&1 || return 1
    timeout 10 docker info >/dev/null 2>&1
}

# A busybox that can run in an empty image: /bin/busybox, linked statically.
have_static_busybox() {
    [ -x /bin/busybox ] || return 1
    command -v ldd >/dev/null 2>&1 || return 0
    local out
    out="$(LC_ALL=C ldd /bin/busybox 2>&1 || true)"
    [[ "$out" == *"not a dynamic executable"* || "$out" == *"statically linked"* ]]
}

# gcc that can link a static C program (needs libc.a from libc6-dev).
have_static_gcc() {
    command -v gcc >/dev/null 2>&1 || return 1
    local tmp rc=0
    tmp="$(mktemp -d)"
    printf 'int main(void) { return 0; }\n' >"$tmp/t.c"
    gcc -static -o "$tmp/t" "$tmp/t.c" >/dev/null 2>&1 || rc=1
    rm -rf "$tmp"
    return "$rc"
}

install_packages() {
    local packages=()
    # dockerd is only needed when no engine answers (DOCKER_HOST may name another one).
    if ! command -v docker >/dev/null 2>&1 ||
        { ! command -v dockerd >/dev/null 2>&1 && ! docker_answers; }; then
        packages+=(docker.io)
    fi
    have_static_busybox || packages+=(busybox-static)
    have_static_gcc || packages+=(gcc libc6-dev)
    [ "${#packages[@]}" -eq 0 ] && return 0

    say "missing: ${packages[*]}"
    if ! is_root; then
        if docker_answers; then
            say "warning: not root, so not installing ${packages[*]}; the test image" \
                "needs a static /bin/busybox (busybox-static) and gcc with libc6-dev"
            return 0
        fi
        die "needs root to install ${packages[*]} and start dockerd (run: sudo $0 ensure)"
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "apt-get not found; install ${packages[*]} (or equivalents) by hand"
    say "apt-get update && apt-get install -y ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${packages[@]}"
}

pid_is_our_dockerd() {
    local pid="$1"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]
}

start_dockerd() {
    is_root || die "no Docker Engine answers and starting dockerd needs root (run: sudo $0 ensure)"
    mkdir -p "$STATE"
    local pid
    if [ -f "$PIDFILE" ] && pid_is_our_dockerd "$(cat "$PIDFILE")"; then
        pid="$(cat "$PIDFILE")"
        say "dockerd $pid (started earlier) does not answer yet; waiting for it"
    else
        say "starting dockerd (log: $LOG)"
        : >"$LOG"
        # nohup and env exec, so $! is dockerd's own PID.
        nohup env HTTP_PROXY="$DEAD_PROXY" HTTPS_PROXY="$DEAD_PROXY" NO_PROXY= \
            http_proxy="$DEAD_PROXY" https_proxy="$DEAD_PROXY" no_proxy= \
            dockerd >>"$LOG" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$PIDFILE"
    fi

    local waited=0
    until docker_answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            say "dockerd (pid $pid) exited; last lines of $LOG:"
            tail -n 30 "$LOG" >&2 || true
            die "dockerd did not start"
        fi
        if [ "$waited" -ge "$START_TIMEOUT" ]; then
            say "dockerd (pid $pid) did not answer within ${START_TIMEOUT}s; last lines of $LOG:"
            tail -n 30 "$LOG" >&2 || true
            die "dockerd did not answer (it is still running; stop it with: $0 stop)"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    say "dockerd (pid $pid) answers"
}

cmd_ensure() {
    install_packages
    if docker_answers; then
        say "a Docker Engine already answers; leaving it alone"
        return 0
    fi
    start_dockerd
}

cmd_stop() {
    if [ ! -f "$PIDFILE" ]; then
        say "no $PIDFILE; nothing to stop"
        return 0
    fi
    local pid
    pid="$(cat "$PIDFILE")"
    if ! pid_is_our_dockerd "$pid"; then
        say "pid $pid from $PIDFILE is not a running dockerd; removing the stale pid file"
        rm -f "$PIDFILE"
        return 0
    fi
    say "stopping dockerd $pid"
    kill -TERM "$pid"
    local waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt "$((STOP_TIMEOUT * 10))" ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "dockerd $pid still running after ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    say "dockerd $pid stopped"
}

case "${1:-}" in
ensure) cmd_ensure ;;
stop) cmd_stop ;;
*)
    echo "usage: $0 ensure|stop" >&2
    exit 2
    ;;
esac
