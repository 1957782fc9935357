#!/usr/bin/env bash
# A rootful Podman engine of the project's own, beside (never instead of) the default Docker
# Engine: its own containers.conf, storage.conf and registries.conf, its own graph root, run
# root and tmp dir, all under one state directory, so no system podman state and no dockerd
# is touched. Used by the `podman kube play` tests (tests/kubernetes/test_podman_play.py).
#
#   scripts/podman.sh up     install podman and catatonit if missing, write the config, load
#                            the test image, start the Docker-compatible API service
#   scripts/podman.sh env    print the exports the tests read (eval "$(scripts/podman.sh env)")
#   scripts/podman.sh down   stop the service by its PID, unmount and remove the state dir
#
# What works on these machines (docs/cluster-podman-findings.md, engines.md "Podman 4.3.1"):
# runc, not crun ("cgroups in hybrid mode not supported"); the cgroupfs manager and the file
# events logger (no systemd here); nofile and nproc ulimits at or below this machine's hard
# limits, because Podman's rootful default for both is 1048576 and root here cannot raise a
# hard limit ("error setting rlimit type 6: operation not permitted"). kube play has no
# --ulimit: `[containers] default_ulimits` is what reaches a played pod's containers.
# No image is ever pulled: the registries list is empty, the proxy is a dead port, and the
# test image comes from the default engine by `docker save | podman load`.
set -euo pipefail

STATE="${SECURE_RUN_PODMAN_DIR:-/tmp/secure-run-podman}"
SOCK="$STATE/podman.sock"
PIDFILE="$STATE/service.pid"
IMAGE="secure-run-test/busybox:latest"
# The one path outside the state dir Podman writes to: c/image's blob-info cache of root,
# fixed at /var/lib/containers/cache (no setting moves it). `up` notes whether it made it,
# and `down` removes it only then.
BLOB_CACHE_PARENT=/var/lib/containers
# The cgroupfs manager puts every pod under libpod_parent in each hierarchy; Podman 4.3.1
# removes a pod's cgroup from the controller hierarchies but leaves it, empty, in the named
# (name=systemd) and unified ones, and leaves libpod_parent everywhere. `down` removes them
# (rmdir, so only an empty cgroup goes) if `up` made libpod_parent.
CGROUP_PARENT=libpod_parent
ULIMIT_WANTED=1024
# What scripts/engines/podman.sh (which sources this file) changes; the defaults are the
# kube-play engine's: no network but none, and no CNI plugin to build one with.
PODMAN_NETNS="${PODMAN_NETNS:-none}"
PODMAN_CNI_PLUGIN_DIR="${PODMAN_CNI_PLUGIN_DIR:-$STATE/no-cni-plugins}"
# Lines added at the end of [engine] (e.g. an [engine.runtimes] table); none by default.
PODMAN_ENGINE_EXTRA="${PODMAN_ENGINE_EXTRA:-}"

# shellcheck source=scripts/engines/lib.bash
. "$(dirname "${BASH_SOURCE[0]}")/engines/lib.bash" # for unmount_state; its die is replaced
die() { echo "podman.sh: $*" >&2; exit 1; }
log() { echo "podman.sh: $*" >&2; }

config_env() {
    export CONTAINERS_CONF="$STATE/containers.conf"
    export CONTAINERS_STORAGE_CONF="$STATE/storage.conf"
    export CONTAINERS_REGISTRIES_CONF="$STATE/registries.conf"
    export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
    export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9
    export NO_PROXY='' no_proxy=''
}

install_missing() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v catatonit >/dev/null || missing+=(catatonit)
    command -v runc >/dev/null || missing+=(runc)
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local start=$SECONDS
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        "${missing[@]}" >/dev/null
    log "installed in $((SECONDS - start)) s"
}

# The lower of what we want and this shell's hard limit (`ulimit -H -n` / `-u`).
capped() {
    local hard="$1"
    if [ "$hard" = unlimited ] || [ "$hard" -ge "$ULIMIT_WANTED" ]; then
        echo "$ULIMIT_WANTED"
    else
        echo "$hard"
    fi
}

write_config() {
    mkdir -p "$STATE"/{root,run,tmp,volumes,networks,no-cni-plugins}
    chmod 0700 "$STATE"
    local nofile nproc
    nofile="$(capped "$(ulimit -H -n)")"
    nproc="$(capped "$(ulimit -H -u)")"
    cat >"$STATE/containers.conf" <<EOF
# Written by scripts/podman.sh: this engine's own configuration (CONTAINERS_CONF).
[containers]
# Podman's rootful default for both is 1048576, above this machine's hard limits.
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

# The kube-play engine: no network but none, so a pod played without --network fails
# instead of getting a bridge (netavark would also write iptables chains into the host's
# own tables); the CNI backend with an empty plugin directory has no plugin to build any
# network with. (scripts/engines/podman.sh: a bridge of its own, with no iptables rule.)
netns = "$PODMAN_NETNS"

[network]
network_backend = "cni"
network_config_dir = "$STATE/networks"
cni_plugin_dirs = ["$PODMAN_CNI_PLUGIN_DIR"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$STATE/tmp/events.log"
tmp_dir = "$STATE/tmp"
static_dir = "$STATE/root/libpod"
volume_path = "$STATE/volumes"
image_copy_tmp_dir = "$STATE/tmp"
$PODMAN_ENGINE_EXTRA
EOF
    cat >"$STATE/storage.conf" <<EOF
# Written by scripts/podman.sh: this engine's own storage (CONTAINERS_STORAGE_CONF).
[storage]
driver = "overlay"
graphroot = "$STATE/root"
runroot = "$STATE/run"
EOF
    cat >"$STATE/registries.conf" <<EOF
# Written by scripts/podman.sh: no registry; a short name resolves to a local image only.
unqualified-search-registries = []
EOF
}

service_pid() {
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

wait_for_service() {
    local _
    for _ in $(seq 1 100); do
        if podman --url "unix://$SOCK" version >/dev/null 2>&1; then return 0; fi
        [ -n "$(service_pid)" ] || break
        sleep 0.1
    done
    cat "$STATE/service.log" >&2 2>/dev/null || true
    die "the API service did not answer on $SOCK"
}

load_image() {
    if podman image exists "$IMAGE"; then return 0; fi
    if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
        log "building $IMAGE on the default engine"
        python3 -m secure_run.testing >/dev/null
    fi
    docker save "$IMAGE" | podman load -q >/dev/null
}

cmd_up() {
    [ "$(id -u)" = 0 ] || die "needs root (a rootful engine)"
    local start=$SECONDS
    install_missing
    write_config
    config_env
    if [ ! -e "$BLOB_CACHE_PARENT" ]; then touch "$STATE/made-blob-cache"; fi
    if ! compgen -G "/sys/fs/cgroup/*/$CGROUP_PARENT" >/dev/null; then
        touch "$STATE/made-cgroup-parent"
    fi
    load_image
    if [ -z "$(service_pid)" ]; then
        rm -f "$SOCK"
        # setsid: the service leaves the caller's process group, so a ^C in `make` is not
        # delivered to it; `down` stops it by the PID recorded here. It starts in its state
        # folder: conmon inherits the folder and writes a file named `oom` into its working
        # folder when a container is OOM-killed (it littered the caller's checkout).
        cd "$STATE"
        setsid podman system service --time=0 "unix://$SOCK" \
            >"$STATE/service.log" 2>&1 </dev/null &
        echo "$!" >"$PIDFILE"
        cd - >/dev/null
    fi
    wait_for_service
    log "up in $((SECONDS - start)) s: $(podman --version), service pid $(service_pid)"
    cmd_env
}

cmd_env() {
    [ -f "$STATE/containers.conf" ] || die "not up (no $STATE/containers.conf)"
    local env_prefix="CONTAINERS_CONF=$STATE/containers.conf"
    env_prefix+=" CONTAINERS_STORAGE_CONF=$STATE/storage.conf"
    env_prefix+=" CONTAINERS_REGISTRIES_CONF=$STATE/registries.conf"
    env_prefix+=" HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9"
    echo "export SECURE_RUN_PODMAN=unix://$SOCK"
    echo "export SECURE_RUN_PODMAN_CMD='env $env_prefix podman'"
}

cmd_down() {
    [ -d "$STATE" ] || { log "nothing to do ($STATE is absent)"; return 0; }
    config_env
    if [ -f "$STATE/containers.conf" ] && command -v podman >/dev/null; then
        podman pod rm --all --force >/dev/null 2>&1 || true
        podman rm --all --force >/dev/null 2>&1 || true
        podman volume rm --all --force >/dev/null 2>&1 || true
    fi
    local pid
    pid="$(service_pid)"
    if [ -n "$pid" ]; then
        kill -TERM "$pid"
        local _
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
        log "stopped the API service (pid $pid)"
    fi
    # A mount can be stacked (the storage's bind mount of its overlay folder on itself was
    # left twice once, and rm -rf then failed with 'Device or resource busy').
    unmount_state
    if [ -e "$STATE/made-blob-cache" ]; then
        rm -rf "$BLOB_CACHE_PARENT/cache"
        rmdir "$BLOB_CACHE_PARENT" 2>/dev/null || true
    fi
    if [ -e "$STATE/made-cgroup-parent" ]; then
        local dir
        for dir in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
            [ -d "$dir" ] || continue
            find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || log "left $dir (in use)"
        done
    fi
    rm -rf "$STATE"
    log "removed $STATE"
}

# Sourced (by scripts/engines/podman.sh): define the functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    env) cmd_env ;;
    *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
