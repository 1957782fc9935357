"""Every rule a RunConfig must meet: what is refused, what the opt-ins allow, how it is told."""

from __future__ import annotations

import json
import os
from typing import Any, Callable

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import secure_run as sr
from secure_run import OptIn
from secure_run._config.seccomp import MAX_PROFILE_BYTES

IMAGE = "busybox:1.36"
B = sr.builder(IMAGE)  # the restricted preset, valid as it is
NET = B.network("bridge")  # a network that may publish ports
VALID = B.build()

ALLOW_ALL = {"defaultAction": "SCMP_ACT_ALLOW"}
ALLOW_ALL_RULES = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}],
}
ERRNO = "SCMP_ACT_ERRNO"

Make = Callable[..., sr.RunConfig]


def build(builder: sr.RunBuilder) -> Make:
    """A maker: the builder plus the granted opt-ins, built."""
    return lambda *grant: builder.opt_in(*grant).build()


def evolve(**changes: Any) -> Make:
    """A maker for states the builder cannot reach: the valid config, changed, plus opt-ins."""
    return lambda *grant: attrs.evolve(VALID, **changes, opt_ins=grant)


def refused(make: Make, *grant: str) -> sr.ConfigError:
    with pytest.raises(sr.ConfigError) as excinfo:
        make(*grant)
    return excinfo.value


def matching(error: sr.ConfigError, field: str, fragment: str) -> list[sr.Problem]:
    return [p for p in error.problems if p.field == field and fragment in p.message]


# -- weaker settings that an opt-in allows -------------------------------------

DANGEROUS = ["SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "DAC_READ_SEARCH", "NET_ADMIN",
             "BPF", "PERFMON", "SYS_BOOT", "SYS_TIME", "MAC_ADMIN", "MAC_OVERRIDE", "SYSLOG",
             "ALL"]  # fmt: skip
SENSITIVE = ["/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr", "/etc/ssl",
             "/usr/local/bin", "/etc/", "/etc/../etc"]  # fmt: skip
SOCKETS = ["/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
           "/run/podman/podman.sock"]  # fmt: skip


def _opt_in_cases() -> list[Any]:
    cases = [
        pytest.param(build(B.user(0)), "user", "runs as root", OptIn.ROOT_USER, id="user(0)"),
        pytest.param(build(B.user(0, None)), "user", "runs as root", OptIn.ROOT_USER,
                     id="user(0)-no-gid"),
        pytest.param(build(B.user("0")), "user", "runs as root", OptIn.ROOT_USER, id="user('0')"),
        pytest.param(build(B.user("root")), "user", "runs as root", OptIn.ROOT_USER,
                     id="user('root')"),
        pytest.param(build(B.user("0:0")), "user", "runs as root", OptIn.ROOT_USER,
                     id="user('0:0')"),
        pytest.param(build(B.user("root:root")), "user", "runs as root", OptIn.ROOT_USER,
                     id="user('root:root')"),
        pytest.param(build(B.user(0, 1000)), "user", "runs as root", OptIn.ROOT_USER,
                     id="user(0,1000)"),
        pytest.param(evolve(user=None), "user", "no user set", OptIn.ROOT_USER, id="user-unset"),
        *(
            pytest.param(build(B.cap_add(cap)), "cap_add", "break out",
                         OptIn.DANGEROUS_CAPABILITY, id=f"cap_add({cap})")
            for cap in DANGEROUS
        ),
        pytest.param(build(B.cap_add("cap_sys_admin")), "cap_add", "break out",
                     OptIn.DANGEROUS_CAPABILITY, id="cap_add(cap_sys_admin)"),
        *(
            pytest.param(build(B.cap_add(cap)), "cap_add", "beyond NET_BIND_SERVICE",
                         OptIn.EXTRA_CAPABILITY, id=f"cap_add({cap})")
            for cap in ("CHOWN", "KILL", "SETUID", "NET_RAW", "SYS_NICE", "IPC_LOCK")
        ),
        pytest.param(build(B.restart("always")), "restart", "without a bound",
                     OptIn.UNBOUNDED_RESTART, id="restart-always"),
        pytest.param(build(B.restart("on-failure", 6)), "restart", "without a bound",
                     OptIn.UNBOUNDED_RESTART, id="restart-on-failure-6"),
        pytest.param(build(B.privileged()), "privileged", "every capability", OptIn.PRIVILEGED,
                     id="privileged"),
        pytest.param(build(B.host_namespace("network")), "network", "host's network",
                     OptIn.HOST_NAMESPACE, id="host-network"),
        pytest.param(build(B.network("host")), "network", "host's network",
                     OptIn.HOST_NAMESPACE, id="network('host')"),
        pytest.param(build(B.host_namespace("pid")), "pid_mode", "host namespace",
                     OptIn.HOST_NAMESPACE, id="host-pid"),
        pytest.param(build(B.host_namespace("ipc")), "ipc_mode", "host namespace",
                     OptIn.HOST_NAMESPACE, id="host-ipc"),
        pytest.param(build(B.host_namespace("uts")), "uts_mode", "host namespace",
                     OptIn.HOST_NAMESPACE, id="host-uts"),
        pytest.param(build(B.host_namespace("userns")), "userns_mode", "host namespace",
                     OptIn.HOST_NAMESPACE, id="host-userns"),
        pytest.param(build(B.seccomp("unconfined")), "seccomp", "no syscall filter",
                     OptIn.SECCOMP_UNCONFINED, id="seccomp-unconfined"),
        pytest.param(build(B.seccomp(ALLOW_ALL)), "seccomp", "allows every syscall",
                     OptIn.SECCOMP_UNCONFINED, id="seccomp-allow-all"),
        pytest.param(build(B.seccomp(ALLOW_ALL_RULES)), "seccomp", "allows every syscall",
                     OptIn.SECCOMP_UNCONFINED, id="seccomp-allow-all-rules"),
        pytest.param(build(B.apparmor("unconfined")), "apparmor", "no AppArmor",
                     OptIn.APPARMOR_UNCONFINED, id="apparmor-unconfined"),
        pytest.param(build(B.device("/dev/fuse")), "devices", "host device", OptIn.DEVICES,
                     id="device"),
        *(
            pytest.param(build(B.mount(path, "/host", read_only=False)), "mount",
                         "writable mount of a sensitive", OptIn.SENSITIVE_MOUNT,
                         id=f"writable-mount({path})")
            for path in SENSITIVE
            if path != "/"  # "/" also holds the engine socket: see the test below
        ),
        *(
            pytest.param(build(B.mount(path, "/var/run/docker.sock")), "mount", "engine socket",
                         OptIn.DOCKER_SOCKET, id=f"socket-ro({path})")
            for path in SOCKETS
        ),
        pytest.param(build(B.mount("/srv/sock", "/var/run/docker.sock")), "mount",
                     "engine socket", OptIn.DOCKER_SOCKET, id="socket-as-target"),
        pytest.param(build(B.mount("/srv", "/srv", propagation="shared")), "mount",
                     "reach the host", OptIn.SHARED_PROPAGATION, id="propagation-shared"),
        pytest.param(build(B.mount("/srv", "/srv", propagation="rshared")), "mount",
                     "reach the host", OptIn.SHARED_PROPAGATION, id="propagation-rshared"),
        pytest.param(build(NET.publish(8080, host_ip="0.0.0.0")), "publish",  # noqa: S104
                     "every host interface", OptIn.PUBLIC_PORT, id="publish-0.0.0.0"),
        pytest.param(build(NET.publish(8080, host_ip="::")), "publish", "every host interface",
                     OptIn.PUBLIC_PORT, id="publish-::"),
        pytest.param(build(NET.publish(8080, 80)), "publish", "below 1024",
                     OptIn.PRIVILEGED_PORT, id="host-port-80"),
        pytest.param(build(NET.publish(8080, 1023)), "publish", "below 1024",
                     OptIn.PRIVILEGED_PORT, id="host-port-1023"),
        pytest.param(build(B.memory(None)), "memory", "no memory limit",
                     OptIn.UNLIMITED_MEMORY, id="memory(None)"),
        pytest.param(build(B.memory("256m", swap=-1)), "memory_swap", "unlimited swap",
                     OptIn.UNLIMITED_MEMORY, id="swap=-1"),
        pytest.param(build(B.memory("256m", swap="-1")), "memory_swap", "unlimited swap",
                     OptIn.UNLIMITED_MEMORY, id="swap='-1'"),
        pytest.param(build(B.cpus(None)), "cpus", "no CPU limit", OptIn.UNLIMITED_CPU,
                     id="cpus(None)"),
        pytest.param(build(B.pids_limit(None)), "pids_limit", "no limit on processes",
                     OptIn.UNLIMITED_PIDS, id="pids_limit(None)"),
        pytest.param(build(B.read_only(False)), "read_only", "writable root",
                     OptIn.WRITABLE_ROOT, id="read_only(False)"),
        pytest.param(build(B.no_new_privileges(False)), "no_new_privileges", "setuid",
                     OptIn.NEW_PRIVILEGES, id="no_new_privileges(False)"),
    ]  # fmt: skip
    return cases


@pytest.mark.parametrize(("make", "field", "fragment", "opt_in"), _opt_in_cases())
def test_weaker_setting_is_refused_without_its_opt_in(make, field, fragment, opt_in):
    """A weaker setting alone raises ConfigError on its field, naming the opt-in that allows it."""
    error = refused(make)
    problems = matching(error, field, fragment)
    assert problems, error
    assert repr(opt_in.value) in problems[0].message
    assert f".opt_in({opt_in.value!r})" in problems[0].fix


@pytest.mark.parametrize(("make", "field", "fragment", "opt_in"), _opt_in_cases())
def test_weaker_setting_builds_with_its_opt_in_and_records_the_waiver(
    make, field, fragment, opt_in
):
    """The same setting with its opt-in builds, and ``waivers()`` lists that opt-in."""
    cfg = make(opt_in.value)
    assert opt_in in cfg.waivers()


@pytest.mark.parametrize(("make", "field", "fragment", "opt_in"), _opt_in_cases())
def test_a_different_opt_in_does_not_allow_the_setting(make, field, fragment, opt_in):
    """Granting some other opt-in leaves the weaker setting refused."""
    other = OptIn.UNLIMITED_PIDS if opt_in is not OptIn.UNLIMITED_PIDS else OptIn.PRIVILEGED
    assert matching(refused(make, other.value), field, fragment)


# -- settings that are wrong whatever is granted --------------------------------


def _unlimited_memory_with_swap(*grant: str) -> sr.RunConfig:
    return attrs.evolve(
        VALID,
        memory=None,
        memory_reservation=None,
        opt_ins=(OptIn.UNLIMITED_MEMORY, *grant),
    )


INVALID = [
    # identity
    pytest.param(evolve(image=""), "image", "required", id="image-empty-evolve"),
    pytest.param(evolve(image="Not Valid"), "image", "not a valid image", id="image-bad-evolve"),
    pytest.param(build(B.image("")), "image", "required", id="image('')"),
    pytest.param(build(B.image("UP/Per:case tag")), "image", "not a valid", id="image-bad"),
    pytest.param(build(B.image("busybox@sha256:beef")), "image", "not a valid",
                 id="image-short-digest"),
    pytest.param(evolve(command=()), "command", "empty command", id="command-empty"),
    pytest.param(evolve(command=("echo", "a\x00b")), "command", "NUL", id="command-NUL"),
    pytest.param(evolve(entrypoint=("/bin/\x00sh",)), "entrypoint", "NUL", id="entrypoint-NUL"),
    pytest.param(build(B.command("echo hi")), "command", "as a list", id="command-string"),
    pytest.param(build(B.command(["echo", 1])), "command", "must be a string",
                 id="command-non-str"),
    pytest.param(build(B.env({"A=B": "v"})), "env", "not a valid variable name", id="env-key-="),
    pytest.param(evolve(env=(("", "v"),)), "env", "not a valid variable name", id="env-key-empty"),
    pytest.param(build(B.env(A="x\x00y")), "env", "NUL byte", id="env-value-NUL"),
    pytest.param(build(B.env(A=1)), "env", "must be strings", id="env-value-int"),
    pytest.param(build(B.workdir("work")), "workdir", "not an absolute path", id="workdir"),
    pytest.param(build(B.hostname("-bad-")), "hostname", "not a valid host name",
                 id="hostname-dash"),
    pytest.param(build(B.hostname("a" * 254)), "hostname", "not a valid host name",
                 id="hostname-long"),
    pytest.param(build(B.name("/bad")), "name", "not a valid container name", id="name"),
    pytest.param(build(B.labels({"io.secure-run.preset": "x"})), "labels", "reserved",
                 id="label-reserved"),
    pytest.param(build(B.labels({"io.secure-run.": "x"})), "labels", "reserved",
                 id="label-reserved-bare"),
    pytest.param(evolve(labels=(("", "x"),)), "labels", "empty label key", id="label-empty"),
    pytest.param(build(B.labels(team=5)), "labels", "must be strings", id="label-value-int"),
    # user
    pytest.param(build(B.user("nobody")), "user", "must be numeric", id="user-name"),
    pytest.param(build(B.user(-1)), "user", "out of range", id="user-negative"),
    pytest.param(build(B.group_add("staff")), "group_add", "numeric gid", id="group_add-name"),
    pytest.param(evolve(group_add=(-1,)), "group_add", "numeric group id", id="group_add-neg"),
    # capabilities
    pytest.param(build(B.cap_add("NET_BIND_SERVCE")), "cap_add", "unknown capability",
                 id="cap_add-typo"),
    pytest.param(build(B.cap_drop("NET_RWA")), "cap_drop", "unknown capability",
                 id="cap_drop-typo"),
    pytest.param(evolve(cap_add=("net_raw",)), "cap_add", "not a canonical", id="cap-noncanon"),
    pytest.param(evolve(cap_drop=()), "cap_drop", "does not drop ALL", id="cap_drop-empty"),
    pytest.param(evolve(cap_drop=("NET_RAW",)), "cap_drop", "does not drop ALL",
                 id="cap_drop-without-ALL"),
    pytest.param(evolve(cap_add=("NET_RAW",), cap_drop=("ALL", "NET_RAW")), "cap_add",
                 "both added and dropped", id="cap-added-and-dropped"),
    # devices
    pytest.param(build(B.device("dev/fuse").opt_in("devices")), "devices", "must be absolute",
                 id="device-relative"),
    pytest.param(build(B.device("/dev/fuse", "fuse").opt_in("devices")), "devices",
                 "must be absolute", id="device-target-relative"),
    pytest.param(build(B.device("/dev/fuse", permissions="rwx").opt_in("devices")), "devices",
                 "permissions", id="device-perm-x"),
    pytest.param(build(B.device("/dev/fuse", permissions="").opt_in("devices")), "devices",
                 "permissions", id="device-perm-empty"),
    # memory
    pytest.param(build(B.memory("1m")), "memory", "below Docker's minimum", id="memory-1m"),
    pytest.param(build(B.memory(6 * 2**20 - 1, reservation=None)), "memory",
                 "below Docker's minimum", id="memory-6MiB-minus-1"),
    pytest.param(build(B.memory("64m", reservation="1m")), "memory_reservation",
                 "below Docker's minimum", id="reservation-1m"),
    pytest.param(build(B.memory("64m", reservation="128m")), "memory_reservation",
                 "above the memory limit", id="reservation-above-limit"),
    pytest.param(build(B.memory("64m", swap="32m")), "memory_swap", "below the memory limit",
                 id="swap-below-memory"),
    pytest.param(evolve(memory_swap=None), "memory_swap", "unset", id="swap-unset"),
    pytest.param(_unlimited_memory_with_swap, "memory_swap", "without a memory limit",
                 id="swap-without-memory"),
    pytest.param(build(B.memory("lots")), "memory", "not a size", id="memory-text"),
    pytest.param(build(B.memory("64m", reservation="half")), "memory_reservation", "not a size",
                 id="reservation-text"),
    # cpu
    pytest.param(build(B.cpus(0)), "cpus", "more than 0", id="cpus-0"),
    pytest.param(build(B.cpus(-1)), "cpus", "more than 0", id="cpus-negative"),
    pytest.param(build(B.cpus(0.009)), "cpus", "below 1 ms", id="cpus-0.009"),
    pytest.param(build(B.cpus("lots")), "cpus", "not a number of CPUs", id="cpus-text"),
    pytest.param(build(B.cpu_quota(999)), "cpu_quota", "below 1 ms", id="quota-999"),
    pytest.param(build(B.cpu_quota(50_000, 999)), "cpu_period", "outside", id="period-999"),
    pytest.param(build(B.cpu_quota(50_000, 1_000_001)), "cpu_period", "outside",
                 id="period-1000001"),
    pytest.param(build(B.cpu_quota(1.5)), "cpu_quota", "not a whole number", id="quota-float"),
    pytest.param(evolve(cpu_quota=50_000), "cpus", "combined", id="cpus-and-quota"),
    pytest.param(evolve(cpu_period=100_000), "cpus", "combined", id="cpus-and-period"),
    pytest.param(build(B.cpu_shares(1)), "cpu_shares", "outside 2 to 262144", id="shares-1"),
    pytest.param(build(B.cpu_shares(262_145)), "cpu_shares", "outside 2 to 262144",
                 id="shares-262145"),
    pytest.param(build(B.cpuset("0-")), "cpuset", "not a CPU list", id="cpuset"),
    # pids
    pytest.param(build(B.pids_limit(0)), "pids_limit", "must be positive", id="pids-0"),
    pytest.param(build(B.pids_limit(-1)), "pids_limit", "must be positive", id="pids-negative"),
    pytest.param(build(B.pids_limit("many")), "pids_limit", "not a whole number", id="pids-text"),
    # ulimits
    pytest.param(build(B.ulimit("bogus", 1)), "ulimit", "unknown limit name", id="ulimit-name"),
    pytest.param(build(B.ulimit("nofile", 10, 5)), "ulimit", "soft above hard",
                 id="ulimit-soft>hard"),
    pytest.param(build(B.ulimit("nofile", -1, 5)), "ulimit", "soft above hard",
                 id="ulimit-unlimited-soft"),
    pytest.param(build(B.ulimit("nofile", -2)), "ulimit", "negative", id="ulimit-below--1"),
    pytest.param(build(B.ulimit("nofile", 5, -2)), "ulimit", "negative", id="ulimit-hard-below"),
    pytest.param(evolve(ulimits=(sr.Ulimit("nofile", 1, 1), sr.Ulimit("nofile", 2, 2))),
                 "ulimit", "given twice", id="ulimit-duplicate"),
    pytest.param(build(B.ulimit("nofile", "many")), "ulimit", "not a whole number",
                 id="ulimit-text"),
    # filesystem
    pytest.param(build(B.tmpfs("scratch")), "tmpfs", "not an absolute path", id="tmpfs-relative"),
    pytest.param(build(B.tmpfs("/")), "tmpfs", "not an absolute path below /", id="tmpfs-root"),
    pytest.param(build(B.tmpfs("/scratch", 0)), "tmpfs", "size must be positive", id="tmpfs-0"),
    pytest.param(build(B.tmpfs("/scratch", mode=0o17777)), "tmpfs", "not a file mode",
                 id="tmpfs-mode"),
    pytest.param(evolve(tmpfs=(sr.Tmpfs("/x", 4096, 0o1777),) * 2), "tmpfs", "mounted twice",
                 id="tmpfs-twice"),
    # mounts
    pytest.param(build(B.mount("/srv", "data")), "mount", "target is not an absolute",
                 id="mount-target-relative"),
    pytest.param(evolve(mounts=(sr.Mount("/srv", "/d", kind="tmpfs"),)), "mount",
                 "unknown mount kind", id="mount-kind"),
    pytest.param(evolve(mounts=(sr.Mount("srv", "/d", kind="bind"),)), "mount",
                 "bind source must be an absolute", id="bind-relative"),
    pytest.param(build(B.mount("bad/name", "/d")), "mount", "not a valid volume name",
                 id="volume-name"),
    pytest.param(build(B.mount("/srv", "/d", propagation="bogus")), "mount",
                 "not a bind propagation mode", id="propagation-bogus"),
    pytest.param(build(B.mount("data", "/d", propagation="rslave")), "mount",
                 "not a bind propagation mode", id="propagation-on-volume"),
    # network and ports
    pytest.param(build(B.network("bad name!")), "network", "not a valid network name",
                 id="network-name"),
    pytest.param(build(B.publish(8080)), "publish", "network 'none'", id="publish-network-none"),
    pytest.param(build(B.network("container:abc").publish(8080)), "publish",
                 "cannot be published", id="publish-network-container"),
    pytest.param(build(NET.publish("8080/icmp")), "publish", "unknown protocol", id="protocol"),
    pytest.param(build(NET.publish(0)), "publish", "not a port number", id="port-0"),
    pytest.param(build(NET.publish(65536)), "publish", "not a port number", id="port-65536"),
    pytest.param(build(NET.publish(8080, 65536)), "publish", "not a host port",
                 id="host-port-65536"),
    pytest.param(build(NET.publish(8080, 0)), "publish", "not a host port", id="host-port-0"),
    pytest.param(build(NET.publish(8080, host_ip="localhost")), "publish", "not an IP address",
                 id="host-ip-name"),
    pytest.param(build(NET.publish("http")), "publish", "not a port", id="port-text"),
    # namespaces
    pytest.param(evolve(pid_mode="container:abc"), "pid_mode", "not a supported mode",
                 id="pid-container"),
    pytest.param(evolve(ipc_mode="shareable"), "ipc_mode", "not a supported mode",
                 id="ipc-shareable"),
    pytest.param(evolve(uts_mode="private"), "uts_mode", "not a supported mode",
                 id="uts-private"),
    pytest.param(build(B.host_namespace("mount")), "host_namespace", "unknown namespace",
                 id="namespace-unknown"),
    # security profiles
    pytest.param(build(B.seccomp({"defaultAction": "SCMP_ACT_NOPE"})), "seccomp",
                 "defaultAction 'SCMP_ACT_NOPE' is not a seccomp action", id="seccomp-default"),
    pytest.param(build(B.seccomp({"syscalls": []})), "seccomp", "defaultAction None",
                 id="seccomp-no-default"),
    pytest.param(build(B.seccomp({"defaultAction": ERRNO, "syscalls": "read"})), "seccomp",
                 "syscalls is not a list", id="seccomp-syscalls-str"),
    pytest.param(build(B.seccomp({"defaultAction": ERRNO, "syscalls": ["read"]})), "seccomp",
                 "syscalls[0] is not an object", id="seccomp-rule-str"),
    pytest.param(build(B.seccomp({"defaultAction": ERRNO,
                                  "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]})),
                 "seccomp", "no list of syscall names", id="seccomp-rule-no-names"),
    pytest.param(build(B.seccomp({"defaultAction": ERRNO,
                                  "syscalls": [{"names": ["read"], "action": "ALLOW"}]})),
                 "seccomp", "syscalls[0].action 'ALLOW'", id="seccomp-rule-action"),
    pytest.param(build(B.seccomp({"defaultAction": ERRNO, "architectures": "x86"})), "seccomp",
                 "architectures is not a list", id="seccomp-arches"),
    pytest.param(build(B.seccomp(["SCMP_ACT_ERRNO"])), "seccomp", "not a seccomp profile",
                 id="seccomp-list"),
    pytest.param(build(B.seccomp({"defaultAction": ERRNO, "comment": {1, 2}})), "seccomp",
                 "not JSON-serialisable", id="seccomp-not-json"),
    pytest.param(evolve(seccomp=sr.Seccomp(kind="bogus")), "seccomp", "unknown kind",
                 id="seccomp-kind"),
    pytest.param(evolve(seccomp=sr.Seccomp(kind="custom", profile_json='{"defaultAction":"X"}')),
                 "seccomp", "not a seccomp action", id="seccomp-evolved-profile"),
    pytest.param(build(B.apparmor("bad profile!")), "apparmor", "not a profile name",
                 id="apparmor-name"),
    pytest.param(build(B.runtime("bad runtime!")), "runtime", "not a runtime name",
                 id="runtime-name"),
    # lifecycle
    pytest.param(build(B.restart("sometimes")), "restart", "unknown restart policy",
                 id="restart-name"),
    pytest.param(build(B.restart("on-failure", -1)), "restart", "negative retries",
                 id="restart-negative"),
    pytest.param(build(B.restart("always", 3)), "restart", "only to on-failure",
                 id="restart-retries-always"),
    pytest.param(evolve(healthcheck=sr.Healthcheck(test=("NOPE", "x"))), "healthcheck",
                 "not a healthcheck test", id="healthcheck-kind"),
    pytest.param(evolve(healthcheck=sr.Healthcheck(test=("CMD",))), "healthcheck",
                 "not a healthcheck test", id="healthcheck-empty-argv"),
    pytest.param(build(B.healthcheck("true", interval=0.0001)), "healthcheck", "below 1 ms",
                 id="healthcheck-interval"),
    pytest.param(build(B.healthcheck("true", timeout="10us")), "healthcheck", "below 1 ms",
                 id="healthcheck-timeout"),
    pytest.param(build(B.healthcheck("true", retries=-1)), "healthcheck", "negative retries",
                 id="healthcheck-retries"),
    pytest.param(build(B.healthcheck("true", interval="soon")), "healthcheck.interval",
                 "not a duration", id="healthcheck-interval-text"),
    pytest.param(build(B.stop_timeout(-1)), "stop_timeout", "negative", id="stop_timeout"),
    pytest.param(build(B.log_limits(1023)), "log_limits", "max_size below 1 KiB",
                 id="log-size"),
    pytest.param(build(B.log_limits("1m", 0)), "log_limits", "max_files below 1",
                 id="log-files"),
    # sysctls
    pytest.param(build(B.sysctl("kernel.randomize_va_space", 0)), "sysctl",
                 "known to be safe", id="sysctl-unsafe"),
    pytest.param(build(B.sysctl("net.core.somaxconn", 1024)), "sysctl", "known to be safe",
                 id="sysctl-unlisted-net"),
    pytest.param(build(B.host_namespace("network").opt_in("host-namespace")
                       .sysctl("net.ipv4.tcp_syncookies", 1)),
                 "sysctl", "host network", id="sysctl-net-host-network"),
    pytest.param(build(B.sysctl("net.ipv4.tcp_syncookies", "")), "sysctl", "single-line",
                 id="sysctl-empty"),
    pytest.param(build(B.sysctl("net.ipv4.tcp_syncookies", "1\n0")), "sysctl", "single-line",
                 id="sysctl-newline"),
    # opt-ins
    pytest.param(build(B.opt_in("yolo")), "opt_in", "unknown opt-in", id="opt_in-unknown"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "field", "fragment"), INVALID)
def test_invalid_setting_is_refused_naming_the_field(make, field, fragment):
    """A wrong setting raises ConfigError with a problem on that field saying what is wrong."""
    error = refused(make)
    assert matching(error, field, fragment), error


@pytest.mark.parametrize(("make", "field", "fragment"), INVALID)
def test_invalid_setting_is_refused_whatever_is_granted(make, field, fragment):
    """Granting every opt-in does not make a wrong setting acceptable."""
    error = refused(make, *(o.value for o in OptIn))
    assert matching(error, field, fragment), error


@pytest.mark.parametrize(("make", "field", "fragment"), INVALID)
def test_every_problem_has_a_value_and_a_fix(make, field, fragment):
    """Each problem names the value given and a non-empty fix."""
    for problem in refused(make).problems:
        assert problem.value
        assert problem.fix.strip()


@pytest.mark.parametrize("image", ["", "Not Valid", "busybox@sha256:beef"])
def test_a_bad_first_image_is_a_config_error(image):
    """``sr.builder(bad_image).build()`` raises ConfigError naming the image, not TypeError."""
    with pytest.raises(sr.ConfigError) as excinfo:
        sr.builder(image).build()
    assert [p.field for p in excinfo.value.problems] == ["image"]


def test_unknown_capability_fix_suggests_the_closest_name():
    """A typo in cap_add gets a fix that suggests the capability that was meant."""
    error = refused(build(B.cap_add("NET_BIND_SERVCE")))
    (problem,) = matching(error, "cap_add", "unknown capability")
    assert "did you mean 'NET_BIND_SERVICE'" in problem.fix


# -- seccomp profiles from files -----------------------------------------------


def test_missing_seccomp_file_is_refused(tmp_path):
    """A profile path that does not exist is refused now, naming the path."""
    path = tmp_path / "missing.json"
    error = refused(build(B.seccomp(path)))
    (problem,) = matching(error, "seccomp", "cannot read the profile file")
    assert str(path) in problem.value


def test_seccomp_directory_is_refused(tmp_path):
    """A directory given as the profile is refused as unreadable."""
    assert matching(refused(build(B.seccomp(tmp_path))), "seccomp", "Is a directory")


def test_seccomp_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    """A FIFO is refused at once; reading it would block until something writes to it."""
    fifo = tmp_path / "profile.json"
    os.mkfifo(fifo)
    assert matching(refused(build(B.seccomp(fifo))), "seccomp", "not a regular file")


def test_seccomp_device_is_refused():
    """/dev/zero is refused instead of being read forever."""
    assert matching(refused(build(B.seccomp("/dev/zero"))), "seccomp", "not a regular file")


def test_seccomp_file_over_the_size_limit_is_refused(tmp_path):
    """A profile file larger than MAX_PROFILE_BYTES is refused, whatever it holds."""
    path = tmp_path / "huge.json"
    path.write_text(" " * MAX_PROFILE_BYTES + "{}")
    assert matching(refused(build(B.seccomp(path))), "seccomp", "too large for a profile")


def test_seccomp_file_that_is_not_utf8_is_refused(tmp_path):
    """A profile file that is not UTF-8 text is a ConfigError, not a UnicodeDecodeError."""
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"defaultAction": "\xff"}')
    assert matching(refused(build(B.seccomp(path))), "seccomp", "not UTF-8")


def test_seccomp_file_that_is_not_json_is_refused(tmp_path):
    """A profile file with invalid JSON is refused, naming the file."""
    path = tmp_path / "profile.json"
    path.write_text("{not json", encoding="utf-8")
    (problem,) = matching(refused(build(B.seccomp(path))), "seccomp", "not valid JSON")
    assert str(path) in problem.value


def test_seccomp_file_with_an_invalid_profile_is_refused(tmp_path):
    """A JSON file that is not a valid profile is refused with each error, naming the file."""
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"defaultAction": "NOPE", "syscalls": [7]}), encoding="utf-8")
    error = refused(build(B.seccomp(str(path))))
    assert matching(error, "seccomp", "defaultAction 'NOPE'")
    assert matching(error, "seccomp", "syscalls[0] is not an object")
    assert all(str(path) in p.value for p in error.problems)


def test_seccomp_file_that_allows_everything_needs_the_opt_in(tmp_path):
    """An allow-all profile read from a file is treated as unconfined."""
    path = tmp_path / "allow.json"
    path.write_text(json.dumps(ALLOW_ALL), encoding="utf-8")
    assert matching(refused(build(B.seccomp(path))), "seccomp", "allows every syscall")
    assert OptIn.SECCOMP_UNCONFINED in build(B.seccomp(path))("seccomp-unconfined").waivers()


def test_valid_seccomp_file_builds(tmp_path):
    """A valid restrictive profile file builds with no waiver and remembers its source."""
    path = tmp_path / "profile.json"
    profile = {
        "defaultAction": ERRNO,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["read", "write", "exit"], "action": "SCMP_ACT_ALLOW"}],
    }
    path.write_text(json.dumps(profile), encoding="utf-8")
    cfg = B.seccomp(path).build()
    assert (cfg.seccomp.kind, cfg.seccomp.source) == ("custom", str(path))
    assert json.loads(cfg.seccomp.profile_json) == profile
    assert cfg.waivers() == ()


# -- what is accepted ----------------------------------------------------------


@pytest.mark.parametrize(
    "builder",
    [
        *(
            pytest.param(B.mount(p, "/host"), id=f"read-only-mount({p})")
            for p in SENSITIVE
            if p != "/"
        ),
        pytest.param(B.mount("/etcetera", "/x", read_only=False), id="writable-/etcetera"),
        pytest.param(B.mount("/srv/data", "/data", read_only=False), id="writable-/srv/data"),
        pytest.param(B.mount("data", "/data", read_only=False), id="writable-volume"),
        pytest.param(B.mount("/srv", "/srv", propagation="rslave"), id="propagation-rslave"),
        pytest.param(B.memory("6m", reservation="6m"), id="memory-6m"),
        pytest.param(B.memory("64m", swap="128m"), id="swap-above-memory"),
        pytest.param(B.memory("64m", reservation=None), id="no-reservation"),
        pytest.param(B.cpus(0.01), id="cpus-0.01"),
        pytest.param(B.cpu_quota(1000, 1000), id="quota-1000-period-1000"),
        pytest.param(B.cpu_quota(50_000, 1_000_000), id="period-1000000"),
        pytest.param(B.cpu_shares(2).cpuset("0-1,3"), id="shares-2-cpuset"),
        pytest.param(B.pids_limit(1), id="pids-1"),
        pytest.param(B.ulimit("nofile", -1, -1).ulimit("nproc", 5, -1), id="ulimit-unlimited"),
        pytest.param(NET.publish(8080, 1024), id="host-port-1024"),
        pytest.param(NET.publish(8080, host_ip="::1"), id="publish-::1"),
        pytest.param(NET.publish("53/udp").publish("9/sctp"), id="publish-udp-sctp"),
        pytest.param(B.cap_add("NET_BIND_SERVICE"), id="cap-net-bind-service"),
        pytest.param(B.sysctl("net.ipv4.ip_unprivileged_port_start", 0), id="sysctl-safe"),
        pytest.param(B.seccomp("default").apparmor("docker-default"), id="profiles-default"),
        pytest.param(B.network("container:abc"), id="network-container"),
        pytest.param(B.host_namespace().network("appnet"), id="user-network"),
        pytest.param(B.restart("on-failure", 3).healthcheck("true").stop_timeout(0),
                     id="lifecycle"),
        pytest.param(B.labels({"io.secure-run": "x", "com.example.io.secure-run.x": "y"}),
                     id="labels-outside-namespace"),
    ],
)  # fmt: skip
def test_valid_setting_builds_without_any_waiver(builder):
    """Safe values, including the boundaries of each rule, build and need no opt-in."""
    assert builder.build().waivers() == ()


def test_private_ipc_namespace_is_accepted():
    """``ipc_mode="private"`` (which the builder never sets) is valid and needs no opt-in."""
    assert attrs.evolve(VALID, ipc_mode="private").waivers() == ()


def test_an_unused_opt_in_is_not_a_waiver():
    """Granting an opt-in the config does not rely on builds, and is not listed as a waiver."""
    cfg = B.opt_in("root-user", "privileged").build()
    assert cfg.waivers() == ()


# -- all problems at once ------------------------------------------------------

MANY_BAD = (
    B.user(0)
    .memory("1m")
    .cpus(0)
    .pids_limit(0)
    .ulimit("bogus", 1)
    .labels({"io.secure-run.x": "1"})
    .read_only(False)
    .cap_add("SYS_ADMN")
)
MANY_FIELDS = {"user", "memory", "cpus", "pids_limit", "ulimit", "labels", "read_only", "cap_add"}


def test_many_problems_are_listed_in_one_error():
    """Eight bad settings, found by the builder's calls and by build(), come in one ConfigError."""
    error = refused(build(MANY_BAD))
    assert len(error.problems) >= len(MANY_FIELDS)
    assert {p.field for p in error.problems} >= MANY_FIELDS


def test_error_text_shows_field_value_message_and_fix_for_each_problem():
    """``str(error)`` has one line per problem with its field, value, message and fix."""
    error = refused(build(MANY_BAD))
    text = str(error)
    assert f"({len(error.problems)} problems)" in text
    for problem in error.problems:
        assert f"{problem.field}={problem.value}: {problem.message}; fix: {problem.fix}" in text


def test_problem_str_has_field_value_message_and_fix():
    """A Problem reads ``field=value: message; fix: fix``."""
    problem = sr.Problem("memory", "'1m'", "too small", 'give "6m"')
    assert str(problem) == "memory='1m': too small; fix: give \"6m\""


def test_single_problem_error_says_one_problem():
    """An error with one problem says so in the singular."""
    error = sr.ConfigError([sr.Problem("f", "v", "m", "x")])
    assert "(1 problem)" in str(error)


def test_config_error_needs_a_problem():
    """An empty ConfigError cannot be made: every refusal says why."""
    with pytest.raises(ValueError, match="at least one problem"):
        sr.ConfigError([])


def test_config_error_is_a_value_error_and_a_secure_run_error():
    """ConfigError subclasses both ValueError and SecureRunError, which is an Exception."""
    assert issubclass(sr.ConfigError, ValueError)
    assert issubclass(sr.ConfigError, sr.SecureRunError)
    assert issubclass(sr.SecureRunError, Exception)


def test_a_refused_config_can_be_caught_as_value_error():
    """Code that catches ValueError catches a refused config."""
    with pytest.raises(ValueError):  # noqa: PT011 - the point is the base class
        B.user(0).build()


@pytest.mark.parametrize("path", ["//", "//etc", "//usr/lib"])
def test_writable_mount_spelled_with_a_double_slash_still_needs_the_opt_in(path):
    """``//etc`` is ``/etc`` to the daemon, so its writable mount needs ``sensitive-mount`` too."""
    with pytest.raises(sr.ConfigError):
        B.mount(path, "/host", read_only=False).build()


@pytest.mark.parametrize("folder", ["/", "/run", "/var/run", "/var", "//run/"])
def test_a_folder_holding_the_engine_socket_needs_the_docker_socket_opt_in(folder):
    """Mounting a folder above docker.sock, even read-only, hands over the engine."""
    with pytest.raises(sr.ConfigError) as info:
        B.mount(folder, "/host").build()
    assert [p.field for p in info.value.problems] == ["mount"]
    assert "docker-socket" in info.value.problems[0].message
    cfg = B.mount(folder, "/host").opt_in("docker-socket").build()
    assert OptIn.DOCKER_SOCKET in cfg.waivers()


def test_a_writable_mount_of_root_needs_both_opt_ins():
    """``/`` writable is a sensitive path and holds the engine socket: two waivers."""
    with pytest.raises(sr.ConfigError) as info:
        B.mount("/", "/host", read_only=False).build()
    assert len(info.value.problems) == 2
    cfg = B.mount("/", "/host", read_only=False).opt_in("docker-socket", "sensitive-mount").build()
    assert {OptIn.DOCKER_SOCKET, OptIn.SENSITIVE_MOUNT} <= set(cfg.waivers())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hostname", 123),
        ("privileged", "yes"),
        ("memory", "1g"),
        ("pids_limit", True),
        ("cpus", "1"),
        ("user", "1000"),
        ("group_add", ("x",)),
        ("ulimits", ("nofile",)),
        ("read_only", 1),
    ],
)
def test_evolve_with_a_wrong_type_is_a_config_error(field, value):
    """``attrs.evolve`` with a value of the wrong type names the field and the type."""
    with pytest.raises(sr.ConfigError) as info:
        attrs.evolve(B.build(), **{field: value})
    assert [p.field for p in info.value.problems] == [field]
    assert "must be" in info.value.problems[0].message


_ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.binary(max_size=8), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip
_ONE_ARGUMENT_METHODS = [
    "image", "command", "entrypoint", "workdir", "hostname", "name", "user", "group_add",
    "cap_add", "cap_drop", "privileged", "memory", "cpus", "cpu_quota", "cpu_shares",
    "cpuset", "pids_limit", "read_only", "tmpfs", "network", "publish", "seccomp",
    "apparmor", "no_new_privileges", "init", "runtime", "restart", "healthcheck",
    "stop_timeout", "log_limits", "opt_in", "host_namespace",
]  # fmt: skip


@pytest.mark.parametrize("method", _ONE_ARGUMENT_METHODS)
@settings(max_examples=60, deadline=None, database=None)
@given(value=_ANYTHING)
def test_any_value_to_a_builder_method_builds_or_is_a_config_error(method, value):
    """Whatever a builder method is given, build() returns a RunConfig or raises ConfigError."""
    try:
        cfg = getattr(B, method)(value).build()
    except sr.ConfigError:
        return
    assert isinstance(cfg, sr.RunConfig)


_TWO_ARGUMENT_CALLS: dict[str, Callable[[Any, Any], sr.RunBuilder]] = {
    "memory(limit, reservation)": lambda a, b: B.memory(a, reservation=b),
    "memory(swap=)": lambda a, _: B.memory("64m", swap=a),
    "tmpfs(path, size)": lambda a, b: B.tmpfs(a, size=b),
    "tmpfs(mode=)": lambda a, _: B.tmpfs("/x", mode=a),
    "publish(port, host_port)": lambda a, b: B.network("bridge").publish(a, b),
    "publish(host_ip=)": lambda a, _: B.network("bridge").publish(80, None, a),
    "ulimit(name, soft)": lambda a, b: B.ulimit(a, b),
    "ulimit(soft, hard)": lambda a, b: B.ulimit("nofile", a, b),
    "env(mapping)": lambda a, _: B.env(a),
    "labels(mapping)": lambda a, _: B.labels(a),
    "sysctl(name, value)": lambda a, b: B.sysctl(a, b),
    "device(host, inside)": lambda a, b: B.device(a, b),
    "device(permissions)": lambda a, _: B.device("/dev/null", "/dev/x", a),
    "mount(source, target)": lambda a, b: B.mount(a, b),
    "mount(propagation=)": lambda a, _: B.mount("/srv", "/srv", propagation=a),
    "cpu_quota(quota, period)": lambda a, b: B.cpu_quota(a, b),
    "restart(max_retries)": lambda a, _: B.restart("on-failure", a),
    "healthcheck(interval, retries)": lambda a, b: B.healthcheck(["true"], interval=a, retries=b),
    "log_limits(size, files)": lambda a, b: B.log_limits(a, b),
    "user(uid, gid)": lambda a, b: B.user(a, b),
    "seccomp(mapping)": lambda a, b: B.seccomp({"defaultAction": a, "syscalls": b}),
    "opt_in(a, b)": lambda a, b: B.opt_in(a, b),
}


@pytest.mark.parametrize("call", list(_TWO_ARGUMENT_CALLS), ids=list(_TWO_ARGUMENT_CALLS))
@settings(max_examples=60, deadline=None, database=None)
@given(a=_ANYTHING, b=_ANYTHING)
def test_any_values_to_a_builder_call_build_or_are_a_config_error(call, a, b):
    """Whatever two values a builder call gets, build() gives a RunConfig or a ConfigError."""
    try:
        cfg = _TWO_ARGUMENT_CALLS[call](a, b).build()
    except sr.ConfigError:
        return
    assert isinstance(cfg, sr.RunConfig)


# -- NUL bytes and 64-bit integers, everywhere ----------------------------------


def test_a_nul_byte_in_a_plain_field_is_refused():
    """A NUL in the working directory is refused, naming the field."""
    cfg = B.build()
    error = refused(lambda: attrs.evolve(cfg, workdir="/srv\x00x"))
    assert matching(error, "workdir", "holds a NUL byte")


def test_a_nul_byte_inside_a_value_class_is_refused():
    """A NUL in a tmpfs path, inside the Tmpfs value class, is refused as tmpfs."""
    cfg = B.build()
    bad = attrs.evolve(cfg.tmpfs[0], path="/tmp\x00x")
    error = refused(lambda: attrs.evolve(cfg, tmpfs=(bad,)))
    assert matching(error, "tmpfs", "holds a NUL byte")


def test_a_number_beyond_int64_inside_a_value_class_is_refused():
    """A ulimit beyond the engine's 64-bit integers is refused as ulimits, not sent."""
    cfg = B.build()
    bad = attrs.evolve(cfg.ulimits[0], soft=2**63, hard=2**63)
    error = refused(lambda: attrs.evolve(cfg, ulimits=(bad,)))
    assert matching(error, "ulimits", "beyond the engine's 64-bit integers")


def test_text_that_only_spells_a_nul_is_accepted():
    """The four characters backslash, x, 0, 0 are text, not a NUL byte."""
    assert B.workdir("/srv/\\x00").build().workdir == "/srv/\\x00"
