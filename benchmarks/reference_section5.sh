#!/usr/bin/env bash
# The reference's method for CIS Docker Benchmark v1.6 section 5, as a shell loop.
#
# This is the yardstick that benchmarks/audit_speed.py times against sr.audit_all().
# docker-bench-security v1.6.0 (docker/docker-bench-security, tests/5_container_runtime.sh,
# functions/helper_lib.sh, docker-bench-security.sh) audits section 5 by running, for every
# check, a loop over the running containers that makes one `docker inspect --format ...`
# CLI call (or `docker port`, or `docker exec`) per container. This script makes the same
# CLI calls, in the same order, with the same templates and the same fallback probes. It
# leaves out the reference's colour, log and JSON output, so its run time is a lower
# bound for the reference's own. The verdict lines it prints are rough, not the point.
#
# Per container (off a swarm, nothing on docker0, exec off): 33 calls, which are 29
# `docker inspect` (one of them the set-up's label read), 3 `docker port` and 1
# `docker info` (5.15); 5.7 adds 2 `docker exec`. Per run: `docker ps` three times,
# `docker info` once (5.1), `docker network ls`, one `docker network inspect` per
# network and the docker0 network's container list. 5.15's calls follow
# docker-bench-security PR #522 (merged 2023) and issue #538's "> 5" rule: per container,
# its name and the swarm state, then the retry count.
#
# Usage:
#   bash benchmarks/reference_section5.sh LABEL        # e.g. secure-run.bench=1
#
# LABEL restricts the audited set to the running containers carrying it (the reference's
# `-t` option), so only the benchmark's containers are audited.
#
# Environment:
#   REFERENCE_EXEC_CHECKS=1   also run check 5.7's `docker exec <c> ps -el` (off by default,
#                             like sr.audit_all's exec_checks=False; the reference always
#                             runs it)
#   REFERENCE_CALL_LOG=FILE   append one line per docker CLI call to FILE (for counting
#                             the calls; leave unset when timing)

set -u

label="${1:?usage: reference_section5.sh LABEL   (e.g. secure-run.bench=1)}"
exec_checks="${REFERENCE_EXEC_CHECKS:-0}"
call_log="${REFERENCE_CALL_LOG:-}"

# Every docker CLI call goes through here, so it can be counted. When REFERENCE_CALL_LOG
# is unset this is one shell test per call, nothing next to a process spawn.
docker() {
  if [ -n "$call_log" ]; then
    local IFS=' '
    printf '%s\n' "$*" >>"$call_log"
  fi
  command docker "$@"
}

warn() { printf '[WARN] %s\n' "$*"; }
pass() { printf '[PASS] %s\n' "$*"; }
info() { printf '[INFO] %s\n' "$*"; }
note() { printf '[NOTE] %s\n' "$*"; }

# helper_lib.sh get_command_line_args: the command line of the newest process named like $1.
get_command_line_args() {
  local pid
  for pid in $(pgrep -f -n "$1"); do
    tr "\0" " " <"/proc/$pid/cmdline" 2>/dev/null
  done
}

# helper_lib.sh get_docker_effective_command_line_args: the daemon's flag, from its cmdline.
get_docker_effective_command_line_args() {
  local line_arg="dockerd"
  if ! get_command_line_args "docker daemon" >/dev/null 2>&1; then
    line_arg="docker daemon"
  fi
  get_command_line_args "$line_arg" | tr ' ' "\n" | grep "^$1" | tail -n1
}

# helper_lib.sh get_docker_configuration_file: --config-file, else /etc/docker/daemon.json.
get_docker_configuration_file() {
  local file
  file="$(get_docker_effective_command_line_args '--config-file' | sed 's/.*=//g')"
  if [ -n "$file" ] && [ -f "$file" ]; then
    CONFIG_FILE="$file"
  elif [ -f /etc/docker/daemon.json ]; then
    CONFIG_FILE=/etc/docker/daemon.json
  else
    CONFIG_FILE=/dev/null
  fi
}

# helper_lib.sh get_docker_configuration_file_args: one key of daemon.json (jq if present).
get_docker_configuration_file_args() {
  get_docker_configuration_file
  if command -v jq >/dev/null 2>&1; then
    jq --monochrome-output --raw-output ".[\"$1\"]" "$CONFIG_FILE" 2>/dev/null
  else
    tr , '\n' <"$CONFIG_FILE" | grep "$1" | sed 's/.*://g' | tr -d '" ',
  fi
}

# --- docker-bench-security.sh: set-up, once per run ------------------------------------
# Left out, as not section 5 or not a docker call: the "not root" warning and its
# `sleep 3`, the `docker images` loop that looks for the reference's own image (section
# 4), and the log and JSON writers.

# "Ensure we can connect to docker daemon"
if ! docker ps -q >/dev/null 2>&1; then
  printf 'Error connecting to docker daemon (does docker ps work?)\n' >&2
  exit 1
fi

# main(): get_docker_configuration_file (dockerd's command line and daemon.json)
get_docker_configuration_file

# main(): "If there is a container with label docker_bench_security, memorize it" -- one
# `docker inspect` per running container, before any check runs.
benchcont="nil"
for c in $(docker ps | sed '1d' | awk '{print $NF}'); do
  if docker inspect --format '{{ .Config.Labels }}' "$c" |
    grep -e 'docker.bench.security' >/dev/null 2>&1; then
    benchcont="$c"
  fi
done

# main() with `-t LABEL`: the running containers to audit.
containers=$(docker ps --quiet --filter "label=$label" | grep -v "$benchcont")

# --- tests/5_container_runtime.sh -------------------------------------------------------

info "5 - Container Runtime"

# 5.1 - Ensure swarm mode is not Enabled, if not needed (one `docker info` per run)
if docker info 2>/dev/null | grep -e "Swarm:*\sinactive\s*" >/dev/null 2>&1; then
  pass "5.1"
else
  warn "5.1"
fi

# check_running_containers: with nothing running, everything after 5.1 is skipped.
if [ -z "$containers" ]; then
  info "  * No containers running, skipping Section 5"
  exit 0
fi
set -f
IFS=$'\n'

# 5.2 - Ensure that, if applicable, an AppArmor Profile is enabled
fail=0
for c in $containers; do
  policy=$(docker inspect --format 'AppArmorProfile={{ .AppArmorProfile }}' "$c")
  case "$policy" in
    "AppArmorProfile=" | "AppArmorProfile=[]" | "AppArmorProfile=<no value>" | "AppArmorProfile=unconfined")
      warn "5.2 * No AppArmorProfile Found: $c"
      fail=1
      ;;
  esac
done
[ $fail -eq 0 ] && pass "5.2"

# 5.3 - Ensure that, if applicable, SELinux security options are set
fail=0
for c in $containers; do
  policy=$(docker inspect --format 'SecurityOpt={{ .HostConfig.SecurityOpt }}' "$c")
  case "$policy" in
    "SecurityOpt=" | "SecurityOpt=[]" | "SecurityOpt=<no value>")
      warn "5.3 * No SecurityOptions Found: $c"
      fail=1
      ;;
  esac
done
[ $fail -eq 0 ] && pass "5.3"

# 5.4 - Ensure that Linux kernel capabilities are restricted within containers
fail=0
for c in $containers; do
  container_caps=$(docker inspect --format 'CapAdd={{ .HostConfig.CapAdd }}' "$c")
  caps=$(echo "$container_caps" | tr "[:lower:]" "[:upper:]" |
    sed 's/CAPADD/CapAdd/' |
    sed -r "s/CAP_AUDIT_WRITE|CAP_CHOWN|CAP_DAC_OVERRIDE|CAP_FOWNER|CAP_FSETID|CAP_KILL|CAP_MKNOD|CAP_NET_BIND_SERVICE|CAP_NET_RAW|CAP_SETFCAP|CAP_SETGID|CAP_SETPCAP|CAP_SETUID|CAP_SYS_CHROOT|\s//g" |
    sed -r "s/AUDIT_WRITE|CHOWN|DAC_OVERRIDE|FOWNER|FSETID|KILL|MKNOD|NET_BIND_SERVICE|NET_RAW|SETFCAP|SETGID|SETPCAP|SETUID|SYS_CHROOT|\s//g")
  if [ "$caps" != 'CapAdd=' ] && [ "$caps" != 'CapAdd=[]' ] &&
    [ "$caps" != 'CapAdd=<no value>' ] && [ "$caps" != 'CapAdd=<nil>' ]; then
    warn "5.4 * Capabilities added: $caps to $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.4"

# 5.5 - Ensure that privileged containers are not used
fail=0
for c in $containers; do
  privileged=$(docker inspect --format '{{ .HostConfig.Privileged }}' "$c")
  if [ "$privileged" = "true" ]; then
    warn "5.5 * Container running in Privileged mode: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.5"

# 5.6 - Ensure sensitive host system directories are not mounted on containers
# (reads .Mounts, then probes the legacy .VolumesRW, which fails on current engines)
sensitive_dirs='/
/boot
/dev
/etc
/lib
/proc
/sys
/usr'
fail=0
for c in $containers; do
  volumes=$(docker inspect --format '{{ .Mounts }}' "$c")
  if docker inspect --format '{{ .VolumesRW }}' "$c" 2>/dev/null 1>&2; then
    volumes=$(docker inspect --format '{{ .VolumesRW }}' "$c")
  fi
  for v in $sensitive_dirs; do
    if echo "$volumes" | grep -e "{.*\s$v\s.*true\s.*}" >/dev/null 2>&1; then
      warn "5.6 * Sensitive directory $v mounted in: $c"
      fail=1
    fi
  done
done
[ $fail -eq 0 ] && pass "5.6"

# 5.7 - Ensure sshd is not run within containers (two `docker exec` per container; only
# with REFERENCE_EXEC_CHECKS=1, to match sr.audit_all's default of no exec)
if [ "$exec_checks" = "1" ]; then
  fail=0
  for c in $containers; do
    processes=$(docker exec "$c" ps -el 2>/dev/null | grep -c sshd | awk '{print $1}')
    if [ "$processes" -ge 1 ]; then
      warn "5.7 * Container running sshd: $c"
      fail=1
    fi
    docker exec "$c" ps -el >/dev/null 2>&1
    if [ $? -eq 255 ]; then
      warn "5.7 * Docker exec fails: $c"
      fail=1
    fi
  done
  [ $fail -eq 0 ] && pass "5.7"
else
  info "5.7 skipped (REFERENCE_EXEC_CHECKS is not 1)"
fi

# 5.8 - Ensure privileged ports are not mapped within containers
fail=0
for c in $containers; do
  ports=$(docker port "$c" | awk '{print $0}' | cut -d ':' -f2)
  for port in $ports; do
    if [ -n "$port" ] && [ "$port" -lt 1025 ] 2>/dev/null; then
      warn "5.8 * Privileged Port in use: $port in $c"
      fail=1
    fi
  done
done
[ $fail -eq 0 ] && pass "5.8"

# 5.9 - Ensure that only needed ports are open on the container (Manual)
fail=0
for c in $containers; do
  ports=$(docker port "$c" | awk '{print $0}' | cut -d ':' -f2)
  for port in $ports; do
    if [ -n "$port" ]; then
      warn "5.9 * Port in use: $port in $c"
      fail=1
    fi
  done
done
[ $fail -eq 0 ] && pass "5.9"

# 5.10 - Ensure that the host's network namespace is not shared
fail=0
for c in $containers; do
  mode=$(docker inspect --format 'NetworkMode={{ .HostConfig.NetworkMode }}' "$c")
  if [ "$mode" = "NetworkMode=host" ]; then
    warn "5.10 * Container running with networking mode 'host': $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.10"

# 5.11 - Ensure that the memory usage for containers is limited
# (reads .HostConfig.Memory, then probes the legacy .Config.Memory, which fails today)
fail=0
for c in $containers; do
  memory=$(docker inspect --format '{{ .HostConfig.Memory }}' "$c")
  if docker inspect --format '{{ .Config.Memory }}' "$c" 2>/dev/null 1>&2; then
    memory=$(docker inspect --format '{{ .Config.Memory }}' "$c")
  fi
  if [ "$memory" = "0" ]; then
    warn "5.11 * Container running without memory restrictions: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.11"

# 5.12 - Ensure that CPU priority is set appropriately on containers
# (CpuShares and NanoCpus, then the legacy .Config.CpuShares probe, which fails today)
fail=0
for c in $containers; do
  cpushares=$(docker inspect --format '{{ .HostConfig.CpuShares }}' "$c")
  nanocpus=$(docker inspect --format '{{ .HostConfig.NanoCpus }}' "$c")
  if docker inspect --format '{{ .Config.CpuShares }}' "$c" 2>/dev/null 1>&2; then
    cpushares=$(docker inspect --format '{{ .Config.CpuShares }}' "$c")
    nanocpus=$(docker inspect --format '{{ .Config.NanoCpus }}' "$c")
  fi
  if [ "$cpushares" = "0" ] && [ "$nanocpus" = "0" ]; then
    warn "5.12 * Container running without CPU restrictions: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.12"

# 5.13 - Ensure that the container's root filesystem is mounted as read only
fail=0
for c in $containers; do
  read_status=$(docker inspect --format '{{ .HostConfig.ReadonlyRootfs }}' "$c")
  if [ "$read_status" = "false" ]; then
    warn "5.13 * Container running with root FS mounted R/W: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.13"

# 5.14 - Ensure that incoming container traffic is bound to a specific host interface
fail=0
for c in $containers; do
  for ip in $(docker port "$c" | awk '{print $3}' | cut -d ':' -f1); do
    if [ "$ip" = "0.0.0.0" ]; then
      warn "5.14 * Port being bound to wildcard IP: $ip in $c"
      fail=1
    fi
  done
done
[ $fail -eq 0 ] && pass "5.14"

# 5.15 - Ensure that the 'on-failure' container restart policy is set to '5'
# (since docker-bench-security PR #522 and issue #538: per container, its name, the swarm
# state from `docker info`, then .HostConfig.RestartPolicy.MaximumRetryCount off a swarm,
# or the owning service's .Spec.TaskTemplate.RestartPolicy.MaxAttempts on one; WARN > 5)
fail=0
for c in $containers; do
  container_name=$(docker inspect "$c" --format '{{.Name}}')
  restart_policy=""
  if docker info 2>/dev/null | grep -e "Swarm:*\sactive\s*" >/dev/null 2>&1; then
    for s in $(docker service ls --format '{{.Name}}'); do
      if echo "$container_name" | grep -q "$s"; then
        task_id=$(docker inspect "$c" --format '{{.Name}}' | awk -F '.' '{print $NF}')
        if docker service ps --no-trunc "$s" --format '{{.ID}}' | grep -q "$task_id"; then
          restart_policy=$(docker inspect --format '{{ .Spec.TaskTemplate.RestartPolicy.MaxAttempts }}' "$s")
        fi
      fi
    done
  else
    restart_policy=$(docker inspect --format '{{ .HostConfig.RestartPolicy.MaximumRetryCount }}' "$c")
  fi
  if [ -n "$restart_policy" ] && [ "$restart_policy" -gt 5 ] 2>/dev/null; then
    warn "5.15 * MaximumRetryCount is not set to 5 or less: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.15"

# 5.16 - Ensure that the host's process namespace is not shared
fail=0
for c in $containers; do
  mode=$(docker inspect --format 'PidMode={{.HostConfig.PidMode }}' "$c")
  if [ "$mode" = "PidMode=host" ]; then
    warn "5.16 * Host PID namespace being shared with: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.16"

# 5.17 - Ensure that the host's IPC namespace is not shared
fail=0
for c in $containers; do
  mode=$(docker inspect --format 'IpcMode={{.HostConfig.IpcMode }}' "$c")
  if [ "$mode" = "IpcMode=host" ]; then
    warn "5.17 * Host IPC namespace being shared with: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.17"

# 5.18 - Ensure that host devices are not directly exposed to containers (Manual)
fail=0
for c in $containers; do
  devices=$(docker inspect --format 'Devices={{ .HostConfig.Devices }}' "$c")
  if [ "$devices" != "Devices=" ] && [ "$devices" != "Devices=[]" ] &&
    [ "$devices" != "Devices=<no value>" ]; then
    info "5.18 * Container has devices exposed directly: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.18"

# 5.19 - Ensure that the default ulimit is overwritten at runtime if needed (Manual)
fail=0
for c in $containers; do
  ulimits=$(docker inspect --format 'Ulimits={{ .HostConfig.Ulimits }}' "$c")
  case "$ulimits" in
    "Ulimits=" | "Ulimits=[]" | "Ulimits=<no value>")
      info "5.19 * Container no default ulimit override: $c"
      fail=1
      ;;
  esac
done
[ $fail -eq 0 ] && pass "5.19"

# 5.20 - Ensure mount propagation mode is not set to shared
fail=0
for c in $containers; do
  if docker inspect --format 'Propagation={{range $mnt := .Mounts}} {{json $mnt.Propagation}} {{end}}' "$c" |
    grep shared >/dev/null 2>&1; then
    warn "5.20 * Mount propagation mode is shared: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.20"

# 5.21 - Ensure that the host's UTS namespace is not shared
fail=0
for c in $containers; do
  mode=$(docker inspect --format 'UTSMode={{.HostConfig.UTSMode }}' "$c")
  if [ "$mode" = "UTSMode=host" ]; then
    warn "5.21 * Host UTS namespace being shared with: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.21"

# 5.22 - Ensure the default seccomp profile is not Disabled
fail=0
for c in $containers; do
  if docker inspect --format 'SecurityOpt={{.HostConfig.SecurityOpt }}' "$c" |
    grep -E 'seccomp:unconfined|seccomp=unconfined' >/dev/null 2>&1; then
    warn "5.22 * Default seccomp profile disabled: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.22"

# 5.23 - Ensure that docker exec commands are not used with the privileged option (no call)
note "5.23"

# 5.24 - Ensure that docker exec commands are not used with the user=root option (no call)
note "5.24"

# 5.25 - Ensure that cgroup usage is confirmed
fail=0
for c in $containers; do
  mode=$(docker inspect --format 'CgroupParent={{.HostConfig.CgroupParent }}x' "$c")
  if [ "$mode" != "CgroupParent=x" ]; then
    warn "5.25 * Confirm cgroup usage: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.25"

# 5.26 - Ensure that the container is restricted from acquiring additional privileges
# (the daemon's --no-new-privileges flag or daemon.json key passes everything; otherwise
# one SecurityOpt read per container)
fail=0
if get_docker_effective_command_line_args '--no-new-privileges' |
  grep "no-new-privileges" >/dev/null 2>&1; then
  pass "5.26 (daemon flag)"
elif get_docker_configuration_file_args 'no-new-privileges' | grep true >/dev/null 2>&1; then
  pass "5.26 (daemon.json)"
else
  for c in $containers; do
    if ! docker inspect --format 'SecurityOpt={{.HostConfig.SecurityOpt }}' "$c" |
      grep 'no-new-privileges' >/dev/null 2>&1; then
      warn "5.26 * Privileges not restricted: $c"
      fail=1
    fi
  done
  [ $fail -eq 0 ] && pass "5.26"
fi

# 5.27 - Ensure that container health is checked at runtime
fail=0
for c in $containers; do
  if ! docker inspect --format '{{ .Id }}: Health={{ .State.Health.Status }}' "$c" 2>/dev/null 1>&2; then
    warn "5.27 * Health check not set: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.27"

# 5.28 - Ensure that Docker commands always make use of the latest version of their image
# (Manual; no call)
info "5.28"

# 5.29 - Ensure that the PIDs cgroup limit is used
fail=0
for c in $containers; do
  pidslimit="$(docker inspect --format '{{.HostConfig.PidsLimit }}' "$c")"
  if [ "$pidslimit" = "0" ] || [ "$pidslimit" = "<nil>" ] || [ "$pidslimit" = "-1" ]; then
    warn "5.29 * PIDs limit not set: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.29"

# 5.30 - Ensure that Docker's default bridge 'docker0' is not used (Manual)
# (one `docker network ls`, one `docker network inspect` per network, the docker0
# network's container list, and one `docker inspect` per container found on it)
fail=0
networks=$(docker network ls -q 2>/dev/null)
for net in $networks; do
  if docker network inspect --format '{{ .Options }}' "$net" 2>/dev/null |
    grep "com.docker.network.bridge.name:docker0" >/dev/null 2>&1; then
    docker0Containers=$(docker network inspect --format='{{ range $k, $v := .Containers }} {{ $k }} {{ end }}' "$net" |
      sed -e 's/^ //' -e 's/  /\n/g' 2>/dev/null)
    if [ -n "$docker0Containers" ]; then
      for c in $docker0Containers; do
        cName=$(docker inspect --format '{{.Name}}' "$c" 2>/dev/null | sed 's/\///g')
        if [ -n "$cName" ]; then
          info "5.30 * Container in docker0 network: $cName"
          fail=1
        fi
      done
    fi
  fi
done
[ $fail -eq 0 ] && pass "5.30"

# 5.31 - Ensure that the host's user namespaces are not shared
fail=0
for c in $containers; do
  if docker inspect --format '{{ .HostConfig.UsernsMode }}' "$c" 2>/dev/null |
    grep -i 'host' >/dev/null 2>&1; then
    warn "5.31 * Namespace shared: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.31"

# 5.32 - Ensure that the Docker socket is not mounted inside any containers
fail=0
for c in $containers; do
  if docker inspect --format '{{ .Mounts }}' "$c" 2>/dev/null |
    grep 'docker.sock' >/dev/null 2>&1; then
    warn "5.32 * Docker socket shared: $c"
    fail=1
  fi
done
[ $fail -eq 0 ] && pass "5.32"

exit 0
