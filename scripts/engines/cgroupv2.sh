#!/usr/bin/env bash
# The `cgroupv2` engine: Docker on pure cgroup v2, in a QEMU virtual machine under
# software emulation (TCG; this host's KVM cannot boot Debian's kernel).
#   scripts/engines/cgroupv2.sh up | down | env   (or scripts/engines.sh ... cgroupv2)
#
# - The guest root (Debian bookworm, docker.io, the host's /lib/modules for the Debian
#   kernel in /boot) is built once by cgroupv2/build.sh and cached under
#   ${SECURE_RUN_CACHE_DIR:-/var/cache/secure-run}/cgroupv2, keyed by the kernel version
#   and a hash of build.sh and init.sh; a second `up` only boots. Each boot writes a
#   qcow2 overlay in the state folder, so the cached image stays as built.
# - The guest boots with `cgroup_no_v1=all apparmor=0` and cgroupv2/init.sh as PID 1,
#   which runs dockerd in a child cgroup (see init.sh) listening on tcp 2375 inside.
# - The host reaches it ONLY through QEMU's user network with restrict=on (the guest has
#   no way out; only the forwarded port exists) forwarded to 127.0.0.1:PORT, and a unix
#   socket made by socat at $STATE/cgroupv2.sock (`-t 60`: with socat's default, a
#   `docker run`'s output was lost). The guest's dockerd has the dead proxy too.
# - The console is $STATE/console.log; `down` writes "poweroff" to the guest's second
#   serial port (a unix socket here), waits for QEMU to exit, and kills QEMU (through its
#   monitor, then by PID) and socat by PID if they are still there.
# - The guest is slow: `up` waits up to 10 minutes for the engine.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

NAME=cgroupv2
STATE="${SECURE_RUN_ENGINES_DIR:-/tmp/secure-run-engines}/$NAME"
CACHE="${SECURE_RUN_CACHE_DIR:-/var/cache/secure-run}/$NAME"
SOCK="$STATE/$NAME.sock"
QEMU_PIDFILE="$STATE/qemu.pid"
SOCAT_PIDFILE="$STATE/socat.pid"
PORTFILE="$STATE/port"
CONSOLE="$STATE/console.log"
CONTROL="$STATE/control.sock"
MONITOR="$STATE/monitor.sock"
GUEST_MEMORY="${SECURE_RUN_CGROUPV2_MEMORY:-2048}"
GUEST_CPUS="${SECURE_RUN_CGROUPV2_CPUS:-2}"
FIRST_PORT=23760
TEST_IMAGE=secure-run-test/busybox:latest
START_TIMEOUT=600
STOP_TIMEOUT=20
PYTHON="${PYTHON:-python3}"

# A docker call through the forwarded socket to the emulated guest can take a while.
ANSWER_TIMEOUT=20
# shellcheck source=scripts/engines/lib.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
# (lib.bash's pid_in and alive skip zombies: QEMU's daemonized process may be left
# unreaped by the process that started `up`.)

# The newest Debian kernel in /boot with its initrd and modules.
kernel_version() {
    local k v
    for k in $(printf '%s\n' /boot/vmlinuz-*-amd64 | sort -V -r); do
        v="${k#/boot/vmlinuz-}"
        if [ -f "/boot/initrd.img-$v" ] && [ -d "/lib/modules/$v" ]; then
            echo "$v"
            return 0
        fi
    done
    return 1
}

image_path() {
    local kver="$1" hash
    hash="$(cat "$here/$NAME/build.sh" "$here/$NAME/init.sh" | sha256sum | cut -c1-12)"
    echo "$CACHE/root-$kver-$hash.img"
}

ensure_image() {
    local kver="$1" img start
    img="$(image_path "$kver")"
    if [ -f "$img" ]; then
        say "cached guest root: $img"
    else
        mkdir -p "$CACHE"
        start=$SECONDS
        say "building the guest root (once; a few minutes): $img"
        "$here/$NAME/build.sh" "$kver" "$img" >&2
        say "guest root built in $((SECONDS - start))s"
        find "$CACHE" -maxdepth 1 -name 'root-*.img' ! -path "$img" -delete # older builds
    fi
    echo "$img"
}

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

free_port() {
    local port
    for port in $(seq "$FIRST_PORT" $((FIRST_PORT + 39))); do
        if ! port_in_use "$port"; then
            echo "$port"
            return 0
        fi
    done
    die "no free port in $FIRST_PORT-$((FIRST_PORT + 39)) on 127.0.0.1"
}

boot() {
    local kver="$1" img="$2" port="$3"
    rm -f "$STATE/overlay.qcow2" "$CONTROL" "$MONITOR"
    qemu-img create -q -f qcow2 -F raw -b "$img" "$STATE/overlay.qcow2"
    : >"$CONSOLE"
    qemu-system-x86_64 \
        -name "secure-run-$NAME" \
        -accel tcg,thread=multi -smp "$GUEST_CPUS" -m "$GUEST_MEMORY" \
        -kernel "/boot/vmlinuz-$kver" -initrd "/boot/initrd.img-$kver" \
        -append "console=ttyS0 root=/dev/vda rw panic=-1 net.ifnames=0 apparmor=0 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 init=/init.sh" \
        -drive "file=$STATE/overlay.qcow2,format=qcow2,if=virtio" \
        -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:2375" \
        -device virtio-net-pci,netdev=n0 \
        -device virtio-rng-pci \
        -display none -no-reboot \
        -serial "file:$CONSOLE" \
        -chardev "socket,id=ctl,path=$CONTROL,server=on,wait=off" \
        -device isa-serial,chardev=ctl \
        -monitor "unix:$MONITOR,server=on,wait=off" \
        -pidfile "$QEMU_PIDFILE" -daemonize
    say "qemu $(cat "$QEMU_PIDFILE") booting (console: $CONSOLE)"
}

# socat forks per connection and exits when a fork fails (EAGAIN on a host short of
# processes): a small loop restarts it. SOCAT_PIDFILE holds the loop's PID.
start_socat() {
    local port="$1"
    # shellcheck disable=SC2016 # expanded by the inner bash, from its environment
    SOCK="$SOCK" PORT="$port" LOG="$STATE/socat.log" setsid nohup bash -c '
        exec 9<> <(:)  # waits below with the read builtin: no fork for a sleep
        while :; do
            socat -t 60 "UNIX-LISTEN:$SOCK,fork,unlink-early" "TCP:127.0.0.1:$PORT" >>"$LOG" 2>&1
            read -r -t 1 -u 9 || true
        done' "$STATE/socat-loop" </dev/null >/dev/null 2>&1 &
    echo $! >"$SOCAT_PIDFILE"
}

wait_engine() {
    local start=$SECONDS
    until answers; do
        pid_in "$QEMU_PIDFILE" qemu >/dev/null || {
            tail -n 30 "$CONSOLE" >&2 || true
            die "qemu exited before the engine answered (console: $CONSOLE)"
        }
        if [ "$((SECONDS - start))" -ge "$START_TIMEOUT" ]; then
            tail -n 30 "$CONSOLE" >&2 || true
            die "the guest's dockerd did not answer within ${START_TIMEOUT}s (stop it with: $0 down)"
        fi
        sleep 2
    done
    say "the guest's dockerd answers at unix://$SOCK after $((SECONDS - start))s"
}

cmd_up() {
    local kver img port
    [ "$(id -u)" -eq 0 ] || die "needs root (the image build: debootstrap, chroot)"
    if ! command -v qemu-system-x86_64 >/dev/null 2>&1 || ! command -v socat >/dev/null 2>&1 ||
        ! command -v debootstrap >/dev/null 2>&1 || ! kernel_version >/dev/null 2>&1; then
        say "installing qemu-system-x86 linux-image-amd64 debootstrap socat (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86 linux-image-amd64 \
            debootstrap socat >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                qemu-system-x86 linux-image-amd64 debootstrap socat >/dev/null; } ||
            die "apt-get install qemu-system-x86 linux-image-amd64 debootstrap socat failed"
    fi
    for tool in qemu-system-x86_64 qemu-img socat debootstrap mkfs.ext4; do
        command -v "$tool" >/dev/null 2>&1 ||
            die "$tool not found (apt-get install qemu-system-x86 linux-image-amd64 debootstrap socat)"
    done
    kver="$(kernel_version)" ||
        die "no Debian kernel with its initrd and modules in /boot (apt-get install linux-image-amd64)"
    mkdir -p "$STATE"
    if pid_in "$QEMU_PIDFILE" qemu >/dev/null; then
        say "the guest is running (qemu $(pid_in "$QEMU_PIDFILE" qemu))"
        pid_in "$SOCAT_PIDFILE" bash >/dev/null || start_socat "$(cat "$PORTFILE")"
    else
        img="$(ensure_image "$kver")"
        port="$(free_port)"
        echo "$port" >"$PORTFILE"
        boot "$kver" "$img" "$port"
        pid_in "$SOCAT_PIDFILE" bash >/dev/null || start_socat "$port"
    fi
    wait_engine
    [ "$(edocker info --format '{{.CgroupVersion}}')" = 2 ] ||
        die "the guest's engine does not report cgroup version 2"
    if edocker info 2>&1 | grep -qi 'does not support swap limit'; then
        die "the guest's engine reports no swap limit support (dockerd in the root cgroup?)"
    fi
    load_image
}

cmd_down() {
    local pid waited=0 children
    if pid="$(pid_in "$QEMU_PIDFILE" qemu)"; then
        say "powering the guest off (qemu $pid)"
        if [ -S "$CONTROL" ]; then
            printf 'poweroff\n' | timeout 10 socat -u - "UNIX-CONNECT:$CONTROL" 2>/dev/null || true
        fi
        while alive "$pid" && [ "$waited" -lt "$((STOP_TIMEOUT * 2))" ]; do
            sleep 0.5
            waited=$((waited + 1))
        done
        if alive "$pid"; then
            say "the guest did not power off within ${STOP_TIMEOUT}s; quitting qemu $pid"
            printf 'quit\n' | timeout 10 socat -u - "UNIX-CONNECT:$MONITOR" 2>/dev/null || true
            sleep 2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    if [ -f "$CONSOLE" ]; then
        grep -a 'secure-run-guest:' "$CONSOLE" | tail -n 3 | sed 's/^/  guest: /' >&2 || true
    fi
    if pid="$(pid_in "$SOCAT_PIDFILE" bash)"; then
        say "stopping socat and its restart loop $pid"
        children="$(pgrep -P "$pid" -x socat | tr '\n' ' ' || true)"
        kill -TERM "$pid" 2>/dev/null || true
        # shellcheck disable=SC2086 # one PID per word
        [ -z "${children// /}" ] || kill -TERM $children 2>/dev/null || true
    fi
    rm -rf "$STATE"
    say "down"
}

cmd_env() {
    printf 'export SECURE_RUN_ENGINE_URL=%q\n' "unix://$SOCK"
    printf 'export SECURE_RUN_ENGINE_NAME=%q\n' "$NAME"
    printf 'export SECURE_RUN_ENGINE_SUITES=%q\n' "${SUITES[*]}"
}

# The suites run on this engine (all of them take too long under emulation).
SUITES=(
    tests/integration/test_cgroupv2.py
    tests/integration/test_presets_in_container.py
)

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
*)
    echo "usage: $0 up | down | env" >&2
    exit 2
    ;;
esac
