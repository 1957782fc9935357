#!/usr/bin/env bash
# A real three-node Docker Swarm on this machine, for tests (tests/swarm) and benchmarks.
#
#   scripts/swarm.sh up            start 3 dockerd nodes and form a swarm of 1 manager and
#                                  2 workers; says so and exits 0 when it is already up
#   scripts/swarm.sh down          remove everything `up` made; safe when nothing is up
#   scripts/swarm.sh env           print the exports for tests:
#                                    eval "$(scripts/swarm.sh env)"
#   scripts/swarm.sh status        the nodes as the manager sees them
#   scripts/swarm.sh kill-node N   kill -9 node N's dockerd (its containerd dies with it;
#                                  its task containers keep running, orphaned)
#   scripts/swarm.sh start-node N  start node N's dockerd again with the same flags and
#                                  wait until the manager sees it Ready
#
# Needs root, Debian's dockerd (docker.io), iproute2 and nsenter. Each node is a dockerd in
# a network namespace of its own (sr-swarm-1..3), started with `nsenter --net=...` (`ip
# netns exec` remounts /sys, and dockerd then fails: "Devices cgroup isn't mounted"). The
# nodes' veths meet on a bridge in a hub namespace (sr-swarm-hub): a bridge in the root
# namespace drops their traffic, since the default engine sets FORWARD to DROP. The nodes
# use 10.213.0.0/16 and nothing else (the links, each node's address pool, the swarm's
# overlay pool); the namespaces have no route out, and each dockerd has HTTP(S)_PROXY set
# to a closed loopback port, so nothing is ever pulled or sent off the machine.
#
# Every node runs with:
#   --no-new-privileges  the daemon sets no-new-privileges on every container. Engine API
#                        1.41 has no service field for it, so this is how a task gets it
#                        (env prints SECURE_RUN_SWARM_NNP=1).
#   --bridge=none        no default bridge: a task whose service names no network gets
#                        only `lo` (env prints SECURE_RUN_SWARM_BRIDGE=none). dockerd
#                        refuses --bip together with --bridge, so there is no --bip.
# and its own socket, --data-root, --exec-root, --pidfile, --default-address-pool,
# --cgroup-parent (/sr-swarm-nodeN) and an empty --config-file. The swarm is formed with
# --dispatcher-heartbeat 1s, so a killed node is marked Down in seconds. All nodes share
# the hostname, so each carries the node label sr-node=N.
#
# The default engine is never touched; only the test image is read from it (`docker
# save`, after building it with `python3 -m secure_run.testing` if it is missing).
# State (sockets, logs, data roots) lives in ${SECURE_RUN_SWARM_DIR:-/tmp/secure-run-swarm}.
set -euo pipefail

STATE="${SECURE_RUN_SWARM_DIR:-/tmp/secure-run-swarm}"
PYTHON="${PYTHON:-python3}"
NODES=(1 2 3)
HUB_NS=sr-swarm-hub
PRIVATE=10.213.0.0/16 # everything the swarm uses, and only inside its namespaces
SWARM_POOL=10.213.128.0/17
NODE_CGROUP_PREFIX=sr-swarm-node
TEST_IMAGE=secure-run-test/busybox:latest
MARKER=.secure-run-swarm
DEAD_PROXY=http://127.0.0.1:9
START_TIMEOUT=60
STOP_TIMEOUT=20
declare -A STARTED=() # node -> PID of the dockerd this run of the script started

# unmount_state from the engine scripts' library (which reads STATE); say, die and
# load_image are this script's own, defined below over the library's.
# shellcheck source=scripts/engines/lib.bash
. "$(dirname "${BASH_SOURCE[0]}")/engines/lib.bash"

say() { printf 'swarm.sh: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

node_ns() { echo "sr-swarm-$1"; }
node_ip() { echo "10.213.0.$((10 + $1))"; }
node_dir() { echo "$STATE/node$1"; }
node_sock() { echo "$STATE/node$1.sock"; }
node_pidfile() { echo "$STATE/node$1/dockerd.pid"; }
node_pool() { echo "10.213.$((16 * $1)).0/20"; } # node 1: 10.213.16.0/20, ... node 3: .48.0/20
ndocker() {
    local n="$1"
    shift
    docker -H "unix://$(node_sock "$n")" "$@"
}

need_root() { [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, dockerd)"; }

check_state_path() {
    case "$STATE" in
    /*/*) ;;
    *) die "SECURE_RUN_SWARM_DIR must be an absolute path below a folder, not '$STATE'" ;;
    esac
}

pid_of_node() {
    local pid
    pid="$(cat "$(node_pidfile "$1")" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
    # Ours only: a dockerd whose command line names this node's socket.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(node_sock "$1")" || return 1
    echo "$pid"
}

# Running and not a zombie (PID 1 may be slow to reap a killed node's dockerd and containerd).
pid_running() {
    kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# After kill -9, the pid files name dead or zombie processes, which dockerd takes for a
# running daemon ("pid file found, ensure docker is not running") or a running containerd.
remove_stale_pidfiles() {
    local n="$1" file pid
    for file in "$(node_pidfile "$n")" "$(node_dir "$n")/exec/containerd/containerd.pid"; do
        [ -f "$file" ] || continue
        pid="$(cat "$file" 2>/dev/null || true)"
        if [[ "$pid" =~ ^[0-9]+$ ]] && pid_running "$pid" &&
            tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(node_dir "$n")/"; then
            continue
        fi
        rm -f "$file"
    done
}

node_answers() { timeout 10 docker -H "unix://$(node_sock "$1")" version >/dev/null 2>&1; }

# ---------------------------------------------------------------- network

setup_network() {
    if ip -o addr show | grep -q ' 10\.213\.' || ip route show | grep -q '^10\.213\.'; then
        die "the root network namespace already uses $PRIVATE; refusing to use it for the swarm"
    fi
    ip netns add "$HUB_NS"
    ip -n "$HUB_NS" link set lo up
    ip -n "$HUB_NS" link add br0 type bridge
    ip -n "$HUB_NS" link set br0 up
    local n ns
    for n in "${NODES[@]}"; do
        ns="$(node_ns "$n")"
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        # Both ends are made inside the namespaces: no veth ever appears in the root one.
        ip -n "$HUB_NS" link add "v$n" type veth peer name eth0 netns "$ns"
        ip -n "$HUB_NS" link set "v$n" master br0 up
        ip -n "$ns" addr add "$(node_ip "$n")/24" dev eth0
        ip -n "$ns" link set eth0 up
    done
}

teardown_network() {
    local ns
    for ns in "$(node_ns 1)" "$(node_ns 2)" "$(node_ns 3)" "$HUB_NS"; do
        if [ -e "/var/run/netns/$ns" ]; then
            ip netns del "$ns" || say "warning: could not delete namespace $ns"
        fi
    done
}

# ---------------------------------------------------------------- nodes

start_node() {
    local n="$1" dir ns pid
    dir="$(node_dir "$n")"
    ns="$(node_ns "$n")"
    [ -e "/var/run/netns/$ns" ] || die "namespace $ns is missing (run: $0 up)"
    if pid="$(pid_of_node "$n")"; then
        say "node $n: dockerd $pid is already running"
        return 0
    fi
    mkdir -p "$dir/data" "$dir/exec"
    remove_stale_pidfiles "$n"
    [ -f "$dir/daemon.json" ] || echo '{}' >"$dir/daemon.json"
    # setsid: the nodes outlive this script and ignore the terminal's Ctrl-C; env and
    # nsenter exec, so the process is dockerd itself, which writes its own pid file.
    setsid nohup env HTTP_PROXY="$DEAD_PROXY" HTTPS_PROXY="$DEAD_PROXY" NO_PROXY= \
        http_proxy="$DEAD_PROXY" https_proxy="$DEAD_PROXY" no_proxy= \
        DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
        nsenter --net="/var/run/netns/$ns" \
        dockerd \
        --config-file "$dir/daemon.json" \
        --host "unix://$(node_sock "$n")" \
        --data-root "$dir/data" \
        --exec-root "$dir/exec" \
        --pidfile "$(node_pidfile "$n")" \
        --bridge none \
        --default-address-pool "base=$(node_pool "$n"),size=24" \
        --cgroup-parent "/$NODE_CGROUP_PREFIX$n" \
        --no-new-privileges \
        >>"$dir/dockerd.log" 2>&1 </dev/null &
    STARTED[$n]=$!
}

wait_node() {
    local n="$1" waited=0
    until node_answers "$n"; do
        if [ -n "${STARTED[$n]:-}" ] && ! pid_running "${STARTED[$n]}"; then
            tail -n 20 "$(node_dir "$n")/dockerd.log" >&2 || true
            die "node $n: dockerd exited at start (log: $(node_dir "$n")/dockerd.log)"
        fi
        if [ "$waited" -ge "$((START_TIMEOUT * 5))" ]; then
            tail -n 20 "$(node_dir "$n")/dockerd.log" >&2 || true
            die "node $n did not answer within ${START_TIMEOUT}s (log: $(node_dir "$n")/dockerd.log)"
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
}

# The processes in node N's containers (cgroup parent /sr-swarm-nodeN), and its
# containerd and shims (their command lines name its exec root).
node_leftover_pids() {
    local n="$1" proc
    cat /sys/fs/cgroup/pids/"$NODE_CGROUP_PREFIX$n"/*/cgroup.procs 2>/dev/null || true
    for proc in /proc/[0-9]*; do
        [[ "$(cat "$proc/comm" 2>/dev/null)" == containerd* ]] || continue
        tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -qF -- "$(node_dir "$n")/exec/" &&
            echo "${proc#/proc/}"
    done
    return 0
}

stop_nodes() {
    local n pid pids=() waited=0
    for n in "${NODES[@]}"; do
        if pid="$(pid_of_node "$n")"; then
            say "node $n: stopping dockerd $pid"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    while [ "${#pids[@]}" -gt 0 ]; do
        local alive=()
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive+=("$pid")
        done
        pids=("${alive[@]+"${alive[@]}"}")
        [ "${#pids[@]}" -eq 0 ] && break
        if [ "$waited" -ge "$((STOP_TIMEOUT * 10))" ]; then
            say "dockerd ${pids[*]} still running after ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "${pids[@]}" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    # A node killed earlier (kill-node) leaves its containers and shims running.
    for n in "${NODES[@]}"; do
        local left
        left="$(node_leftover_pids "$n" | sort -u | tr '\n' ' ')"
        if [ -n "${left// /}" ]; then
            say "node $n: killing leftover container processes and shims: $left"
            # shellcheck disable=SC2086 # one PID per word
            kill -KILL $left 2>/dev/null || true
        fi
    done
}

remove_node_cgroups() {
    local n dir
    for n in "${NODES[@]}"; do
        for dir in /sys/fs/cgroup/*/"$NODE_CGROUP_PREFIX$n"; do
            [ -d "$dir" ] || continue
            # Only empty groups go; rmdir refuses one that still has processes.
            find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
        done
    done
}

# ---------------------------------------------------------------- swarm

load_image() {
    if ! docker image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
        say "building $TEST_IMAGE on the default engine ($PYTHON -m secure_run.testing)"
        "$PYTHON" -m secure_run.testing >/dev/null
    fi
    docker save "$TEST_IMAGE" -o "$STATE/image.tar"
    local n pids=()
    for n in "${NODES[@]}"; do
        ndocker "$n" load -q -i "$STATE/image.tar" >/dev/null &
        pids+=($!)
    done
    for n in "${pids[@]}"; do wait "$n"; done
}

form_swarm() {
    local ip1 token n id
    ip1="$(node_ip 1)"
    ndocker 1 swarm init --advertise-addr "$ip1" --listen-addr "$ip1:2377" \
        --default-addr-pool "$SWARM_POOL" --default-addr-pool-mask-length 24 \
        --dispatcher-heartbeat 1s >/dev/null
    token="$(ndocker 1 swarm join-token -q worker)"
    for n in "${NODES[@]:1}"; do
        ndocker "$n" swarm join --advertise-addr "$(node_ip "$n")" \
            --listen-addr "$(node_ip "$n"):2377" --token "$token" "$ip1:2377" >/dev/null
    done
    for n in "${NODES[@]}"; do
        id="$(ndocker "$n" info --format '{{.Swarm.NodeID}}')"
        ndocker 1 node update --label-add "sr-node=$n" "$id" >/dev/null
    done
}

ready_count() {
    ndocker 1 node ls --format '{{.Status}}' 2>/dev/null | grep -c '^Ready$' || true
}

wait_ready() {
    local waited=0
    until [ "$(ready_count)" -eq "${#NODES[@]}" ]; do
        [ "$waited" -lt "$((START_TIMEOUT * 5))" ] || die "the swarm has not 3 Ready nodes"
        sleep 0.2
        waited=$((waited + 1))
    done
}

is_up() {
    local n
    for n in "${NODES[@]}"; do node_answers "$n" || return 1; done
    [ "$(ready_count)" -eq "${#NODES[@]}" ]
}

print_sockets() {
    local n
    for n in "${NODES[@]}"; do
        printf 'node %s (%s, %s): unix://%s\n' "$n" "$([ "$n" = 1 ] && echo manager || echo worker)" \
            "$(node_ip "$n")" "$(node_sock "$n")"
    done
    echo "for tests: eval \"\$($0 env)\""
}

# ---------------------------------------------------------------- commands

cmd_up() {
    need_root
    check_state_path
    if [ -f "$STATE/$MARKER" ]; then
        if is_up; then
            say "the swarm is already up"
            print_sockets
            return 0
        fi
        die "$STATE holds a swarm that is not fully up; run: $0 down, then $0 up"
    fi
    if ip netns list | grep -q '^sr-swarm-'; then
        die "namespaces sr-swarm-* exist without $STATE/$MARKER; run: $0 down"
    fi
    command -v dockerd >/dev/null || die "dockerd not found (apt-get install docker.io)"
    mkdir -p "$STATE"
    touch "$STATE/$MARKER"
    setup_network
    local n
    for n in "${NODES[@]}"; do start_node "$n"; done
    for n in "${NODES[@]}"; do wait_node "$n"; done
    load_image
    form_swarm
    wait_ready
    say "the swarm is up: 1 manager, 2 workers"
    print_sockets
}

cmd_down() {
    need_root
    check_state_path
    if [ -e "$STATE" ] && [ ! -f "$STATE/$MARKER" ]; then
        die "$STATE exists but was not made by this script ($MARKER missing); not touching it"
    fi
    [ -d "$STATE" ] && stop_nodes
    [ -d "$STATE" ] && unmount_state
    teardown_network
    remove_node_cgroups
    if [ -d "$STATE" ]; then
        rm -rf --one-file-system "$STATE"
    fi
    say "the swarm is down"
}

cmd_env() {
    local n nodes=()
    for n in "${NODES[@]}"; do nodes+=("unix://$(node_sock "$n")"); done
    echo "export SECURE_RUN_SWARM_MANAGER=unix://$(node_sock 1)"
    echo "export SECURE_RUN_SWARM_NODES=$(
        IFS=,
        echo "${nodes[*]}"
    )"
    echo "export SECURE_RUN_SWARM_NNP=1"
    echo "export SECURE_RUN_SWARM_BRIDGE=none"
}

check_node_arg() {
    [[ "${1:-}" =~ ^[123]$ ]] || die "usage: $0 kill-node|start-node N (N: 1, 2 or 3)"
}

cmd_kill_node() {
    need_root
    check_node_arg "${1:-}"
    local pid
    pid="$(pid_of_node "$1")" || die "node $1: no running dockerd"
    say "node $1: kill -9 dockerd $pid"
    kill -KILL "$pid"
    while pid_running "$pid"; do sleep 0.05; done
}

cmd_start_node() {
    need_root
    check_node_arg "${1:-}"
    [ -f "$STATE/$MARKER" ] || die "no swarm in $STATE (run: $0 up)"
    start_node "$1"
    wait_node "$1"
    local id waited=0
    id="$(ndocker "$1" info --format '{{.Swarm.NodeID}}')"
    # The node's own agent has rejoined, and the manager sees it Ready (right after a kill
    # the manager may still show the old Ready: it marks a node Down after a few heartbeats).
    until [ "$(ndocker "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ] &&
        [ "$(ndocker 1 node inspect --format '{{.Status.State}}' "$id" 2>/dev/null)" = ready ]; do
        [ "$waited" -lt "$((START_TIMEOUT * 5))" ] || die "node $1 is not Ready after ${START_TIMEOUT}s"
        sleep 0.2
        waited=$((waited + 1))
    done
    say "node $1: Ready"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
status) ndocker 1 node ls --format '{{.ID}} {{.ManagerStatus}} {{.Status}} {{.Availability}}' ;;
kill-node) cmd_kill_node "${2:-}" ;;
start-node) cmd_start_node "${2:-}" ;;
*)
    echo "usage: $0 up|down|env|status|kill-node N|start-node N" >&2
    exit 2
    ;;
esac
