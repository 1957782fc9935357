# What the engine scripts (scripts/engines/NAME.sh) share: sourced by each (and by
# scripts/swarm.sh, for unmount_state), never run.
# The caller sets NAME, STATE (its own folder), SOCK, TEST_IMAGE and PYTHON first; the
# functions read them when called. (The name does not end in .sh: scripts/engines.sh and
# scripts/matrix.py take every scripts/engines/*.sh for an engine.)

say() { printf 'engines/%s.sh: %s\n' "$NAME" "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

# docker against this engine; whether it answers (within ANSWER_TIMEOUT seconds, default 10).
edocker() { docker -H "unix://$SOCK" "$@"; }
answers() { [ -S "$SOCK" ] && timeout "${ANSWER_TIMEOUT:-10}" docker -H "unix://$SOCK" version >/dev/null 2>&1; }

# Whether PID is a live process (not a zombie).
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

# The PID in FILE, if it is a live process whose name starts with COMM and whose command
# line names our state folder: only then is it ours to signal.
pid_in() {
    local file="$1" comm="$2" pid
    [ -f "$file" ] || return 1
    pid="$(tr -dc '0-9' <"$file" 2>/dev/null || true)"
    [ -n "$pid" ] || return 1
    alive "$pid" || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm"* ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE/" || return 1
    echo "$pid"
}

# The pids of the processes whose name matches one of the GLOBs and whose command line
# names our state folder (this engine's containerd and shims, say).
state_pids() {
    local proc comm glob
    for proc in /proc/[0-9]*; do
        comm="$(cat "$proc/comm" 2>/dev/null)" || continue
        for glob in "$@"; do
            # shellcheck disable=SC2053 # the glob is meant to match
            [[ "$comm" == $glob ]] || continue
            tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -qF -- "$STATE/" && echo "${proc#/proc/}"
            break
        done
    done
    return 0
}

# The test image on this engine: built on the default engine if missing there, then
# copied with `docker save | docker load` (no engine can pull).
load_image() {
    if edocker image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
        return 0
    fi
    if ! docker image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
        say "building $TEST_IMAGE on the default engine ($PYTHON -m secure_run.testing)"
        "$PYTHON" -m secure_run.testing >/dev/null
    fi
    docker save "$TEST_IMAGE" | edocker load -q >/dev/null
    say "loaded $TEST_IMAGE"
}

# The engine's own bridge, BRIDGE with BRIDGE_CIDR (a private /24 in a /16 this host must
# not use otherwise), for a dockerd in the host's network namespace: given `--bridge
# BRIDGE`, it never touches docker0 (with --bridge=none a dockerd deletes any docker0 it
# sees, the default engine's included).
ensure_bridge() {
    local net="${BRIDGE_CIDR%.*.*/*}."
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        if ip -o addr show | grep -qF " $net" || ip route show | grep -q "^${net//./\.}"; then
            die "this host already uses ${net}0.0/16; refusing to add $BRIDGE there"
        fi
        ip link add "$BRIDGE" type bridge
        ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
    fi
    ip link set "$BRIDGE" up
}
remove_bridge() {
    if ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link del "$BRIDGE" || say "warning: could not delete the bridge $BRIDGE"
    fi
}

# Unmount whatever is still mounted under our state folder, deepest first (lazily if it is
# busy); fail if something stays.
unmount_state() {
    local target _ targets
    for _ in 1 2 3; do
        mapfile -t targets < <(findmnt -rn -o TARGET | grep -F -- "$STATE/" | sort -r || true)
        [ "${#targets[@]}" -eq 0 ] && return 0
        for target in "${targets[@]}"; do
            umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || true
        done
    done
    mapfile -t targets < <(findmnt -rn -o TARGET | grep -F -- "$STATE/" || true)
    [ "${#targets[@]}" -eq 0 ] || die "still mounted under $STATE: ${targets[*]}"
}
