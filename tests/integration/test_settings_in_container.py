"""Every builder setting, launched through docker-py and proven from inside the container.

Each case changes one setting of the restricted preset and reads the result where the
kernel keeps it: /proc/self/status, the cgroup files, the mounts, /proc/net. Settings
with nothing to see from inside (a port binding, a restart policy, a log driver) are
shown by the engine's own record of the running container, and say so.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import docker
import pytest

import secure_run as sr
from secure_run._audit.daemon import locate_daemon
from secure_run._proof.probe import Probe
from secure_run.testing import TEST_LABELS

Change = Callable[[sr.RunBuilder], sr.RunBuilder]
Check = Callable[[Probe], bool]

# (id, the one setting changed, what the probe must show)
PROBED: list[tuple[str, Change, Check]] = [
    ("user", lambda b: b.user(1000, 1000), lambda p: (p.uid, p.gid) == (1000, 1000)),
    ("user-gid-defaults-to-uid", lambda b: b.user(4321), lambda p: (p.uid, p.gid) == (4321, 4321)),
    ("group_add", lambda b: b.group_add(2000, 2001), lambda p: {2000, 2001} <= set(p.groups)),
    (
        "cap_add-non-root-bounding-only",
        lambda b: b.cap_add("net_bind_service", "CAP_KILL").opt_in("extra-capability"),
        lambda p: p.cap_bnd == {"NET_BIND_SERVICE", "KILL"} and p.cap_eff == frozenset(),
    ),
    (
        "cap_add-root-effective",
        lambda b: b.user(0).opt_in("root-user", "extra-capability").cap_add("CHOWN"),
        lambda p: p.uid == 0 and p.cap_eff == {"CHOWN"} and p.cap_bnd == {"CHOWN"},
    ),
    (
        "cap_drop",
        lambda b: b.cap_add("CHOWN", "KILL").cap_drop("KILL").opt_in("extra-capability"),
        lambda p: p.cap_bnd == {"CHOWN"},
    ),
    (
        "memory",
        lambda b: b.memory("64m", reservation="32m"),
        lambda p: (
            (p.memory_limit, p.memory_reservation, p.memory_swap_limit)
            == (64 << 20, 32 << 20, 64 << 20)
        ),
    ),
    (
        "memory-swap",
        lambda b: b.memory("64MiB", reservation=None, swap="128m"),
        lambda p: (
            (p.memory_limit, p.memory_reservation, p.memory_swap_limit)
            == (64 << 20, None, 128 << 20)
        ),
    ),
    ("cpus", lambda b: b.cpus(0.5), lambda p: (p.cpu_quota_us, p.cpu_period_us) == (50000, 100000)),
    (
        "cpu_quota",
        lambda b: b.cpu_quota(20000, 50000),
        lambda p: (p.cpu_quota_us, p.cpu_period_us) == (20000, 50000),
    ),
    # cgroup v1 keeps the shares; v2 converts them to a weight (two runc formulas exist).
    (
        "cpu_shares",
        lambda b: b.cpu_shares(512),
        lambda p: p.cpu_shares == 512 or p.cpu_weight in (20, 59),
    ),
    ("cpuset", lambda b: b.cpuset("0"), lambda p: p.cpuset == "0"),
    ("pids_limit", lambda b: b.pids_limit(42), lambda p: p.pids_limit == 42),
    (
        "ulimit",
        lambda b: b.ulimit("nofile", 100, 200).ulimit("stack", 1 << 20),
        lambda p: (
            (p.limits["nofile"].soft, p.limits["nofile"].hard, p.limits["stack"].hard)
            == (100, 200, 1 << 20)
        ),
    ),
    (
        "read_only",
        lambda b: b.read_only(),
        lambda p: p.mount("/").read_only and not p.root_writable,
    ),
    (
        "read_only-off",
        lambda b: b.read_only(False).opt_in("writable-root"),
        lambda p: p.mount("/").read_only is False,
    ),
    (
        "read_only-off-as-root-writes",
        lambda b: b.read_only(False).opt_in("writable-root", "root-user").user(0),
        lambda p: p.root_writable is True,
    ),
    (
        "tmpfs",
        lambda b: b.tmpfs("/scratch", size="8m", mode=0o1770).user(1000, 1000),
        lambda p: (
            (p.mount("/scratch").size_bytes, p.mount("/scratch").mode) == (8 << 20, 0o1770)
            and p.mount("/scratch").noexec
            and p.mount("/scratch").nosuid
        ),
    ),
    (
        "tmpfs-exec",
        lambda b: b.tmpfs("/scratch", size="4m", exec=True),
        lambda p: not p.mount("/scratch").noexec and p.tmpfs_writable["/scratch"],
    ),
    (
        "network-none",
        lambda b: b.network("none"),
        lambda p: p.interfaces == ("lo",) and p.route_count == 0,
    ),
    ("hostname", lambda b: b.hostname("sandbox-7"), lambda p: p.hostname == "sandbox-7"),
    ("no_new_privileges", lambda b: b.no_new_privileges(), lambda p: p.no_new_privs is True),
    (
        "no_new_privileges-off",
        lambda b: b.no_new_privileges(False).opt_in("new-privileges"),
        lambda p: p.no_new_privs is False,
    ),
    ("seccomp-default", lambda b: b.seccomp("default"), lambda p: p.seccomp_mode == 2),
    (
        "seccomp-unconfined",
        lambda b: b.seccomp("unconfined").opt_in("seccomp-unconfined"),
        lambda p: p.seccomp_mode == 0,
    ),
    ("init", lambda b: b.init(), lambda p: p.pid != 1 and 1 in p.visible_pids),
    ("init-off", lambda b: b.init(False), lambda p: p.pid == 1),
    (
        "host_namespace-pid",
        lambda b: b.host_namespace("pid").opt_in("host-namespace"),
        lambda p: len(p.visible_pids) > 10 and os.getpid() in p.visible_pids,
    ),
    (
        "host_namespace-uts",
        lambda b: b.host_namespace("uts").opt_in("host-namespace"),
        lambda p: p.hostname == os.uname().nodename,
    ),
]


@pytest.mark.parametrize(("change", "check"), [c[1:] for c in PROBED], ids=[c[0] for c in PROBED])
def test_setting_is_seen_inside(
    restricted: sr.RunBuilder,
    probe: Callable[[sr.RunBuilder], Probe],
    change: Change,
    check: Check,
    unremapped: Callable[[sr.RunBuilder], sr.RunBuilder],
) -> None:
    """The container really got the one setting changed (see the case id)."""
    got = probe(unremapped(change(restricted)))
    assert check(got), got


def _run(launch: Callable, builder: sr.RunBuilder, *argv: str) -> Any:
    return launch(builder.command(list(argv)).labels(TEST_LABELS).build())


def test_command_and_entrypoint(restricted: sr.RunBuilder, launch: Callable) -> None:
    """The entrypoint receives the command's arguments as given."""
    got = _run(launch, restricted.entrypoint(["/bin/echo", "first"]), "second", "third")
    assert got.output == "first second third\n"


def test_env_values_arrive_literally(restricted: sr.RunBuilder, launch: Callable) -> None:
    """Environment values with shell metacharacters reach the process unexpanded."""
    value = "a b; $HOME `id` $(id) 'q' \"d\" *"
    got = _run(launch, restricted.env(PAYLOAD=value), "/bin/env")
    assert f"PAYLOAD={value}\n" in got.output


def test_workdir(restricted: sr.RunBuilder, launch: Callable) -> None:
    """The process starts in the working directory given."""
    got = _run(launch, restricted.workdir("/tmp"), "/bin/pwd")
    assert got.output == "/tmp\n"


def test_name_and_labels(restricted: sr.RunBuilder, launch: Callable) -> None:
    """The engine records the name, the user's labels and the config digest label."""
    name = f"secure-run-test-{os.getpid()}"
    cfg = restricted.name(name).labels(TEST_LABELS, team="blue").command(["true"]).build()
    got = launch(cfg)
    labels = got.attrs["Config"]["Labels"]
    assert got.attrs["Name"] == "/" + name
    assert labels["team"] == "blue"
    assert labels["io.secure-run.config-digest"] == cfg.digest()
    assert labels["io.secure-run.preset"] == "restricted"


def test_opt_ins_are_recorded_as_a_label(restricted: sr.RunBuilder, launch: Callable) -> None:
    """The waivers a config uses are on the container, for an audit to find."""
    builder = restricted.user(0).read_only(False).opt_in("root-user", "writable-root", "devices")
    got = _run(launch, builder, "true")
    assert got.attrs["Config"]["Labels"]["io.secure-run.opt-ins"] == "root-user,writable-root"


def test_bind_mount_read_only(restricted: sr.RunBuilder, probe: Callable, tmp_path: Path) -> None:
    """A bind mount is read-only by default, and writable when asked."""
    (tmp_path / "ro").mkdir()
    (tmp_path / "rw").mkdir()
    builder = restricted.mount(str(tmp_path / "ro"), "/data").mount(
        str(tmp_path / "rw"), "/out", read_only=False
    )
    got = probe(builder)
    assert got.mount("/data").read_only is True
    assert got.mount("/out").read_only is False


def test_named_volume(restricted: sr.RunBuilder, probe: Callable, docker_client) -> None:
    """A named volume is mounted read-only by default."""
    volume = docker_client.volumes.create(f"secure-run-test-{os.getpid()}", labels=TEST_LABELS)
    try:
        got = probe(restricted.mount(volume.name, "/vol"))
    finally:
        volume.remove(force=True)
    assert got.mount("/vol").read_only is True


def test_custom_seccomp_profile_from_file(
    restricted: sr.RunBuilder, launch: Callable, tmp_path: Path
) -> None:
    """A seccomp profile read from a file is the one enforced: its denied syscall fails."""
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }
    path = tmp_path / "deny-mkdir.json"
    path.write_text(json.dumps(profile))
    script = "mkdir /tmp/d; echo rc=$?"
    denied = _run(launch, restricted.seccomp(path), "/bin/sh", "-c", script)
    allowed = _run(launch, restricted, "/bin/sh", "-c", script)
    assert "rc=1" in denied.output
    assert "rc=0" in allowed.output


def test_custom_seccomp_profile_from_mapping(restricted: sr.RunBuilder, launch: Callable) -> None:
    """A seccomp profile given as a mapping is enforced too."""
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}],
    }
    got = _run(launch, restricted.seccomp(profile), "/bin/sh", "-c", "/bin/pwd; echo rc=$?")
    assert "rc=1" in got.output


def test_no_new_privileges_stops_the_setuid_helper(
    restricted: sr.RunBuilder, launch: Callable
) -> None:
    """Under no-new-privileges the setuid-root helper keeps euid 1000; without it, euid is 0."""
    user = restricted.user(1000, 1000)
    held = _run(launch, user, "/usr/local/bin/suid-probe")
    assert "euid=1000" in held.output
    waived = user.no_new_privileges(False).opt_in("new-privileges")
    escalated = _run(launch, waived, "/usr/local/bin/suid-probe")
    assert "euid=0" in escalated.output


def test_sysctl(restricted: sr.RunBuilder, launch: Callable) -> None:
    """A safe namespaced sysctl is set in the container's own namespace."""
    builder = restricted.sysctl("net.ipv4.ip_unprivileged_port_start", 80)
    got = _run(launch, builder, "/bin/cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start")
    assert got.output == "80\n"


def test_device(restricted: sr.RunBuilder, launch: Callable, unremapped: Callable) -> None:
    """A device given with its opt-in appears as that character device."""
    builder = unremapped(restricted.device("/dev/null", "/dev/hostnull", "r").opt_in("devices"))
    got = _run(launch, builder, "/bin/sh", "-c", "test -c /dev/hostnull && echo char")
    assert got.output == "char\n"


@pytest.mark.parametrize("kind", ["ipc", "network"])
def test_host_namespace_shares_the_hosts(
    restricted: sr.RunBuilder,
    launch: Callable,
    kind: str,
    unremapped: Callable,
    docker_client: docker.DockerClient,
) -> None:
    """A host namespace opt-in really joins the engine host's namespace (same inode).

    The host's is dockerd's own (an engine may run in a network namespace of its own).
    """
    ns = {"ipc": "ipc", "network": "net"}[kind]
    builder = unremapped(restricted.host_namespace(kind).opt_in("host-namespace"))
    got = _run(launch, builder, "/bin/readlink", f"/proc/self/ns/{ns}")
    private = _run(launch, restricted, "/bin/readlink", f"/proc/self/ns/{ns}")
    daemon = locate_daemon(docker_client, rootless=False)
    pid = daemon.pid if daemon is not None and daemon.pid is not None else "self"
    host = os.readlink(f"/proc/{pid}/ns/{ns}")
    assert got.output.strip() == host
    assert private.output.strip() != host


# --- settings with nothing to read from inside: the engine's record of them -----------


def _started(client: docker.DockerClient, cfg: sr.RunConfig) -> Any:
    container = client.containers.run(**cfg.to_docker_kwargs(), detach=True)
    return container


def test_publish_binds_loopback(
    restricted: sr.RunBuilder, docker_client: docker.DockerClient, internal_network: str
) -> None:
    """A published port is bound on 127.0.0.1 (engine record; tests use internal networks)."""
    cfg = restricted.network(internal_network).publish(8080, 18080).command(["sleep", "30"])
    container = _started(docker_client, cfg.labels(TEST_LABELS).build())
    try:
        bindings = docker_client.api.inspect_container(container.id)["HostConfig"]["PortBindings"]
    finally:
        container.remove(force=True)
    assert bindings == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}


def test_restart_policy_restarts(restricted: sr.RunBuilder, docker_client) -> None:
    """on-failure with 2 retries restarts a failing container exactly twice."""
    cfg = restricted.restart("on-failure", 2).command(["false"]).labels(TEST_LABELS).build()
    container = _started(docker_client, cfg)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = docker_client.api.inspect_container(container.id)
            if state["RestartCount"] == 2 and not state["State"]["Running"]:
                break
            time.sleep(0.2)
        policy = state["HostConfig"]["RestartPolicy"]
    finally:
        container.remove(force=True)
    assert policy == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert state["RestartCount"] == 2


def test_healthcheck_reports_healthy(restricted: sr.RunBuilder, docker_client) -> None:
    """The healthcheck runs inside the container and the engine reports it healthy."""
    cfg = (
        restricted.healthcheck(["/bin/true"], interval=0.2, timeout=1, retries=1)
        .command(["sleep", "30"])
        .labels(TEST_LABELS)
        .build()
    )
    container = _started(docker_client, cfg)
    try:
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline and status != "healthy":
            time.sleep(0.2)
            status = docker_client.api.inspect_container(container.id)["State"]["Health"]["Status"]
    finally:
        container.remove(force=True)
    assert status == "healthy"


def test_log_limits(restricted: sr.RunBuilder, launch: Callable) -> None:
    """The json-file driver is set with the size and file-count limits."""
    got = _run(launch, restricted.log_limits("1m", 2), "true")
    assert got.attrs["HostConfig"]["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-file": "2", "max-size": "1048576"},
    }


def test_runtime(restricted: sr.RunBuilder, launch: Callable) -> None:
    """The named OCI runtime is the one the engine used (runc is the one installed here)."""
    got = _run(launch, restricted.runtime("runc"), "true")
    assert (got.status, got.attrs["HostConfig"]["Runtime"]) == (0, "runc")


def test_privileged_is_requested(
    restricted: sr.RunBuilder, docker_client, unremapped: Callable
) -> None:
    """Privileged mode reaches the engine (created only: this host refuses to start it)."""
    cfg = unremapped(restricted.privileged().opt_in("privileged")).labels(TEST_LABELS).build()
    container = docker_client.containers.create(**cfg.to_docker_kwargs())
    try:
        host = docker_client.api.inspect_container(container.id)["HostConfig"]
    finally:
        container.remove(force=True)
    assert host["Privileged"] is True


def test_apparmor_profile(restricted: sr.RunBuilder, launch: Callable, docker_client) -> None:
    """The AppArmor profile named is the one confining the process (hosts with AppArmor)."""
    security = " ".join(docker_client.info().get("SecurityOptions", []))
    if "apparmor" not in security:
        pytest.skip(f"the engine reports no AppArmor ({security}); nothing to confine with")
    got = _run(launch, restricted.apparmor("docker-default"), "/bin/cat", "/proc/self/attr/current")
    assert got.output.startswith("docker-default")
