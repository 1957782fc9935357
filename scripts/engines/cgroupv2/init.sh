#!/bin/bash
# PID 1 of the `cgroupv2` engine's guest (see scripts/engines/cgroupv2.sh).
#
# - Mounts the pure cgroup v2 hierarchy (the kernel is booted with cgroup_no_v1=all).
# - Moves itself into /sys/fs/cgroup/init and dockerd into /sys/fs/cgroup/dockerd, with
#   cpuset, cpu, io, memory and pids enabled below the root: a dockerd in the ROOT cgroup
#   sees no memory.swap.max there and reports "Your kernel does not support swap limit
#   capabilities". Containers go under /sys/fs/cgroup/docker (cgroupfs driver).
# - eth0 gets QEMU's user-network address, with no default route: the host reaches
#   dockerd's tcp://0.0.0.0:2375 through QEMU's forwarded loopback port (restrict=on
#   leaves nothing else). dockerd's HTTP(S)_PROXY point at a closed port: no pull.
#   dockerd turns on the guest's IPv4 forwarding (without it, every container on a
#   network is created with the warning "IPv4 forwarding is disabled", which secure_run
#   refuses); it writes no iptables rule, and nothing has a route out of the guest.
# - AppArmor is off (the kernel is booted with apparmor=0: the guest has no
#   apparmor_parser, and docker would fail every container).
# - The host asks for a power-off by writing "poweroff" to the second serial port
#   (/dev/ttyS1); dockerd is stopped, the disks synced and the guest powered off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
log() { echo "secure-run-guest: $*" >/dev/console; }

mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mountpoint -q /dev/pts || mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mountpoint -q /dev/shm || mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
mountpoint -q /run || mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mountpoint -q /tmp || mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -o remount,rw /
hostname cgroupv2
log "mounted; cgroup: $(stat -fc %T /sys/fs/cgroup)"

for m in overlay bridge br_netfilter veth virtio_net; do modprobe -q "$m" || log "modprobe $m failed"; done

mkdir -p /sys/fs/cgroup/init /sys/fs/cgroup/dockerd
echo $$ >/sys/fs/cgroup/init/cgroup.procs
for c in cpuset cpu io memory pids; do
    echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || log "cannot enable the $c controller"
done
log "controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

ip link set lo up
if ip link show eth0 >/dev/null 2>&1; then
    ip addr add 10.0.2.15/24 dev eth0
    ip link set eth0 up
fi

DEAD_PROXY=http://127.0.0.1:9
bash -c 'echo $$ >/sys/fs/cgroup/dockerd/cgroup.procs && exec "$@"' dockerd \
    env HTTP_PROXY=$DEAD_PROXY HTTPS_PROXY=$DEAD_PROXY http_proxy=$DEAD_PROXY \
    https_proxy=$DEAD_PROXY NO_PROXY= no_proxy= \
    dockerd --host unix:///run/docker.sock --host tcp://0.0.0.0:2375 \
    --iptables=false --ip-masq=false \
    >/dev/console 2>&1 </dev/null &
dockerd_pid=$!
log "dockerd started (pid $dockerd_pid)"

# Wait for the host's power-off request; bash reaps the orphans it inherits meanwhile.
stty -F /dev/ttyS1 -echo raw 2>/dev/null || true
exec 3<>/dev/ttyS1
while :; do
    if read -r -t 5 -u 3 cmd && [ "${cmd%$'\r'}" = poweroff ]; then
        break
    fi
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
        log "dockerd exited (its log is on this console)"
        dockerd_pid=0
        break
    fi
done
log "powering off"
if [ "$dockerd_pid" -ne 0 ]; then
    kill -TERM "$dockerd_pid"
    for _ in $(seq 1 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
fi
sync
exec busybox poweroff -f
