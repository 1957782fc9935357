#!/usr/bin/env bash
# The `rootless` engine: Docker's rootless mode (dockerd-rootless.sh and rootlesskit) run
# as an unprivileged user, beside the default engine.
#     scripts/engines/rootless.sh up | down | env   (or scripts/engines.sh ... rootless)
#
# - The user is sr-rootless (a system user this script creates), with 65536 subordinate
#   ids in /etc/subuid and /etc/subgid at the first multiple of 65536 from 165536 that no
#   line overlaps: never dockremap's 100000:65536 (the `userns` engine), even when that
#   engine has not written it yet.
# - Everything is under ${SECURE_RUN_ENGINES_DIR:-/tmp/secure-run-engines}/rootless, a
#   folder the user owns: the socket (root, who runs the suites, reads it as any file),
#   HOME, XDG_RUNTIME_DIR, the data root, the exec root, the pid file and an empty config
#   file (no daemon.json of the host or of a HOME is read).
# - rootlesskit gives dockerd a user, mount and network namespace of its own: it changes
#   nothing in the host's network namespace (--bridge=none --iptables=false, and no
#   iptables or sysctl in the host's). Its network namespace reaches the host only through
#   slirp4netns, started here by a wrapper with --outbound-addr=127.0.0.1 (a connection
#   out can only come from loopback, so it reaches nothing), --disable-host-loopback
#   (nor the host's loopback services) and --disable-dns: the namespace has no way out.
#   Internal networks work (dockerd owns that namespace); published ports do not leave it.
# - HTTP(S)_PROXY point at a closed loopback port: no pull can reach a registry.
# - On this cgroup v1 host the engine has no cgroups (docker info: Cgroup Driver none):
#   memory, CPU and pids limits are accepted and silently not applied. secure_run refuses
#   them there unless the config opts in with 'unenforced-limits' (env exports
#   SECURE_RUN_TEST_OPT_INS for the suites).
# - `up` installs rootlesskit, uidmap, slirp4netns and acl (apt-get) when missing, grants
#   the user /dev/net/tun by an ACL where the node is 0600 (`down` removes it), and loads
#   the test image (built on the default engine by `python3 -m secure_run.testing` if
#   missing) with docker save|load.
# - `down` stops dockerd by its PID (SIGTERM, SIGKILL after 20 s), then rootlesskit by
#   its PID, then any process left running as sr-rootless (the user runs nothing else),
#   and removes the folder. The user and its id ranges stay, as dockremap's do.
set -euo pipefail

NAME=rootless
ENGINES="${SECURE_RUN_ENGINES_DIR:-/tmp/secure-run-engines}"
STATE="$ENGINES/$NAME"
SOCK="$STATE/$NAME.sock"
PIDFILE="$STATE/dockerd.pid"
KITPIDFILE="$STATE/rootlesskit.pid"
LOG="$STATE/dockerd.log"
RUSER=sr-rootless
CONTRIB=/usr/share/docker.io/contrib
TEST_IMAGE=secure-run-test/busybox:latest
DEAD_PROXY=http://127.0.0.1:9
OPT_IN=unenforced-limits
START_TIMEOUT=60
STOP_TIMEOUT=20
PYTHON="${PYTHON:-python3}"
# shellcheck source=scripts/engines/lib.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

our_pid() { pid_in "$PIDFILE" dockerd; }

# 65536 subordinate ids for USER in FILE, at the first multiple of 65536 from 165536
# that no line of FILE overlaps (100000:65536 is kept for dockremap either way).
ensure_range() {
    local file="$1" start=165536 first count
    [ -f "$file" ] || : >"$file"
    grep -q "^$RUSER:" "$file" && return 0
    while read -r first count; do
        if [ "$((first + count))" -gt "$start" ] && [ "$first" -lt "$((start + 65536))" ]; then
            start="$(((first + count + 65535) / 65536 * 65536))"
        fi
    done < <(awk -F: 'NF >= 3 { print $2, $3 }' "$file" | sort -n)
    echo "$RUSER:$start:65536" >>"$file"
    say "added $RUSER:$start:65536 to $file"
}

ensure_user() {
    if ! getent passwd "$RUSER" >/dev/null; then
        command -v useradd >/dev/null 2>&1 || die "useradd not found; create the user $RUSER"
        useradd --system --user-group --no-create-home --home-dir "$STATE/home" \
            --shell /usr/sbin/nologin "$RUSER"
        say "created the system user $RUSER"
    fi
    ensure_range /etc/subuid
    ensure_range /etc/subgid
}

ensure_tools() {
    command -v dockerd >/dev/null 2>&1 || die "dockerd not found (apt-get install docker.io)"
    [ -x "$CONTRIB/dockerd-rootless.sh" ] || die "$CONTRIB/dockerd-rootless.sh not found (docker.io)"
    local missing=() tool pkg
    for tool in newuidmap:uidmap slirp4netns:slirp4netns rootlesskit:rootlesskit setfacl:acl; do
        pkg="${tool#*:}" tool="${tool%%:*}"
        command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing ${missing[*]} (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
            "${missing[@]}" >/dev/null
    fi
}

# slirp4netns opens /dev/net/tun as the user; where the node is 0600 (Debian's udev makes
# it 0666, a bare devtmpfs does not) the user alone is granted it, by an ACL that `down`
# removes.
grant_tun() {
    [ -c /dev/net/tun ] || die "/dev/net/tun not found (slirp4netns needs the tun module)"
    setpriv --reuid="$(id -u "$RUSER")" --regid="$(id -g "$RUSER")" --clear-groups \
        sh -c ': <>/dev/net/tun' 2>/dev/null && return 0
    setfacl -m "u:$RUSER:rw" /dev/net/tun
    say "granted $RUSER rw on /dev/net/tun (ACL)"
}

# The folders, owned by the user; slirp4netns behind a wrapper that gives it no way out.
make_state() {
    local uid gid
    uid="$(id -u "$RUSER")" gid="$(id -g "$RUSER")"
    mkdir -p "$ENGINES"
    install -d -o "$uid" -g "$gid" -m 0755 "$STATE"
    install -d -o "$uid" -g "$gid" -m 0700 "$STATE/home" "$STATE/run" "$STATE/data" "$STATE/exec"
    install -d -o root -g root -m 0755 "$STATE/bin"
    cat >"$STATE/bin/slirp4netns" <<'EOF'
#!/bin/sh
# slirp4netns with no way out of the namespace: outbound connections bound to loopback,
# no host loopback, no DNS forwarder (written by scripts/engines/rootless.sh).
exec /usr/bin/slirp4netns --outbound-addr=127.0.0.1 --disable-host-loopback --disable-dns "$@"
EOF
    chmod 0755 "$STATE/bin/slirp4netns"
    [ -f "$STATE/daemon.json" ] || echo '{}' >"$STATE/daemon.json"
    chmod 0644 "$STATE/daemon.json"
    install -o "$uid" -g "$gid" -m 0644 /dev/null "$LOG"
}

start_dockerd() {
    local uid gid
    uid="$(id -u "$RUSER")" gid="$(id -g "$RUSER")"
    make_state
    # setsid: it outlives this script; setpriv and env exec, so $! is rootlesskit itself.
    setsid nohup setpriv --reuid="$uid" --regid="$gid" --init-groups \
        env -i HOME="$STATE/home" XDG_RUNTIME_DIR="$STATE/run" USER="$RUSER" \
        PATH="$CONTRIB:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
        HTTP_PROXY="$DEAD_PROXY" HTTPS_PROXY="$DEAD_PROXY" NO_PROXY= \
        http_proxy="$DEAD_PROXY" https_proxy="$DEAD_PROXY" no_proxy= \
        DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns \
        DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS="--slirp4netns-binary=$STATE/bin/slirp4netns" \
        "$CONTRIB/dockerd-rootless.sh" \
        --config-file "$STATE/daemon.json" \
        --host "unix://$SOCK" \
        --data-root "$STATE/data" \
        --exec-root "$STATE/exec" \
        --pidfile "$PIDFILE" \
        --bridge=none \
        --iptables=false \
        --ip-forward=false \
        >>"$LOG" 2>&1 </dev/null &
    local pid=$! waited=0
    echo "$pid" >"$KITPIDFILE"
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$LOG" >&2 || true
            die "rootless dockerd exited at start (log: $LOG)"
        fi
        if [ "$waited" -ge "$((START_TIMEOUT * 5))" ]; then
            tail -n 20 "$LOG" >&2 || true
            die "dockerd did not answer within ${START_TIMEOUT}s (log: $LOG; stop it with: $0 down)"
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    say "rootless dockerd $(our_pid || echo '?') (rootlesskit $pid) answers at unix://$SOCK"
}

cmd_up() {
    [ "$(id -u)" -eq 0 ] || die "needs root (a user, /etc/subuid, apt-get)"
    ensure_tools
    if our_pid >/dev/null && answers; then
        say "already up (dockerd $(our_pid))"
    else
        ensure_user
        grant_tun
        start_dockerd
    fi
    edocker info --format '{{json .SecurityOptions}}' | grep -q 'name=rootless' ||
        die "the engine at unix://$SOCK does not report name=rootless"
    load_image
}

# Stop PID with SIGTERM, then SIGKILL after STOP_TIMEOUT seconds.
stop_pid() {
    local pid="$1" what="$2" waited=0
    say "stopping $what $pid"
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt "$((STOP_TIMEOUT * 10))" ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$what $pid still running after ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

# Processes running as the engine's user (it runs nothing but this engine).
user_pids() {
    local uid
    uid="$(id -u "$RUSER" 2>/dev/null)" || return 0
    ps -e -o pid=,uid= | awk -v uid="$uid" '$2 == uid { print $1 }'
}

cmd_down() {
    local pid left
    if pid="$(our_pid)"; then
        stop_pid "$pid" dockerd
    fi
    if pid="$(pid_in "$KITPIDFILE" rootlesskit)"; then
        stop_pid "$pid" rootlesskit
    fi
    left="$(user_pids | tr '\n' ' ')"
    if [ -n "${left// /}" ]; then
        say "killing what is left running as $RUSER: $left"
        # shellcheck disable=SC2086 # one PID per word
        kill -KILL $left 2>/dev/null || true
        sleep 0.5
    fi
    if getent passwd "$RUSER" >/dev/null && command -v getfacl >/dev/null 2>&1 &&
        getfacl -p /dev/net/tun 2>/dev/null | grep -q "^user:$RUSER:"; then
        setfacl -x "u:$RUSER" /dev/net/tun || true
    fi
    if [ -d "$STATE" ]; then
        findmnt -rn -o TARGET | grep -qF -- "$STATE/" && die "still mounted under $STATE"
        rm -rf "$STATE"
    fi
    say "down"
}

cmd_env() {
    printf 'export SECURE_RUN_ENGINE_URL=%q\n' "unix://$SOCK"
    printf 'export SECURE_RUN_ENGINE_NAME=%q\n' "$NAME"
    printf 'export SECURE_RUN_TEST_OPT_INS=%q\n' "$OPT_IN"
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
