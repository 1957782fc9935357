"""What a preset container can see and reach: processes, the network, the host's files.

Visibility is the namespaces experiment: a second container's process and the host's
processes are absent from the attacked container's /proc. The network test opens a
listener on the host's 127.0.0.1 only, and no packet is aimed anywhere else. The host
surface test reads the kernel files Docker masks or mounts read-only.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts, engine_facts
from secure_run.testing import ATTACK_TOOL_PATH

from .support import Battery, parse_attack, preset_builder, under_gvisor

#: Docker's masked paths: each, when the host has it, is covered by an empty mount.
MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/firmware",
)

#: Docker's read-only paths: each, when the host has it, is mounted read-only.
READ_ONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

#: Where an engine's socket would be, were it mounted in.
ENGINE_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
)

#: Programs the attacked container runs in the visibility test: all it may see.
OWN_PROGRAMS = {"/sbin/docker-init", "sh", "tr", "hostname"}
#: The same under Podman, whose init is catatonit at /run/podman-init.
OWN_PROGRAMS_PODMAN = (OWN_PROGRAMS - {"/sbin/docker-init"}) | {"/run/podman-init"}

VISIBILITY = r"""
echo "hostname=$(hostname)"
for p in /proc/[0-9]*; do
    echo "proc ${p#/proc/} $(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)"
done
"""

NETWORK = r"""
echo "== dev"; cat /proc/net/dev
echo "== route"; cat /proc/net/route
echo "== route6"; cat /proc/net/ipv6_route 2>/dev/null
echo "== sys"; ls /sys/class/net
echo "== connect"; "$1" connect "$2"
"""


def _host_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _host_cmdlines() -> list[bytes]:
    cmdlines = []
    for pid in _host_pids():
        with contextlib.suppress(OSError):
            cmdlines.append(Path(f"/proc/{pid}/cmdline").read_bytes())
    return cmdlines


def test_other_processes_are_invisible_and_the_hostname_is_its_own(
    docker_client: docker.DockerClient, attack_image: str, preset: str, battery: Battery
) -> None:
    """The host's and a neighbour container's processes are absent from /proc; own hostname.

    Why it fails: each container has its own pid namespace (its /proc lists only its
    own processes) and its own UTS namespace (its hostname is the container's id).
    Under gVisor the host sees the neighbour's sandbox, not its process, so the control
    asks the neighbour itself.
    """
    marker = str(random.randrange(100_000, 1_000_000))  # noqa: S311 - a name, not a secret
    neighbour_cfg = preset_builder("restricted", attack_image).command(["sleep", marker]).build()
    cfg = preset_builder(preset, attack_image).command(["sh", "-c", VISIBILITY]).build()
    with sr.launch(neighbour_cfg, client=docker_client) as neighbour:
        if under_gvisor():
            listing = neighbour.exec(["ps", "-o", "args"]).stdout.decode()
            host_sees_neighbour = f"sleep {marker}" in listing.splitlines()
        else:
            wanted = f"sleep\0{marker}\0".encode()
            host_sees_neighbour = any(c == wanted for c in _host_cmdlines())
        host_processes = len(_host_pids())
        result = sr.run(cfg, client=docker_client, timeout=60)
    out = result.stdout.decode(errors="replace")
    commands = [line.split(" ", 2)[2:] for line in out.splitlines() if line.startswith("proc ")]
    programs = {c[0].split(" ", 1)[0] for c in commands if c and c[0].strip()}
    hostname = out.splitlines()[0].partition("=")[2]

    battery.record(
        "visibility",
        preset,
        control="pid namespace; UTS namespace",
        processes_inside=len(commands),
        processes_on_host=host_processes,
        programs_inside=sorted(programs),
        hostname=hostname,
    )
    assert host_sees_neighbour, "the neighbour's process is not running on the host"
    assert marker not in out, "the neighbour container's process is visible"
    own = OWN_PROGRAMS_PODMAN if engine_facts(docker_client).podman else OWN_PROGRAMS
    assert programs <= own, f"processes that are not the container's own: {programs}"
    assert 0 < len(commands) < host_processes
    assert hostname == result.container_id[:12]
    assert hostname != socket.gethostname()


class _Listener:
    """A TCP listener on the host's 127.0.0.1, on a port the kernel picks; counts accepts."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            conn.close()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.accepted < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.accepted >= count

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture
def host_listener() -> Iterator[_Listener]:
    """A listener on the host's loopback, closed at the end of the test."""
    listener = _Listener()
    try:
        yield listener
    finally:
        listener.close()


def _sections(out: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = ""
    for line in out.splitlines():
        if line.startswith("== "):
            current = line[3:]
            sections[current] = []
        elif line.strip():
            sections.setdefault(current, []).append(line)
    return sections


def test_network_none_has_only_loopback_and_no_way_to_the_host(
    docker_client: docker.DockerClient,
    attack_image: str,
    preset: str,
    battery: Battery,
    host_listener: _Listener,
) -> None:
    """Only lo exists, with no route, and the host's 127.0.0.1 listener is unreachable.

    Why it fails: network ``none`` gives the container a network namespace of its own
    holding only a loopback device; its 127.0.0.1 is its own, where nothing listens.
    """
    with socket.create_connection(("127.0.0.1", host_listener.port), timeout=5):
        pass  # the control: the listener answers the host itself
    assert host_listener.wait_for(1), "the host listener did not accept the host's connection"
    cfg = (
        preset_builder(preset, attack_image)
        .command(["sh", "-c", NETWORK, "sh", ATTACK_TOOL_PATH, str(host_listener.port)])
        .build()
    )
    result = sr.run(cfg, client=docker_client, timeout=60)
    sections = _sections(result.stdout.decode())
    interfaces = sorted(line.split(":", 1)[0].strip() for line in sections["dev"][2:])
    routes = sections["route"][1:]
    routes6 = [line.split()[-1] for line in sections.get("route6", [])]
    connect = parse_attack(sections["connect"][0])
    time.sleep(0.2)  # let the accept loop see a connection, had there been one

    battery.record(
        "network",
        preset,
        control="network none: own network namespace with only lo",
        interfaces=interfaces,
        ipv4_routes=len(routes),
        ipv6_route_devices=sorted(set(routes6)),
        connect_to_host_port=connect[1],
        host_listener_accepted_from_container=host_listener.accepted - 1,
    )
    assert interfaces == ["lo"]
    assert sorted(sections["sys"]) == ["lo"]
    assert routes == [], f"IPv4 routes: {routes}"
    assert set(routes6) <= {"lo"}, f"IPv6 routes through {set(routes6)}"
    assert connect == ("connect", "ECONNREFUSED")
    assert host_listener.accepted == 1, "the host listener saw a connection from the container"


def _mounts(mountinfo: str) -> dict[str, set[str]]:
    """Each mount point of /proc/self/mountinfo with its per-mount options."""
    mounts: dict[str, set[str]] = {}
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        mounts[fields[4]] = set(fields[5].split(","))
    return mounts


def test_host_kernel_files_are_masked_or_read_only_and_no_engine_socket(
    docker_client: docker.DockerClient,
    attack_image: str,
    preset: str,
    battery: Battery,
    engine: EngineFacts,
) -> None:
    """/proc/keys and the like read empty, /proc/sys is read-only even to uid 0, no socket.

    Why it fails: the engine covers its masked paths with an empty mount (/dev/null or
    an empty read-only tmpfs) and remounts its read-only paths read-only, so even uid 0
    inside, whose file permissions would allow a write, gets EROFS; and no engine
    socket is mounted in (a config refuses one without the docker-socket opt-in).
    Under userns-remap (or a rootless engine, whose uid 0 is its unprivileged user), uid 0
    inside does not own the host's /proc/sys files, so the permission check refuses the
    write first (EACCES); the read-only mount is still checked in mountinfo. gVisor's
    /proc and /sys are the sentry's own: the masked paths are absent or empty there,
    /proc/sysrq-trigger does not exist, and its /proc/sys refuses the write with EACCES.
    """
    masked = [p for p in MASKED_PATHS if os.path.exists(p)]
    read_only = [p for p in READ_ONLY_PATHS if os.path.exists(p)]
    if not masked or "/proc/sys" not in read_only:
        pytest.skip(f"this host has none of {MASKED_PATHS} or no /proc/sys")
    cfg = preset_builder(preset, attack_image).command(["sleep", "60"]).build()
    with sr.launch(cfg, client=docker_client) as container:
        mountinfo = container.exec(["cat", "/proc/self/mountinfo"]).stdout.decode()
        mounts = _mounts(mountinfo)
        reads: dict[str, str] = {}
        for path in masked:
            if os.path.isdir(path):
                listing = container.exec(["ls", "-A", path], user="0")
                reads[path] = f"entries={len(listing.stdout.split())}"
            else:
                line = container.exec([ATTACK_TOOL_PATH, "read", path], user="0").stdout.decode()
                reads[path] = line.strip().partition(": ")[2]
        writes = {"/proc/sys/kernel/hostname": "sr-attack"}
        if "/proc/sysrq-trigger" in read_only:
            writes["/proc/sysrq-trigger"] = "h"  # help: harmless, were it ever to pass
        written = {
            path: parse_attack(
                container.exec([ATTACK_TOOL_PATH, "write", path, data], user="0").stdout.decode()
            )[1]
            for path, data in writes.items()
        }
        sockets = {
            path: container.exec(["test", "-e", path]).exit_code == 0 for path in ENGINE_SOCKETS
        }

    battery.record(
        "host-surface",
        preset,
        control="masked paths; read-only paths; no engine socket mounted",
        masked=reads,
        read_only=[p for p in read_only if "ro" in mounts.get(p, set())],
        absent_on_host=[p for p in MASKED_PATHS + READ_ONLY_PATHS if not os.path.exists(p)],
        writes_as_uid0=written,
        engine_sockets=[p for p, present in sockets.items() if present],
    )
    if under_gvisor():
        for path in masked:
            absent = reads[path].startswith("errno=ENOENT")
            assert absent or reads[path] in ("entries=0", "ok bytes=0"), f"{path}: {reads[path]}"
        gvisor_writes = {"/proc/sys/kernel/hostname": "EACCES", "/proc/sysrq-trigger": "ENOENT"}
        assert written == {path: gvisor_writes[path] for path in writes}
    else:
        for path in masked:
            assert path in mounts, f"{path} is not masked"
            expected = "entries=0" if os.path.isdir(path) else "ok bytes=0"
            assert reads[path] == expected, f"{path} as uid 0: {reads[path]}"
        for path in read_only:
            assert "ro" in mounts.get(path, set()), f"{path} is not mounted read-only"
        in_user_namespace = engine.userns or engine.rootless
        assert written == dict.fromkeys(writes, "EACCES" if in_user_namespace else "EROFS")
    assert not any(sockets.values()), f"an engine socket is inside: {sockets}"
    assert not any(name in mountinfo for name in ("docker.sock", "containerd.sock"))
