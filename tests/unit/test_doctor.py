"""doctor()'s rules on recorded engine payloads, and its readers on fake /proc and /etc trees.

``tests/data/doctor/*.json`` were recorded from the real Docker 20.10.24 engine
(cgroup v1, seccomp, no AppArmor or SELinux) by ``tests/data/doctor/record.py``:
``info()``, ``version()``, the default bridge network, and a running container with
the Docker socket mounted read-only. Each rule test edits one field of them; the
host-side tests write a dockerd command line, a daemon.json and group and passwd
files under ``tmp_path``.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import docker.errors
import pytest
import requests

from secure_run._audit.audit import _audit
from secure_run._audit.doctor import (
    ENGINE_LINES,
    ENGINE_LINES_REVIEWED,
    RULES,
    DaemonConfig,
    DoctorFinding,
    DoctorReport,
    Observed,
    SocketFacts,
    diagnose,
    doctor,
    read_daemon_config,
    read_socket,
)
from secure_run._engine.facts import EngineFacts
from secure_run._errors import DaemonUnavailable, LaunchError

DATA = Path(__file__).parent.parent / "data" / "doctor"
INFO: dict[str, Any] = json.loads((DATA / "info.json").read_text())
VERSION: dict[str, Any] = json.loads((DATA / "version.json").read_text())
BRIDGE: dict[str, Any] = json.loads((DATA / "bridge.json").read_text())
SOCKET_MOUNTED: dict[str, Any] = json.loads((DATA / "socket_mounted.json").read_text())
ADDRESS = "unix:///var/run/docker.sock"
SOCKET = SocketFacts(
    path="/var/run/docker.sock",
    uid=0,
    gid=105,
    mode=stat.S_IFSOCK | 0o660,
    owner="root",
    group="docker",
    group_found=True,
)
DAEMON = DaemonConfig(pid=4242, argv=("dockerd",), config_path="/etc/docker/daemon.json")

#: What the recorded engine gets, check by check.
RECORDED_VERDICTS = {
    "engine-version": "warn",
    "api-version": "warn",
    "kernel": "pass",
    "2.2-icc": "warn",
    "2.8-default-ulimits": "info",
    "2.9-userns-remap": "warn",
    "2.14-no-new-privileges": "warn",
    "2.15-live-restore": "warn",
    "2.16-userland-proxy": "warn",
    "2.17-seccomp": "pass",
    "apparmor-selinux": "warn",
    "rootless": "info",
    "cgroup": "info",
    "swap-limit": "pass",
    "insecure-registries": "pass",
    "experimental": "pass",
    "logging-driver": "warn",
    "socket-permissions": "pass",
    "socket-group-members": "pass",
    "tcp-without-tls": "pass",
    "privileged-containers": "pass",
    "socket-mounted-containers": "pass",
}


def observed(
    *,
    info: dict[str, Any] | None = None,
    version: dict[str, Any] | None = None,
    api_version: str = "1.41",
    **changes: Any,
) -> Observed:
    """The recorded engine's observations, with ``changes`` applied."""
    info = copy.deepcopy(INFO) if info is None else info
    version = copy.deepcopy(VERSION) if version is None else version
    fields: dict[str, Any] = {
        "facts": EngineFacts.parse(info, version, api_version=api_version, local=True),
        "info": info,
        "address": ADDRESS,
        "bridge": copy.deepcopy(BRIDGE),
        "containers": (),
        "daemon": DAEMON,
        "socket": SOCKET,
        "today": ENGINE_LINES_REVIEWED,
    }
    fields.update(changes)
    return Observed(**fields)


def info_with(**fields: Any) -> dict[str, Any]:
    """The recorded ``info()`` with top-level fields replaced."""
    info = copy.deepcopy(INFO)
    info.update(fields)
    return info


def version_with(server: str, api: str = "1.41") -> dict[str, Any]:
    """The recorded ``version()`` claiming another engine version and API."""
    version = copy.deepcopy(VERSION)
    version.update(Version=server, ApiVersion=api)
    return version


def check(obs: Observed, finding_id: str) -> DoctorFinding:
    """The finding with ``finding_id`` in the report on ``obs``."""
    found = [f for f in diagnose(obs).findings if f.id == finding_id]
    assert len(found) == 1, finding_id
    return found[0]


def config(argv: tuple[str, ...] = ("dockerd",), **settings: Any) -> DaemonConfig:
    """A daemon read from ``argv`` and a daemon.json holding ``settings``."""
    return DaemonConfig(
        pid=4242,
        argv=argv,
        config_path="/etc/docker/daemon.json",
        config=settings,
        config_found=bool(settings),
    )


def running(**host_config: Any) -> dict[str, Any]:
    """The recorded socket-mounted container, without its mount, with HostConfig edits."""
    container = copy.deepcopy(SOCKET_MOUNTED)
    container["Mounts"] = []
    container["HostConfig"].update(host_config)
    return container


# -- the recorded engine ---------------------------------------------------------------


def test_every_rule_gives_one_finding_with_a_known_id():
    """The report has one finding per rule, each id once, in the documented set."""
    report = diagnose(observed())
    assert [f.id for f in report.findings] == list(RECORDED_VERDICTS)
    assert len(report.findings) == len(RULES)


@pytest.mark.parametrize(("finding_id", "status"), RECORDED_VERDICTS.items())
def test_recorded_engine_verdict(finding_id: str, status: str):
    """Each check's verdict on the recorded Docker 20.10.24 engine."""
    assert check(observed(), finding_id).status == status


def test_every_warning_carries_evidence_and_a_remedy():
    """A warn names what was read and says what to do."""
    for finding in diagnose(observed()).failures:
        assert finding.evidence, finding.id
        assert finding.remedy, finding.id


# -- versions ----------------------------------------------------------------------------


def test_engine_20_10_is_end_of_life():
    """20.10 warns, with its end date, the table's review date and the distro build noted."""
    finding = check(observed(), "engine-version")
    assert finding.status == "warn"
    assert "20.10.24+dfsg1" in finding.evidence
    assert "2023-12-10" in finding.evidence
    assert str(ENGINE_LINES_REVIEWED) in finding.evidence
    assert "distribution" in finding.evidence
    assert "29.x" in finding.remedy


@pytest.mark.parametrize(
    ("server", "status"),
    [
        ("29.1.2", "pass"),
        ("28.5.1", "pass"),
        ("27.5.1", "warn"),
        ("26.1.5", "warn"),
        ("24.0.9", "warn"),
        ("23.0.16", "warn"),
        ("19.03.15", "warn"),
        ("1.13.1", "warn"),
        ("31.0.0", "info"),
        ("22.06.0-beta.0", "info"),
        ("master-dockerproject-2026", "info"),
    ],
)
def test_engine_release_lines(server: str, status: str):
    """Maintained lines pass, unmaintained and older ones warn, unknown ones are info."""
    obs = observed(version=version_with(server))
    assert check(obs, "engine-version").status == status


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (datetime.date(2026, 6, 1), "pass"),
        (ENGINE_LINES_REVIEWED, "info"),
        (datetime.date(2026, 12, 4), "warn"),
    ],
)
def test_a_line_with_an_end_date_changes_verdict_as_it_nears(today: datetime.date, status: str):
    """25.0 (maintained until 2026-12-04) passes, then is info within 90 days, then warns."""
    obs = observed(version=version_with("25.0.8", "1.44"), today=today)
    finding = check(obs, "engine-version")
    assert finding.status == status
    assert "2026-12-04" in finding.evidence


def test_the_table_is_newest_first_and_names_the_supported_lines():
    """The release table is ordered and has 29.x and 28.x maintained, 20.10 ended."""
    majors = [line.major for line in ENGINE_LINES]
    assert majors == sorted(majors, reverse=True)
    maintained = {line.name for line in ENGINE_LINES if line.maintained}
    assert {"29.x", "28.x"} <= maintained
    assert "20.10" not in maintained


@pytest.mark.parametrize(
    ("api", "status"), [("1.41", "warn"), ("1.43", "warn"), ("1.44", "pass"), ("1.51", "pass"),
                        ("1.60", "info")]
)  # fmt: skip
def test_api_version_against_maintained_lines(api: str, status: str):
    """API 1.41 is only spoken by dead engines; 1.44 (25.0) and newer pass; unknown is info."""
    finding = check(observed(version=version_with("28.5.1", api)), "api-version")
    assert finding.status == status
    assert f"engine API {api}" in finding.evidence


@pytest.mark.parametrize(
    ("kernel", "status"),
    [
        ("3.2.0-4-amd64", "warn"),
        ("4.9.0-8-amd64", "warn"),
        ("4.18.0-553.el8_10.x86_64", "info"),
        ("5.10.0-30-amd64", "pass"),
        ("6.18.44-fc-v669", "pass"),
        ("", "info"),
    ],
)
def test_kernel_thresholds(kernel: str, status: str):
    """Below 4.10 warns, below 5.10 is info (a distro may maintain it), newer passes."""
    obs = observed(info=info_with(KernelVersion=kernel), version=version_with("28.5.1"))
    obs = attrs.evolve(obs, facts=attrs.evolve(obs.facts, kernel_version=kernel))
    finding = check(obs, "kernel")
    assert finding.status == status
    assert "KernelVersion" in finding.evidence


# -- daemon settings ---------------------------------------------------------------------


def test_icc_on_the_default_bridge_warns():
    """The recorded bridge has enable_icc=true; the evidence names the option and daemon.json."""
    finding = check(observed(), "2.2-icc")
    assert finding.status == "warn"
    assert "enable_icc=true" in finding.evidence
    assert "/etc/docker/daemon.json (no such file)" in finding.evidence


def test_icc_off_passes():
    """A bridge with enable_icc=false passes, and the daemon.json setting is quoted."""
    bridge = copy.deepcopy(BRIDGE)
    bridge["Options"]["com.docker.network.bridge.enable_icc"] = "false"
    finding = check(observed(bridge=bridge, daemon=config(icc=False)), "2.2-icc")
    assert finding.status == "pass"
    assert '"icc": false' in finding.evidence


def test_icc_without_a_default_bridge_is_not_applicable():
    """With --bridge=none there is no default bridge to judge."""
    assert check(observed(bridge=None), "2.2-icc").status == "not_applicable"


@pytest.mark.parametrize(
    ("options", "status"),
    [
        (["name=seccomp,profile=default"], "warn"),
        (["name=seccomp,profile=default", "name=userns"], "pass"),
        (["name=seccomp,profile=default", "name=rootless"], "pass"),
    ],
)
def test_userns_remap(options: list[str], status: str):
    """Without name=userns (or rootless) container root is host root."""
    finding = check(observed(info=info_with(SecurityOptions=options)), "2.9-userns-remap")
    assert finding.status == status
    assert "SecurityOptions" in finding.evidence


def test_userns_remap_setting_is_quoted():
    """The configured userns-remap value appears in the evidence."""
    obs = observed(
        info=info_with(SecurityOptions=["name=seccomp,profile=default", "name=userns"]),
        daemon=config(("dockerd", "--userns-remap=default")),
    )
    assert "userns-remap='default'" in check(obs, "2.9-userns-remap").evidence


@pytest.mark.parametrize(
    ("daemon", "status"),
    [
        (config(("dockerd", "--no-new-privileges")), "pass"),
        (config(**{"no-new-privileges": True}), "pass"),
        (config(**{"no-new-privileges": False}), "warn"),
        (config(("dockerd", "--no-new-privileges=false")), "warn"),
        (config(), "warn"),
        (None, "info"),
        (DaemonConfig(problem="no dockerd process in /proc"), "info"),
    ],
)
def test_no_new_privileges(daemon: DaemonConfig | None, status: str):
    """Pass only when the command line or daemon.json sets it; unreadable is info."""
    finding = check(observed(daemon=daemon), "2.14-no-new-privileges")
    assert finding.status == status
    if daemon is not None and daemon.known:
        assert "/proc/4242/cmdline" in finding.evidence


@pytest.mark.parametrize(
    ("live", "swarm", "status"),
    [(True, "inactive", "pass"), (False, "inactive", "warn"), (False, "active", "not_applicable")],
)
def test_live_restore(live: bool, swarm: str, status: str):
    """Live restore off warns, except in swarm mode, where it cannot be used."""
    info = info_with(LiveRestoreEnabled=live)
    info["Swarm"]["LocalNodeState"] = swarm
    finding = check(observed(info=info), "2.15-live-restore")
    assert finding.status == status
    assert "LiveRestoreEnabled" in finding.evidence


@pytest.mark.parametrize(
    ("options", "status"),
    [
        (["name=seccomp,profile=default"], "pass"),
        (["name=seccomp,profile=builtin"], "pass"),
        (["name=seccomp,profile=unconfined"], "warn"),
        (["name=seccomp,profile=/etc/docker/seccomp.json"], "info"),
        ([], "warn"),
    ],
)
def test_seccomp(options: list[str], status: str):
    """The default (or builtin) profile passes; none or unconfined warns; custom is info."""
    finding = check(observed(info=info_with(SecurityOptions=options)), "2.17-seccomp")
    assert finding.status == status
    assert "SecurityOptions" in finding.evidence


@pytest.mark.parametrize(
    ("options", "status"),
    [
        (["name=seccomp,profile=default"], "warn"),
        (["name=apparmor", "name=seccomp,profile=default"], "pass"),
        (["name=seccomp,profile=default", "name=selinux"], "pass"),
    ],
)
def test_apparmor_or_selinux(options: list[str], status: str):
    """Neither AppArmor nor SELinux warns; either passes."""
    finding = check(observed(info=info_with(SecurityOptions=options)), "apparmor-selinux")
    assert finding.status == status


@pytest.mark.parametrize(
    ("options", "status"),
    [(["name=seccomp,profile=default"], "info"), (["name=rootless"], "pass")],
)
def test_rootless(options: list[str], status: str):
    """A root daemon is info (a choice, CIS 2.1); a rootless one passes."""
    assert check(observed(info=info_with(SecurityOptions=options)), "rootless").status == status


@pytest.mark.parametrize(
    ("version", "driver", "status"),
    [("1", "cgroupfs", "info"), ("2", "systemd", "pass"), ("2", "cgroupfs", "info"),
     ("1", "none", "warn")],
)  # fmt: skip
def test_cgroup(version: str, driver: str, status: str):
    """v2 with systemd passes, v1 is info, no cgroup manager at all warns."""
    info = info_with(CgroupVersion=version, CgroupDriver=driver)
    finding = check(observed(info=info), "cgroup")
    assert finding.status == status
    assert f"CgroupVersion: {version}, CgroupDriver: {driver}" in finding.evidence


@pytest.mark.parametrize(("swap", "status"), [(True, "pass"), (False, "warn")])
def test_swap_limit(swap: bool, status: str):
    """Without swap accounting a container's swap is unbounded."""
    finding = check(observed(info=info_with(SwapLimit=swap)), "swap-limit")
    assert finding.status == status
    assert f"SwapLimit: {str(swap).lower()}" in finding.evidence


def test_insecure_registry_cidr_beyond_loopback_warns():
    """An insecure 10.0.0.0/8 warns and is named; 127.0.0.0/8 alone passed before."""
    info = copy.deepcopy(INFO)
    info["RegistryConfig"]["InsecureRegistryCIDRs"].append("10.0.0.0/8")
    finding = check(observed(info=info), "insecure-registries")
    assert finding.status == "warn"
    assert "10.0.0.0/8" in finding.evidence


@pytest.mark.parametrize(
    ("name", "status"),
    [("registry.internal:5000", "warn"), ("localhost:5000", "pass"), ("[::1]:5000", "pass"),
     ("127.0.0.1:5000", "pass")],
)  # fmt: skip
def test_insecure_index_configs(name: str, status: str):
    """A registry with Secure false warns unless it is on loopback."""
    info = copy.deepcopy(INFO)
    info["RegistryConfig"]["IndexConfigs"][name] = {"Name": name, "Secure": False}
    finding = check(observed(info=info), "insecure-registries")
    assert finding.status == status
    assert name in finding.evidence


@pytest.mark.parametrize(("on", "status"), [(False, "pass"), (True, "warn")])
def test_experimental(on: bool, status: str):
    """Experimental features on warn (CIS 2.18)."""
    finding = check(observed(info=info_with(ExperimentalBuild=on)), "experimental")
    assert finding.status == status
    assert "ExperimentalBuild" in finding.evidence


@pytest.mark.parametrize(
    ("driver", "daemon", "status"),
    [
        ("json-file", config(), "warn"),
        ("json-file", config(**{"log-opts": {"max-size": "10m"}}), "info"),
        ("json-file", config(("dockerd", "--log-opt", "max-size=10m")), "info"),
        ("json-file", None, "info"),
        ("journald", config(), "pass"),
        ("fluentd", config(), "pass"),
        ("local", config(), "info"),
        ("none", config(), "info"),
    ],
)
def test_logging_driver(driver: str, daemon: DaemonConfig | None, status: str):
    """json-file without max-size warns; rotated local logs are info; remote drivers pass."""
    obs = observed(info=info_with(LoggingDriver=driver), daemon=daemon)
    finding = check(obs, "logging-driver")
    assert finding.status == status
    assert f"LoggingDriver: {driver}" in finding.evidence


# -- who controls the daemon -------------------------------------------------------------


def test_socket_evidence_names_path_owner_group_and_mode():
    """The socket finding quotes its stat: path, owner, group, octal and symbolic mode."""
    finding = check(observed(), "socket-permissions")
    assert finding.status == "pass"
    assert (
        "/var/run/docker.sock: owner root (uid 0), group docker (gid 105), mode 0660 "
        "(srw-rw----)" in finding.evidence
    )


@pytest.mark.parametrize(
    ("changes", "rootless", "status"),
    [
        ({"mode": stat.S_IFSOCK | 0o666}, False, "warn"),
        ({"uid": 1000, "owner": "alice"}, False, "warn"),
        ({"uid": 1000, "owner": "alice"}, True, "pass"),
        ({"mode": stat.S_IFSOCK | 0o600}, False, "pass"),
    ],
)
def test_socket_permissions(changes: dict[str, Any], rootless: bool, status: str):
    """World-writable, or owned by a user other than root (unless rootless), warns."""
    options = ["name=seccomp,profile=default"] + (["name=rootless"] if rootless else [])
    obs = observed(info=info_with(SecurityOptions=options), socket=attrs.evolve(SOCKET, **changes))
    assert check(obs, "socket-permissions").status == status


def test_socket_checks_are_not_applicable_to_a_remote_daemon():
    """Without a local socket the socket checks say so."""
    obs = observed(address="tcp://engine.example:2376", socket=None, daemon=None)
    for finding_id in ("socket-permissions", "socket-group-members"):
        finding = check(obs, finding_id)
        assert finding.status == "not_applicable"
        assert "tcp://engine.example:2376" in finding.evidence


def test_an_unreadable_socket_is_info():
    """A socket that cannot be stat'ed is reported with the reason."""
    sock = SocketFacts(path="/var/run/docker.sock", error="os.stat failed: Permission denied")
    finding = check(observed(socket=sock), "socket-permissions")
    assert finding.status == "info"
    assert "Permission denied" in finding.evidence


def test_non_root_members_of_the_socket_group_warn():
    """alice in the docker group is named: she is root on the host."""
    sock = attrs.evolve(SOCKET, members=("alice", "root"), member_uids={"alice": 1000, "root": 0})
    finding = check(observed(socket=sock), "socket-group-members")
    assert finding.status == "warn"
    assert "alice can control the daemon" in finding.evidence
    assert "gpasswd -d USER docker" in finding.remedy


@pytest.mark.parametrize(
    "sock",
    [
        SOCKET,
        attrs.evolve(SOCKET, members=("root",), member_uids={"root": 0}),
        attrs.evolve(
            SOCKET,
            mode=stat.S_IFSOCK | 0o600,
            members=("alice",),
            member_uids={"alice": 1000},
        ),
    ],
)
def test_socket_group_without_untrusted_members_passes(sock: SocketFacts):
    """No members, root only, or a group without write permission passes."""
    assert check(observed(socket=sock), "socket-group-members").status == "pass"


def test_a_socket_group_missing_from_etc_group_is_info():
    """A gid /etc/group does not know (LDAP?) cannot be judged here."""
    sock = attrs.evolve(SOCKET, group="105", group_found=False)
    finding = check(observed(socket=sock), "socket-group-members")
    assert finding.status == "info"
    assert "gid 105 has no entry in /etc/group" in finding.evidence


@pytest.mark.parametrize(
    ("daemon", "status"),
    [
        (config(("dockerd", "-H", "tcp://0.0.0.0:2375")), "warn"),
        (config(("dockerd", "-H", "tcp://0.0.0.0:2376", "--tlsverify")), "pass"),
        (config(hosts=["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]), "warn"),
        (config(hosts=["tcp://0.0.0.0:2376"], tlsverify=True), "pass"),
        (config(("dockerd", "-H", "fd://")), "pass"),
        (config(), "pass"),
    ],
)
def test_tcp_listener_without_tls(daemon: DaemonConfig, status: str):
    """A tcp:// host without tlsverify warns, from the command line or daemon.json."""
    finding = check(observed(daemon=daemon), "tcp-without-tls")
    assert finding.status == status
    assert "/proc/4242/cmdline" in finding.evidence


def test_the_engines_own_tcp_warning_warns_for_a_remote_daemon():
    """docker info's 'API is accessible on http://' warning is enough, even remotely."""
    info = info_with(
        Warnings=["WARNING: API is accessible on http://0.0.0.0:2375 without encryption.\n"
                  "         Access to the remote API is equivalent to root access on the host."]
    )  # fmt: skip
    obs = observed(info=info, address="https://engine.example:2376", socket=None, daemon=None)
    finding = check(obs, "tcp-without-tls")
    assert finding.status == "warn"
    assert "http://0.0.0.0:2375" in finding.evidence


def test_a_client_talking_plain_http_warns():
    """This very client reaching the engine over plain HTTP is the problem itself."""
    obs = observed(address="http://engine.example:2375", socket=None, daemon=None)
    finding = check(obs, "tcp-without-tls")
    assert finding.status == "warn"
    assert "http://engine.example:2375" in finding.evidence


# -- running containers ------------------------------------------------------------------


def test_a_privileged_container_is_named():
    """A running privileged container warns, by name and short id."""
    container = running(Privileged=True)
    finding = check(observed(containers=(container, running())), "privileged-containers")
    assert finding.status == "warn"
    assert f"secure-run-doctor-record ({container['Id'][:12]})" in finding.evidence
    assert "inspect of 2 running container(s)" in finding.evidence


def test_unprivileged_containers_pass():
    """Containers without Privileged pass."""
    finding = check(observed(containers=(running(),)), "privileged-containers")
    assert finding.status == "pass"


def test_the_recorded_socket_mount_is_named():
    """The recorded container with /var/run/docker.sock mounted read-only warns, by name."""
    finding = check(observed(containers=(SOCKET_MOUNTED,)), "socket-mounted-containers")
    assert finding.status == "warn"
    assert "secure-run-doctor-record" in finding.evidence
    assert "/var/run/docker.sock -> /var/run/docker.sock (read-only)" in finding.evidence


@pytest.mark.parametrize(
    ("mount", "status"),
    [
        ({"Type": "bind", "Source": "/run", "Destination": "/host/run", "RW": False}, "warn"),
        ({"Type": "bind", "Source": "/", "Destination": "/host", "RW": False}, "warn"),
        ({"Type": "bind", "Source": "/srv/d.sock", "Destination": "/d.sock", "RW": True}, "warn"),
        ({"Type": "bind", "Source": "/srv/data", "Destination": "/data", "RW": True}, "pass"),
        ({"Type": "volume", "Source": "/var/lib/docker/volumes/v/_data", "Destination": "/run",
          "RW": True}, "pass"),
    ],
)  # fmt: skip
def test_mounts_that_expose_the_socket(mount: dict[str, Any], status: str):
    """A directory holding the socket, or a socket at a custom path, exposes it too."""
    container = running()
    container["Mounts"] = [mount]
    sock = attrs.evolve(SOCKET, path="/srv/d.sock")
    obs = observed(containers=(container,), socket=sock)
    assert check(obs, "socket-mounted-containers").status == status


# -- reading the host: fake /proc and /etc -----------------------------------------------


def make_proc(root: Path, pid: int, argv: list[str], comm: str = "dockerd", uid: int = 0) -> None:
    """A /proc/<pid> with comm, cmdline and status."""
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "comm").write_text(comm + "\n")
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (d / "status").write_text(f"Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n")


@pytest.fixture
def host(tmp_path: Path) -> SimpleNamespace:
    """Empty proc and etc trees, plus a non-dockerd process in proc."""
    proc, etc = tmp_path / "proc", tmp_path / "etc"
    (etc / "docker").mkdir(parents=True)
    make_proc(proc, 1, ["/sbin/init"], comm="systemd")
    (proc / "self").mkdir()
    return SimpleNamespace(proc=proc, etc=etc, tmp=tmp_path)


def test_dockerd_is_found_by_comm_and_daemon_json_read(host: SimpleNamespace):
    """The dockerd's cmdline and /etc/docker/daemon.json (under etc_root) are read."""
    make_proc(host.proc, 812, ["/usr/bin/dockerd", "-H", "fd://", "--icc=false"])
    (host.etc / "docker" / "daemon.json").write_text('{"no-new-privileges": true}')
    daemon = read_daemon_config(str(host.proc), str(host.etc))
    assert daemon.pid == 812
    assert daemon.argv == ("/usr/bin/dockerd", "-H", "fd://", "--icc=false")
    assert daemon.known
    assert daemon.config_found
    assert daemon.setting_bool("no-new-privileges")[0] is True
    assert daemon.setting_bool("icc") == (False, "--icc=false on the command line")
    finding = check(observed(daemon=daemon), "2.14-no-new-privileges")
    assert finding.status == "pass"
    assert "/proc/812/cmdline" in finding.evidence
    assert str(host.etc / "docker" / "daemon.json") in finding.evidence


def test_config_file_flag_is_read_under_etc_root(host: SimpleNamespace):
    """--config-file /etc/docker/custom.json is read from etc_root/docker/custom.json."""
    make_proc(host.proc, 812, ["dockerd", "--config-file", "/etc/docker/custom.json"])
    (host.etc / "docker" / "custom.json").write_text('{"log-opts": {"max-size": "5m"}}')
    (host.etc / "docker" / "daemon.json").write_text('{"log-opts": {}}')
    daemon = read_daemon_config(str(host.proc), str(host.etc))
    assert daemon.config_path == "/etc/docker/custom.json"
    assert daemon.config == {"log-opts": {"max-size": "5m"}}
    assert check(observed(daemon=daemon), "logging-driver").status == "info"


def test_a_missing_daemon_json_means_defaults(host: SimpleNamespace):
    """No daemon.json: the settings are known to be the defaults."""
    make_proc(host.proc, 812, ["dockerd"])
    daemon = read_daemon_config(str(host.proc), str(host.etc))
    assert daemon.known
    assert not daemon.config_found
    assert daemon.config == {}
    assert check(observed(daemon=daemon), "2.14-no-new-privileges").status == "warn"


def test_invalid_daemon_json_is_a_problem_not_a_default(host: SimpleNamespace):
    """A daemon.json that is not JSON leaves the settings unknown (info, not warn)."""
    make_proc(host.proc, 812, ["dockerd"])
    (host.etc / "docker" / "daemon.json").write_text("{not json")
    daemon = read_daemon_config(str(host.proc), str(host.etc))
    assert not daemon.known
    assert "not valid JSON" in daemon.problem
    finding = check(observed(daemon=daemon), "2.14-no-new-privileges")
    assert finding.status == "info"
    assert "not valid JSON" in finding.evidence


def test_no_dockerd_in_proc(host: SimpleNamespace):
    """Without a dockerd process the configuration is unknown, and why is said."""
    daemon = read_daemon_config(str(host.proc), str(host.etc))
    assert daemon.pid is None
    assert str(host.proc) in daemon.problem


def test_among_several_daemons_the_one_on_the_socket_is_chosen(host: SimpleNamespace):
    """Two dockerds: the one listening on the client's socket is read."""
    make_proc(host.proc, 700, ["dockerd", "-H", "unix:///run/other.sock"])
    make_proc(host.proc, 812, ["dockerd", "--host=unix:///var/run/docker.sock"])
    daemon = read_daemon_config(str(host.proc), str(host.etc), socket_path="/var/run/docker.sock")
    assert daemon.pid == 812


def test_several_daemons_none_on_the_socket_is_a_problem(host: SimpleNamespace):
    """Two dockerds, neither on the socket: nothing is guessed."""
    make_proc(host.proc, 700, ["dockerd", "-H", "unix:///run/a.sock"])
    make_proc(host.proc, 812, ["dockerd", "-H", "unix:///run/b.sock"])
    daemon = read_daemon_config(str(host.proc), str(host.etc), socket_path="/run/c.sock")
    assert daemon.pid is None
    assert "700, 812" in daemon.problem


def test_rootless_daemon_json_is_in_the_users_home(host: SimpleNamespace):
    """A rootless dockerd's daemon.json is ~/.config/docker/daemon.json of its user."""
    home = host.tmp / "home" / "alice"
    (home / ".config" / "docker").mkdir(parents=True)
    (home / ".config" / "docker" / "daemon.json").write_text('{"icc": false}')
    (host.etc / "passwd").write_text(
        f"root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::{home}:/bin/sh\n"
    )
    make_proc(host.proc, 812, ["dockerd"], uid=1000)
    daemon = read_daemon_config(str(host.proc), str(host.etc), rootless=True)
    assert daemon.config_path == str(home / ".config" / "docker" / "daemon.json")
    assert daemon.config == {"icc": False}


@pytest.mark.parametrize(
    ("argv", "hosts"),
    [
        (("dockerd", "-H", "tcp://a:1"), ("tcp://a:1",)),
        (("dockerd", "-Htcp://b:2"), ("tcp://b:2",)),
        (("dockerd", "-H=tcp://c:3", "--host", "unix:///d.sock"), ("tcp://c:3", "unix:///d.sock")),
        (("dockerd", "--host=fd://"), ("fd://",)),
        (("dockerd", "--tlsverify"), ()),
    ],
)
def test_host_flags_in_every_form(argv: tuple[str, ...], hosts: tuple[str, ...]):
    """-H VALUE, -HVALUE, -H=VALUE, --host VALUE and --host=VALUE are all read."""
    assert DaemonConfig(pid=1, argv=argv).hosts() == hosts


@pytest.fixture
def unix_socket() -> Iterator[str]:
    """A real unix socket file in a short temporary directory (sun_path is short)."""
    directory = tempfile.mkdtemp(prefix="sr-doctor-")
    path = os.path.join(directory, "d.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    try:
        yield path
    finally:
        server.close()
        shutil.rmtree(directory)


def test_read_socket_lists_group_members_from_group_and_passwd(
    unix_socket: str, host: SimpleNamespace
):
    """Members come from /etc/group's list and from passwd entries with that primary gid."""
    gid, uid = os.getgid(), os.getuid()
    (host.etc / "group").write_text(f"grp{gid}:x:{gid}:alice,bob\nother:x:{gid + 1}:carol\n")
    (host.etc / "passwd").write_text(
        f"owner:x:{uid}:{gid + 1}::/:/bin/sh\nalice:x:1001:1001::/:/bin/sh\n"
        f"bob:x:1002:1002::/:/bin/sh\ndave:x:1003:{gid}::/:/bin/sh\n"
    )
    os.chmod(unix_socket, 0o660)
    sock = read_socket(unix_socket, str(host.etc))
    assert stat.S_ISSOCK(sock.mode)
    assert (sock.uid, sock.gid, sock.owner, sock.group) == (uid, gid, "owner", f"grp{gid}")
    assert sock.members == ("alice", "bob", "dave")
    finding = check(observed(socket=sock), "socket-group-members")
    assert finding.status == "warn"
    assert "alice, bob, dave can control the daemon" in finding.evidence


def test_read_socket_sees_a_world_writable_socket(unix_socket: str, host: SimpleNamespace):
    """chmod 666 on the socket makes socket-permissions warn, mode quoted."""
    os.chmod(unix_socket, 0o666)  # noqa: S103 - on purpose, in a private 0700 directory
    sock = read_socket(unix_socket, str(host.etc))
    finding = check(observed(socket=sock), "socket-permissions")
    assert finding.status == "warn"
    assert "mode 0666 (srw-rw-rw-)" in finding.evidence


def test_read_socket_of_a_missing_path(host: SimpleNamespace):
    """A socket that does not exist is an error in the facts, not an exception."""
    sock = read_socket(str(host.tmp / "gone.sock"), str(host.etc))
    assert "os.stat failed" in sock.error


# -- the report ----------------------------------------------------------------------------


def test_report_json_parses_and_holds_every_finding():
    """to_json() parses back to ok and every finding's five fields."""
    report = diagnose(observed())
    data = json.loads(report.to_json())
    assert data["ok"] is False
    assert [f["id"] for f in data["findings"]] == [f.id for f in report.findings]
    assert set(data["findings"][0]) == {"id", "title", "status", "evidence", "remedy"}


def test_report_ok_and_failures():
    """ok is False when one finding warns; failures are exactly the warns."""
    report = diagnose(observed())
    assert not report.ok
    assert {f.id for f in report.failures} == {
        k for k, v in RECORDED_VERDICTS.items() if v == "warn"
    }
    passing = DoctorReport((DoctorFinding("kernel", "t", "pass", "e"),))
    assert passing.ok
    assert passing.failures == ()


def test_report_table_names_each_check_and_the_remedies():
    """str(report) is a table with a summary line and a remedy per warning."""
    text = str(diagnose(observed()))
    lines = text.splitlines()
    assert lines[0] == "doctor: 9 of 22 checks warn"
    assert any(line.startswith("warn   | engine-version") for line in lines)
    assert "remedies:" in lines
    assert any(line.startswith("  - 2.14-no-new-privileges: ") for line in lines)


def test_a_finding_refuses_an_unknown_status():
    """The status is one of the five the audit uses."""
    with pytest.raises(ValueError, match="status"):
        DoctorFinding("kernel", "t", "fail", "e")


# -- doctor() with a fake client -------------------------------------------------------


class FakeAPI:
    """The low-level calls observe() makes, answered from the recorded payloads."""

    def __init__(self, base_url: str, containers: list[dict[str, Any]]) -> None:
        self.base_url = base_url
        self.adapters: dict[str, Any] = {}
        self.api_version = "1.41"
        self.running = containers
        self.list_error: Exception | None = None
        self.inspect_errors: dict[str, Exception] = {}

    def inspect_network(self, name: str) -> dict[str, Any]:
        assert name == "bridge"
        return copy.deepcopy(BRIDGE)

    def containers(self) -> list[dict[str, Any]]:
        if self.list_error is not None:
            raise self.list_error
        return [{"Id": c["Id"]} for c in self.running]

    def info(self) -> dict[str, Any]:
        return copy.deepcopy(INFO)  # the audit reads info through the low-level API

    def networks(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(BRIDGE)]

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        if container_id in self.inspect_errors:
            raise self.inspect_errors[container_id]
        return next(c for c in self.running if c["Id"] == container_id)


class FakeClient:
    """A DockerClient stand-in: version() and info() from the recording, the rest in api."""

    def __init__(self, base_url: str, containers: list[dict[str, Any]] | None = None) -> None:
        self.api = FakeAPI(base_url, containers or [])
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def version(self, api_version: bool = True) -> dict[str, Any]:
        return copy.deepcopy(VERSION)

    def info(self) -> dict[str, Any]:
        return copy.deepcopy(INFO)


def test_doctor_on_a_remote_engine_reads_no_host_files(host: SimpleNamespace):
    """Over TCP, the host checks are not_applicable and the rest come from the API."""
    gone = copy.deepcopy(SOCKET_MOUNTED)
    gone["Id"] = "f" * 64
    client = FakeClient("https://engine.example:2376", [SOCKET_MOUNTED, gone])
    client.api.inspect_errors[gone["Id"]] = docker.errors.NotFound("No such container")
    report = doctor(client, proc_root=str(host.proc), etc_root=str(host.etc))  # type: ignore[arg-type]
    verdicts = {f.id: f.status for f in report.findings}
    assert verdicts["socket-permissions"] == "not_applicable"
    assert verdicts["2.14-no-new-privileges"] == "info"
    assert verdicts["engine-version"] == "warn"
    mounted = next(f for f in report.findings if f.id == "socket-mounted-containers")
    assert mounted.status == "warn"
    assert "inspect of 1 running container(s)" in mounted.evidence  # the vanished one skipped


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (requests.exceptions.ConnectionError("connection reset"), DaemonUnavailable),
        (docker.errors.APIError("boom", response=None, explanation="server error"), LaunchError),
    ],
)
def test_doctor_translates_sdk_errors(
    host: SimpleNamespace, error: Exception, expected: type[Exception]
):
    """A docker or requests error while listing containers leaves as a secure_run error."""
    client = FakeClient("https://engine.example:2376")
    client.api.list_error = error
    with pytest.raises(expected) as excinfo:
        doctor(client, proc_root=str(host.proc), etc_root=str(host.etc))  # type: ignore[arg-type]
    assert excinfo.value.__cause__ is error


# -- the client policy ------------------------------------------------------------------


def test_doctor_never_closes_a_client_it_was_given(host: SimpleNamespace):
    """A client passed to doctor() is still open afterwards: it is the caller's."""
    client = FakeClient("https://engine.example:2376")
    doctor(client, proc_root=str(host.proc), etc_root=str(host.etc))  # type: ignore[arg-type]
    assert not client.closed


def test_doctor_closes_the_client_it_made(host: SimpleNamespace, monkeypatch):
    """With no client given, the one connect() makes is closed before doctor() returns."""
    made = FakeClient("https://engine.example:2376")
    monkeypatch.setattr("secure_run._engine.client.connect", lambda **_: made)
    doctor(proc_root=str(host.proc), etc_root=str(host.etc))
    assert made.closed


# -- one daemon locator for the doctor and the audit --------------------------------------


def local_client(socket_path: str, containers: list[dict[str, Any]]) -> FakeClient:
    """A FakeClient whose engine listens on the unix socket ``socket_path``."""
    client = FakeClient("http+docker://localhost", containers)
    client.api.adapters = {"http+docker://": SimpleNamespace(socket_path=socket_path)}
    return client


def test_audit_and_doctor_read_the_daemon_serving_the_clients_socket(host: SimpleNamespace):
    """Two dockerds: audit and doctor both read the one on the client's socket, not the newest."""
    ours = str(host.tmp / "ours.sock")
    make_proc(host.proc, 812, ["dockerd", "-H", f"unix://{ours}"])
    make_proc(host.proc, 900, ["dockerd", "--no-new-privileges", "-H", "unix:///run/other.sock"])
    for pid, started in ((812, 100), (900, 999)):  # 900 is the newer process
        fields = " ".join(["S", *["0"] * 18, str(started), "0"])
        (host.proc / str(pid) / "stat").write_text(f"{pid} (dockerd) {fields}\n")
    client = local_client(ours, [SOCKET_MOUNTED])
    roots = {"proc_root": str(host.proc), "etc_root": str(host.etc)}
    doctored = {f.id: f for f in doctor(client, **roots).findings}  # type: ignore[arg-type]
    audited = {f.id: f for f in _audit(SOCKET_MOUNTED["Id"], client, False, **roots).findings}  # type: ignore[arg-type]
    assert doctored["2.14-no-new-privileges"].status == "warn"
    assert "/proc/812/cmdline" in doctored["2.14-no-new-privileges"].evidence
    assert audited["5.26"].status == "warn"
    assert "dockerd pid 812" in audited["5.26"].evidence
    assert not client.closed


@pytest.mark.parametrize(
    "source",
    [
        "/run/containerd/containerd.sock",
        "/var/run/containerd/containerd.sock",
        "/run/podman/podman.sock",
        "/run/containerd",
        "/var/run/podman",
    ],
)
def test_containerd_and_podman_socket_mounts_warn(source: str):
    """A mount of containerd's or podman's socket (or its folder) is an engine socket too."""
    container = running()
    container["Mounts"] = [{"Type": "bind", "Source": source, "Destination": "/s", "RW": False}]
    assert check(observed(containers=(container,)), "socket-mounted-containers").status == "warn"
