"""verify() against a recorded container: the daemon's record and the host's /proc and cgroups.

The fixture under ``tests/data/verify/restricted_v1`` was recorded from a real
restricted-preset container on Docker 20.10.24 (cgroup v1) by
``tests/data/verify/record.py``: its ``inspect`` output, its init process's
``/proc/<pid>`` files, its cgroup limit files and an exec probe's output. Each test
copies it to a temporary tree, changes one thing, and points ``proc_root`` and
``cgroup_root`` there.
"""

from __future__ import annotations

import copy
import json
import shutil
import socket
import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import attrs
import docker.errors
import pytest
import requests
from docker.models.containers import Container

import secure_run as sr
from secure_run._config.capabilities import encode_mask
from secure_run._errors import DaemonUnavailable, HardeningNotApplied, LaunchError
from secure_run._proof.expected import expected_caps, memory_swap
from secure_run._proof.verify import Check, VerifyReport, verify
from secure_run.testing import TEST_IMAGE, TEST_LABELS

DATA = Path(__file__).parent.parent / "data" / "verify" / "restricted_v1"
LOCAL = "http+docker://localhost"
REMOTE = "https://engine.example:2376"
NO_SHELL_OUTPUT = (
    b'OCI runtime exec failed: exec failed: unable to start container process: exec: "/bin/sh": '
    b"stat /bin/sh: no such file or directory: unknown\r\n"
)
CFG = sr.builder(TEST_IMAGE).command(["sleep", "30"]).labels(TEST_LABELS).build()


class FakeAPI:
    """The few low-level API calls verify() makes, answered from recorded data."""

    def __init__(self, info: dict[str, Any], base_url: str = LOCAL) -> None:
        self.info = info
        self.base_url = base_url
        # docker-py's unix-socket adapter carries the socket's path, as a real client's does
        unix = SimpleNamespace(socket_path="/var/run/docker.sock")
        self.adapters: dict[str, Any] = {"http+docker://": unix} if base_url == LOCAL else {}
        self.calls: list[str] = []
        self.exec_output: bytes = (DATA / "exec_probe.txt").read_bytes()
        self.exec_code = 0
        self.inspect_error: Exception | None = None
        self.exec_error: Exception | None = None
        self.later_state: dict[str, Any] | None = None

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        self.calls.append(f"inspect {container_id}")
        if self.inspect_error is not None:
            raise self.inspect_error
        info = copy.deepcopy(self.info)
        if self.later_state is not None and len(self.calls) > 1:
            info["State"] = self.later_state
        return info

    def exec_create(self, container_id: str, cmd: list[str], user: str = "") -> dict[str, str]:
        self.calls.append(f"exec_create user={user!r}")
        if self.exec_error is not None:
            raise self.exec_error
        return {"Id": "exec1"}

    def exec_start(self, exec_id: str, socket: bool = False) -> socket.socket:
        self.calls.append("exec_start")
        return exec_stream(self.exec_output)

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        self.calls.append("exec_inspect")
        return {"ExitCode": self.exec_code}


def exec_stream(output: bytes) -> socket.socket:
    """An exec's attached stream (``exec_start(socket=True)``): ``output`` in one stdout frame."""
    ours, theirs = socket.socketpair()
    if output:
        theirs.sendall(struct.pack(">BxxxL", 1, len(output)) + output)
    theirs.close()
    return ours


class FakeClient:
    def __init__(self, api: FakeAPI) -> None:
        self.api = api

    def close(self) -> None:
        pass


@attrs.define
class Host:
    """A copy of the recorded container: its inspect data and a /proc and cgroup tree."""

    root: Path
    info: dict[str, Any]
    pid: int

    @property
    def id(self) -> str:
        return str(self.info["Id"])

    @property
    def proc_root(self) -> str:
        return str(self.root / "proc")

    @property
    def cgroup_root(self) -> str:
        return str(self.root / "cgroup")

    @property
    def source(self) -> str:
        return f"host /proc/{self.pid}"

    def proc_file(self, name: str) -> Path:
        return self.root / "proc" / str(self.pid) / name

    def cgroup_file(self, controller: str, name: str) -> Path:
        return self.root / "cgroup" / controller / "docker" / self.id / name

    def set_status(self, key: str, value: str) -> None:
        path = self.proc_file("status")
        lines = [
            f"{key}:\t{value}" if line.startswith(key + ":") else line
            for line in path.read_text().splitlines()
        ]
        path.write_text("\n".join(lines) + "\n")

    def client(self, base_url: str = LOCAL) -> FakeClient:
        return FakeClient(FakeAPI(self.info, base_url))

    def verify(self, cfg: sr.RunConfig = CFG, **kwargs: Any) -> VerifyReport:
        kwargs.setdefault("client", self.client())
        kwargs.setdefault("strict", False)
        return verify(
            self.id, cfg, proc_root=self.proc_root, cgroup_root=self.cgroup_root, **kwargs
        )


@pytest.fixture
def host(tmp_path: Path) -> Host:
    shutil.copytree(DATA, tmp_path / "host")
    info = json.loads((DATA / "inspect.json").read_text())
    return Host(tmp_path / "host", info, int(info["State"]["Pid"]))


def only_failure(report: VerifyReport) -> Check:
    assert len(report.failures) == 1, str(report)
    return report.failures[0]


# -- the recorded container as it is ------------------------------------------------


def test_recorded_restricted_container_passes_on_both_sources(host):
    """The recorded restricted container meets its config, per the daemon and per the kernel."""
    report = host.verify()
    assert report.ok, str(report)
    assert report.failures == ()
    assert report.notes == ()
    assert {c.source for c in report.checks} == {"inspect", host.source}


def test_the_daemon_is_asked_once_and_never_execs(host):
    """A local verify makes exactly one inspect call and no exec: the rest is file reads."""
    client = host.client()
    host.verify(client=client)
    assert client.api.calls == [f"inspect {host.id}"]


@pytest.mark.parametrize(
    "prop",
    [
        "Config.User", "HostConfig.Privileged", "HostConfig.CapAdd", "HostConfig.CapDrop",
        "HostConfig.SecurityOpt no-new-privileges", "HostConfig.SecurityOpt seccomp",
        "HostConfig.ReadonlyRootfs", "HostConfig.Memory", "HostConfig.MemorySwap",
        "HostConfig.MemoryReservation", "HostConfig.NanoCpus", "HostConfig.PidsLimit",
        "HostConfig.NetworkMode", "HostConfig.Tmpfs", "HostConfig.Ulimits", "HostConfig.IpcMode",
        "HostConfig.PidMode", "HostConfig.UTSMode", "HostConfig.UsernsMode", "HostConfig.Init",
        "HostConfig.Mounts", "Uid", "Gid", "CapBnd", "CapPrm", "CapEff", "NoNewPrivs",
        "Seccomp", "rlimit nofile", "mount /", "mount /tmp", "cgroup memory.limit_in_bytes",
        "cgroup memory.soft_limit_in_bytes", "cgroup memory.memsw.limit_in_bytes",
        "cgroup cpu.cfs_quota_us", "cgroup cpu.cfs_period_us", "cgroup pids.max",
    ],
)  # fmt: skip
def test_the_report_covers_the_property(host, prop):
    """Each hardening property the issue lists is among the checks of a restricted container."""
    assert prop in {c.property for c in host.verify().checks}


# -- source 1: one field of the daemon's record changed ------------------------------


def _set(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(info: dict[str, Any]) -> None:
        target = info
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "prop", "expected", "actual"),
    [
        (_set("HostConfig", "Privileged", value=True), "HostConfig.Privileged", "false", "true"),
        (_set("HostConfig", "CapAdd", value=["CAP_SYS_ADMIN"]), "HostConfig.CapAdd", "none",
         "CAP_SYS_ADMIN"),
        (_set("HostConfig", "CapAdd", value=["sys_admin"]), "HostConfig.CapAdd", "none",
         "CAP_SYS_ADMIN"),
        (_set("HostConfig", "CapDrop", value=["CAP_NET_RAW"]), "HostConfig.CapDrop", "ALL",
         "CAP_NET_RAW"),
        (_set("HostConfig", "Memory", value=0), "HostConfig.Memory", "536870912", "0"),
        (_set("HostConfig", "MemorySwap", value=-1), "HostConfig.MemorySwap", "536870912", "-1"),
        (_set("HostConfig", "MemoryReservation", value=0), "HostConfig.MemoryReservation",
         "268435456", "0"),
        (_set("HostConfig", "NanoCpus", value=0), "HostConfig.NanoCpus", "1000000000", "0"),
        (_set("HostConfig", "PidsLimit", value=None), "HostConfig.PidsLimit", "128", "none"),
        (_set("HostConfig", "ReadonlyRootfs", value=False), "HostConfig.ReadonlyRootfs", "true",
         "false"),
        (_set("HostConfig", "SecurityOpt", value=None),
         "HostConfig.SecurityOpt no-new-privileges", "true", "false"),
        (_set("HostConfig", "SecurityOpt", value=["no-new-privileges:false"]),
         "HostConfig.SecurityOpt no-new-privileges", "true", "false"),
        (_set("HostConfig", "SecurityOpt", value=["no-new-privileges", "seccomp=unconfined"]),
         "HostConfig.SecurityOpt seccomp", "default", "unconfined"),
        (_set("HostConfig", "SecurityOpt", value=["no-new-privileges", "apparmor=unconfined"]),
         "HostConfig.SecurityOpt apparmor", "daemon default (not unconfined)", "unconfined"),
        (_set("HostConfig", "SecurityOpt", value=["no-new-privileges", "systempaths=unconfined"]),
         "HostConfig.SecurityOpt other", "none", "systempaths=unconfined"),
        (_set("HostConfig", "NetworkMode", value="host"), "HostConfig.NetworkMode", "none",
         "host"),
        (_set("HostConfig", "PortBindings", value={"80/tcp": [{"HostIp": "", "HostPort": "80"}]}),
         "HostConfig.PortBindings", "none", "0.0.0.0:80->80/tcp"),
        (_set("HostConfig", "Tmpfs", value={"/tmp": "size=67108864,mode=1777,exec,nosuid,nodev"}),
         "HostConfig.Tmpfs", "/tmp size=67108864,mode=1777,noexec,nosuid,nodev",
         "/tmp size=67108864,mode=1777,exec,nosuid,nodev"),
        (_set("HostConfig", "Ulimits", value=[{"Name": "core", "Soft": 0, "Hard": 0}]),
         "HostConfig.Ulimits", "core=0:0, nofile=1024:1024", "core=0:0"),
        (_set("HostConfig", "PidMode", value="host"), "HostConfig.PidMode", "private", "host"),
        (_set("HostConfig", "IpcMode", value="host"), "HostConfig.IpcMode", "private", "host"),
        (_set("HostConfig", "UTSMode", value="host"), "HostConfig.UTSMode", "private", "host"),
        (_set("HostConfig", "UsernsMode", value="host"), "HostConfig.UsernsMode", "private",
         "host"),
        (_set("HostConfig", "Init", value=False), "HostConfig.Init", "true", "false"),
        (_set("HostConfig", "Binds", value=["/:/host"]), "HostConfig.Mounts", "none",
         "bind / -> /host (rw)"),
        (_set("HostConfig", "Mounts", value=[{"Type": "bind", "Source": "/etc", "Target": "/e",
                                              "ReadOnly": True}]),
         "HostConfig.Mounts", "none", "bind /etc -> /e (ro)"),
        (_set("HostConfig", "Devices", value=[{"PathOnHost": "/dev/kmsg",
                                               "PathInContainer": "/dev/kmsg",
                                               "CgroupPermissions": "rwm"}]),
         "HostConfig.Devices", "none", "/dev/kmsg:/dev/kmsg:rwm"),
        (_set("HostConfig", "GroupAdd", value=["0"]), "HostConfig.GroupAdd", "none", "0"),
        (_set("HostConfig", "Sysctls", value={"net.ipv4.ip_forward": "1"}), "HostConfig.Sysctls",
         "none", "net.ipv4.ip_forward=1"),
        (_set("Config", "User", value="0:0"), "Config.User", "65534:65534", "0:0"),
    ],
)  # fmt: skip
def test_one_weaker_daemon_field_fails_exactly_that_check(host, change, prop, expected, actual):
    """Changing one HostConfig/Config field fails that check alone, with expected and actual."""
    change(host.info)
    failure = only_failure(host.verify())
    assert failure == Check(prop, expected, actual, "inspect", False)


@pytest.mark.parametrize(
    "entries",
    [["no-new-privileges"], ["no-new-privileges=true"], ["no-new-privileges:true"]],
)
def test_every_spelling_of_no_new_privileges_counts(host, entries):
    """The daemon accepts no-new-privileges bare, with =true and with :true; so does verify."""
    host.info["HostConfig"]["SecurityOpt"] = entries
    assert host.verify().ok


PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}],
}


def test_custom_seccomp_profile_is_compared_by_content(host):
    """The same custom profile passes whatever its key order; another profile fails."""
    cfg = sr.builder(TEST_IMAGE).command(["sleep", "30"]).seccomp(PROFILE).build()
    reordered = json.dumps(dict(reversed(list(PROFILE.items()))), indent=2)
    host.info["HostConfig"]["SecurityOpt"] = ["no-new-privileges:true", f"seccomp={reordered}"]
    assert host.verify(cfg).ok
    other = {**PROFILE, "defaultAction": "SCMP_ACT_KILL"}
    host.info["HostConfig"]["SecurityOpt"] = ["no-new-privileges", f"seccomp={json.dumps(other)}"]
    failure = only_failure(host.verify(cfg))
    assert failure.property == "HostConfig.SecurityOpt seccomp"
    assert failure.expected.startswith("custom (sha256:")
    assert failure.actual.startswith("custom (sha256:")
    assert failure.expected != failure.actual


@pytest.mark.parametrize("mode", ["", "private", "shareable"])
def test_private_ipc_modes_pass_when_the_config_leaves_it_unset(host, mode):
    """With ipc_mode unset, the daemon's private forms ('' / private / shareable) all pass."""
    host.info["HostConfig"]["IpcMode"] = mode
    assert host.verify().ok


# -- source 1: the lifecycle settings (restart, logs, healthcheck, stop timeout) -------

HEALTH_TEST = ["CMD", "true"]
#: Each lifecycle setting: the config setting it, and the record Docker 20.10 keeps for
#: it (zero healthcheck values left out, as the engine leaves them out).
LIFECYCLE: dict[str, tuple[Callable[[sr.RunBuilder], sr.RunBuilder], Callable[..., None]]] = {
    "restart": (
        lambda b: b.restart("on-failure", 5),
        _set("HostConfig", "RestartPolicy", value={"Name": "on-failure", "MaximumRetryCount": 5}),
    ),
    "log_limits": (
        lambda b: b.log_limits("1m", 2),
        _set("HostConfig", "LogConfig",
             value={"Type": "json-file", "Config": {"max-size": "1048576", "max-file": "2"}}),
    ),
    "healthcheck": (
        lambda b: b.healthcheck(["true"], interval=5, timeout=2, retries=4),
        _set("Config", "Healthcheck", value={"Test": HEALTH_TEST, "Interval": 5_000_000_000,
                                             "Timeout": 2_000_000_000, "Retries": 4}),
    ),
    "stop_timeout": (lambda b: b.stop_timeout(5), _set("Config", "StopTimeout", value=5)),
}  # fmt: skip


LIFECYCLE_PROPERTY = {
    "restart": "HostConfig.RestartPolicy",
    "log_limits": "HostConfig.LogConfig",
    "healthcheck": "Config.Healthcheck",
    "stop_timeout": "Config.StopTimeout",
}


def lifecycle_cfg(field: str) -> sr.RunConfig:
    """CFG with one lifecycle setting set."""
    return LIFECYCLE[field][0](sr.builder(TEST_IMAGE).command(["sleep", "30"])
                               .labels(TEST_LABELS)).build()  # fmt: skip


@pytest.mark.parametrize("field", sorted(LIFECYCLE))
def test_a_lifecycle_setting_passes_on_the_record_docker_keeps_for_it(host, field):
    """The restart policy, log limits, healthcheck or stop timeout as stored passes its check."""
    cfg = lifecycle_cfg(field)
    LIFECYCLE[field][1](host.info)
    report = host.verify(cfg)
    assert report.ok, str(report)
    assert LIFECYCLE_PROPERTY[field] in {c.property for c in report.checks}


HEALTH_SHOWN = "CMD true (interval 5s, timeout 2s, retries 4, start period 0s)"


@pytest.mark.parametrize(
    ("field", "change", "prop", "expected", "actual"),
    [
        ("restart", _set("HostConfig", "RestartPolicy", value={"Name": "always"}),
         "HostConfig.RestartPolicy", "on-failure:5", "always"),
        ("restart", _set("HostConfig", "RestartPolicy",
                         value={"Name": "on-failure", "MaximumRetryCount": 0}),
         "HostConfig.RestartPolicy", "on-failure:5", "on-failure"),
        ("log_limits", _set("HostConfig", "LogConfig", value={"Type": "json-file", "Config": {}}),
         "HostConfig.LogConfig", "json-file max-size=1048576 max-file=2",
         "json-file max-size=unset max-file=unset"),
        ("log_limits", _set("HostConfig", "LogConfig",
                            value={"Type": "json-file", "Config": {"max-size": "10485760",
                                                                   "max-file": "2"}}),
         "HostConfig.LogConfig", "json-file max-size=1048576 max-file=2",
         "json-file max-size=10485760 max-file=2"),
        ("log_limits", _set("HostConfig", "LogConfig",
                            value={"Type": "local", "Config": {"max-size": "1048576",
                                                               "max-file": "2"}}),
         "HostConfig.LogConfig", "json-file max-size=1048576 max-file=2",
         "local max-size=1048576 max-file=2"),
        ("healthcheck", _set("Config", "Healthcheck", value=None), "Config.Healthcheck",
         HEALTH_SHOWN, "none"),
        ("healthcheck", _set("Config", "Healthcheck", value={"Test": ["NONE"]}),
         "Config.Healthcheck", HEALTH_SHOWN,
         "NONE (interval 0s, timeout 0s, retries 0, start period 0s)"),
        ("healthcheck", _set("Config", "Healthcheck",
                             value={"Test": HEALTH_TEST, "Interval": 5_000_000_000,
                                    "Timeout": 2_000_000_000}),
         "Config.Healthcheck", HEALTH_SHOWN,
         "CMD true (interval 5s, timeout 2s, retries 0, start period 0s)"),
        ("stop_timeout", _set("Config", "StopTimeout", value=30), "Config.StopTimeout", "5", "30"),
        ("stop_timeout", _set("Config", "StopTimeout", value=None), "Config.StopTimeout", "5",
         "none (engine default 10)"),
    ],
)  # fmt: skip
def test_a_weakened_lifecycle_setting_fails_exactly_that_check(
    host, field, change, prop, expected, actual
):
    """A record whose restart, logs, healthcheck or stop timeout differ fails that check alone."""
    cfg = lifecycle_cfg(field)
    LIFECYCLE[field][1](host.info)
    change(host.info)
    assert only_failure(host.verify(cfg)) == Check(prop, expected, actual, "inspect", False)


def test_an_unset_restart_policy_is_no_and_another_one_fails(host):
    """Unset, the restart policy is sent as 'no': a record with 'always' fails."""
    host.info["HostConfig"]["RestartPolicy"] = {"Name": "always", "MaximumRetryCount": 0}
    failure = only_failure(host.verify())
    assert failure == Check("HostConfig.RestartPolicy", "no", "always", "inspect", False)


ENGINE_DEFAULTS = [
    _set("HostConfig", "RestartPolicy", value={"Name": "", "MaximumRetryCount": 0}),
    _set("HostConfig", "RestartPolicy", value=None),
    _set("HostConfig", "LogConfig", value={"Type": "json-file", "Config": {}}),
    _set("HostConfig", "LogConfig", value={"Type": "local", "Config": {"max-size": "100m"}}),
    _set("Config", "Healthcheck", value={"Test": ["CMD-SHELL", "true"], "Interval": 1}),
    _set("Config", "StopTimeout", value=None),
    _set("Config", "StopTimeout", value=10),
]


@pytest.mark.parametrize("change", ENGINE_DEFAULTS)
def test_unset_lifecycle_settings_pass_on_the_engines_defaults(host, change):
    """No limits, healthcheck or stop timeout set: the engine's or image's defaults pass."""
    cfg = attrs.evolve(CFG, log_limits=None)
    change(host.info)
    report = host.verify(cfg)
    assert report.ok, str(report)
    assert {"HostConfig.LogConfig", "Config.Healthcheck", "Config.StopTimeout"}.isdisjoint(
        c.property for c in report.checks
    )


@pytest.mark.parametrize(
    "options",
    [
        {"max-size": "1m", "max-file": "2"},
        {"max-size": "1048576", "max-file": "2", "compress": "true", "labels": "team"},
    ],
)
def test_log_limits_pass_in_units_and_beside_the_daemons_own_options(host, options):
    """A max-size in units ('1m') is the same limit; options the daemon adds do not count."""
    host.info["HostConfig"]["LogConfig"] = {"Type": "json-file", "Config": options}
    assert host.verify(lifecycle_cfg("log_limits")).ok


# -- source 2: one kernel value changed ----------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "prop", "expected", "actual"),
    [
        ("CapBnd", "0000000000200000", "CapBnd", "none (0000000000000000)",
         "SYS_ADMIN (0000000000200000)"),
        ("CapBnd", "0000000000000401", "CapBnd", "none (0000000000000000)",
         "CHOWN, NET_BIND_SERVICE (0000000000000401)"),
        ("CapEff", "0000000000000001", "CapEff", "none (0000000000000000)",
         "CHOWN (0000000000000001)"),
        ("CapPrm", "0000000000000001", "CapPrm", "none (0000000000000000)",
         "CHOWN (0000000000000001)"),
        ("NoNewPrivs", "0", "NoNewPrivs", "1", "0"),
        ("Seccomp", "0", "Seccomp", "2 (filter)", "0 (disabled)"),
        ("Uid", "0\t0\t0\t0", "Uid", "65534 65534 65534 65534", "0 0 0 0"),
        ("Gid", "65534\t0\t65534\t65534", "Gid", "65534 65534 65534 65534",
         "65534 0 65534 65534"),
    ],
)  # fmt: skip
def test_one_changed_status_line_fails_exactly_that_check(host, key, value, prop, expected, actual):
    """A changed /proc/<pid>/status line fails that check alone, read from the host."""
    host.set_status(key, value)
    failure = only_failure(host.verify())
    assert failure == Check(prop, expected, actual, host.source, False)


@pytest.mark.parametrize(
    ("controller", "name", "value", "expected"),
    [
        ("memory", "memory.limit_in_bytes", "1073741824", "536870912"),
        ("memory", "memory.limit_in_bytes", "9223372036854771712", "536870912"),
        ("memory", "memory.soft_limit_in_bytes", "0", "268435456"),
        ("memory", "memory.memsw.limit_in_bytes", "9223372036854771712", "536870912"),
        ("cpu", "cpu.cfs_quota_us", "-1", "100000"),
        ("cpu", "cpu.cfs_period_us", "200000", "100000"),
        ("pids", "pids.max", "max", "128"),
        ("pids", "pids.max", "129", "128"),
    ],
)
def test_one_changed_cgroup_file_fails_exactly_that_check(host, controller, name, value, expected):
    """A changed cgroup v1 limit file fails that check alone, showing the file's content."""
    host.cgroup_file(controller, name).write_text(value + "\n")
    failure = only_failure(host.verify())
    assert failure == Check(f"cgroup {name}", expected, value, host.source, False)


def test_a_limit_rounded_down_to_a_page_passes(host):
    """The kernel stores memory limits in whole pages; a limit rounded down is not a failure."""
    cfg = attrs.evolve(CFG, memory=536870912 + 100, memory_swap=536870912 + 100)
    host.info["HostConfig"]["Memory"] = 536870912 + 100
    host.info["HostConfig"]["MemorySwap"] = 536870912 + 100
    report = host.verify(cfg)
    assert report.failures == ()
    # One byte more than the config asked for is no rounding: that fails.
    host.cgroup_file("memory", "memory.limit_in_bytes").write_text("536871013\n")
    assert [c.property for c in host.verify(cfg).failures] == ["cgroup memory.limit_in_bytes"]


def test_missing_swap_accounting_is_a_note_not_a_failure(host):
    """Without memory.memsw.limit_in_bytes the swap limit is noted as unchecked, not failed."""
    host.cgroup_file("memory", "memory.memsw.limit_in_bytes").unlink()
    report = host.verify()
    assert report.ok
    assert "cgroup memory.memsw.limit_in_bytes" not in {c.property for c in report.checks}
    assert any("no swap accounting" in note for note in report.notes)


@pytest.mark.parametrize(
    ("limit_line", "actual"),
    [
        ("Max open files            1024                 4096                 files", "1024/4096"),
        ("Max open files            unlimited            unlimited            files",
         "unlimited/unlimited"),
    ],
)  # fmt: skip
def test_a_changed_rlimit_fails(host, limit_line, actual):
    """An rlimit of the init process other than the config's ulimit fails its check."""
    path = host.proc_file("limits")
    lines = [
        limit_line if line.startswith("Max open files") else line
        for line in path.read_text().splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")
    assert only_failure(host.verify()) == Check(
        "rlimit nofile", "1024/1024", actual, host.source, False
    )


@pytest.mark.parametrize(
    ("old", "new", "prop", "expected", "actual"),
    [
        (" / / ro,relatime", " / / rw,relatime", "mount /", "read-only", "read-write"),
        ("/tmp rw,nosuid,nodev,noexec,relatime", "/tmp rw,nosuid,nodev,relatime", "mount /tmp",
         "tmpfs size=67108864 mode=1777 noexec nosuid nodev",
         "tmpfs size=67108864 mode=1777 exec nosuid nodev"),
        ("- tmpfs tmpfs rw,size=65536k\n", "- tmpfs tmpfs rw,size=131072k\n", "mount /tmp",
         "tmpfs size=67108864 mode=1777 noexec nosuid nodev",
         "tmpfs size=134217728 mode=1777 noexec nosuid nodev"),
    ],
)  # fmt: skip
def test_a_changed_mount_fails(host, old, new, prop, expected, actual):
    """A writable root or a tmpfs with other options, per mountinfo, fails that mount's check."""
    path = host.proc_file("mountinfo")
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    assert only_failure(host.verify()) == Check(prop, expected, actual, host.source, False)


def test_ids_are_read_inside_the_user_namespace(host):
    """Under userns-remap the host sees shifted uids; the uid_map maps them back."""
    host.set_status("Uid", "\t".join(["165534"] * 4))
    host.set_status("Gid", "\t".join(["165534"] * 4))
    for name in ("uid_map", "gid_map"):
        host.proc_file(name).write_text("         0     100000      65536\n")
    assert host.verify().ok


def test_added_capability_lands_in_the_bounding_set(host):
    """cap_add NET_BIND_SERVICE expects CapAdd CAP_NET_BIND_SERVICE and CapBnd 0x400."""
    cfg = attrs.evolve(CFG, cap_add=("NET_BIND_SERVICE",))
    host.info["HostConfig"]["CapAdd"] = ["CAP_NET_BIND_SERVICE"]
    assert only_failure(host.verify(cfg)) == Check(
        "CapBnd", "NET_BIND_SERVICE (0000000000000400)", "none (0000000000000000)", host.source,
        False,
    )  # fmt: skip
    host.set_status("CapBnd", "0000000000000400")
    assert host.verify(cfg).ok


@pytest.mark.parametrize(
    ("cap_add", "cap_drop", "privileged", "mask"),
    [
        ((), (), False, 0xA80425FB),
        ((), ("ALL",), False, 0),
        (("NET_BIND_SERVICE",), ("ALL",), False, 0x400),
        (("SYS_ADMIN",), ("NET_RAW",), False, (0xA80425FB | 1 << 21) & ~(1 << 13)),
        (("ALL",), ("NET_RAW",), False, (1 << 41) - 1 - (1 << 13)),
        ((), ("ALL",), True, (1 << 41) - 1),
    ],
)
def test_expected_capabilities_follow_moby(cap_add, cap_drop, privileged, mask):
    """The expected set is moby's TweakCapabilities: default, drop ALL, add ALL, privileged."""
    # Some of these a RunConfig refuses (it always drops ALL); the rule is moby's all the same.
    cfg = SimpleNamespace(cap_add=cap_add, cap_drop=cap_drop, privileged=privileged)
    assert encode_mask(expected_caps(cfg, None)) == mask


# -- cgroup v2 ---------------------------------------------------------------------


V2_FILES = {
    "memory.max": "536870912",
    "memory.low": "268435456",
    "memory.swap.max": "0",
    "cpu.max": "100000 100000",
    "cpu.weight": "100",
    "pids.max": "128",
    "cpuset.cpus": "",
}


@pytest.fixture
def v2_host(host: Host) -> Host:
    """The recorded container, its cgroup files moved to a v2 (systemd driver) layout."""
    path = f"system.slice/docker-{host.id}.scope"
    host.proc_file("cgroup").write_text(f"0::/{path}\n")
    shutil.rmtree(host.cgroup_root)
    directory = Path(host.cgroup_root) / path
    directory.mkdir(parents=True)
    for name, value in V2_FILES.items():
        (directory / name).write_text(value + "\n")
    return host


@pytest.fixture
def v2_host_copy(tmp_path: Path) -> Host:
    """A second recorded container, in a v2 layout, beside the v1 ``host``."""
    return v2_host.__wrapped__(host.__wrapped__(tmp_path / "v2"))


def _v2_write(host: Host, name: str, value: str) -> None:
    (Path(host.cgroup_root) / f"system.slice/docker-{host.id}.scope" / name).write_text(value)


def test_cgroup_v2_files_are_read(v2_host):
    """On cgroup v2 the limits come from memory.max, memory.low, memory.swap.max, cpu.max."""
    report = v2_host.verify()
    assert report.ok, str(report)
    props = {c.property for c in report.checks}
    assert {"cgroup memory.max", "cgroup memory.low", "cgroup memory.swap.max",
            "cgroup cpu.max", "cgroup pids.max"} <= props  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("memory.max", "max", "536870912"),
        ("memory.low", "0", "268435456"),
        ("memory.swap.max", "max", "0"),
        ("cpu.max", "max 100000", "100000 100000"),
        ("cpu.max", "200000 100000", "100000 100000"),
        ("pids.max", "max", "128"),
    ],
)
def test_one_changed_v2_file_fails(v2_host, name, value, expected):
    """A changed cgroup v2 file fails that check alone."""
    _v2_write(v2_host, name, value)
    assert only_failure(v2_host.verify()) == Check(
        f"cgroup {name}", expected, value, v2_host.source, False
    )


def test_cpu_max_rounded_up_by_systemd_passes(v2_host):
    """The systemd driver rounds the quota up to 10 ms per second; that is not a failure."""
    cfg = attrs.evolve(CFG, cpus=0.333)
    v2_host.info["HostConfig"]["NanoCpus"] = 333_000_000
    _v2_write(v2_host, "cpu.max", "34000 100000")
    assert v2_host.verify(cfg).ok


@pytest.mark.parametrize(("weight", "ok"), [("20", True), ("59", True), ("100", False)])
def test_cpu_weight_accepts_either_runc_conversion(v2_host, weight, ok):
    """Shares 512 may land as weight 20 (runc <= 1.3.1) or 59 (newer), never as 100."""
    cfg = attrs.evolve(CFG, cpu_shares=512)
    v2_host.info["HostConfig"]["CpuShares"] = 512
    _v2_write(v2_host, "cpu.weight", weight)
    report = v2_host.verify(cfg)
    assert report.ok is ok
    check = next(c for c in report.checks if c.property == "cgroup cpu.weight")
    assert check.expected == "20 or 59"


def test_cpuset_is_checked_in_the_configured_file_not_the_effective_one(v2_host):
    """cpuset.cpus empty (unset) fails even when the effective set happens to match."""
    cfg = attrs.evolve(CFG, cpuset="0")
    v2_host.info["HostConfig"]["CpusetCpus"] = "0"
    _v2_write(v2_host, "cpuset.cpus.effective", "0")
    assert only_failure(v2_host.verify(cfg)) == Check(
        "cgroup cpuset.cpus", "0", "", v2_host.source, False
    )
    _v2_write(v2_host, "cpuset.cpus", "0")
    _v2_write(v2_host, "cpuset.cpus.effective", "0")
    assert v2_host.verify(cfg).ok


def test_unset_swap_means_twice_the_memory_in_every_check(host, v2_host_copy):
    """memory_swap None: HostConfig.MemorySwap, v1 memsw and v2 swap.max all expect 2x memory."""
    # Validation refuses memory without memory_swap; Docker's rule applies all the same.
    cfg = attrs.evolve(CFG)
    object.__setattr__(cfg, "memory_swap", None)
    assert memory_swap(cfg) == 2 * CFG.memory
    assert memory_swap(SimpleNamespace(memory=None, memory_swap=None)) is None
    for target in (host, v2_host_copy):
        target.info["HostConfig"]["MemorySwap"] = 2 * CFG.memory
        report = target.verify(cfg)
        expected = {c.property: c.expected for c in report.checks}
        assert expected["HostConfig.MemorySwap"] == str(2 * CFG.memory)
        failure = only_failure(report)
        if target is host:
            assert failure.property == "cgroup memory.memsw.limit_in_bytes"
            assert failure.expected == str(2 * CFG.memory)
        else:
            assert failure.property == "cgroup memory.swap.max"
            assert failure.expected == str(CFG.memory)


def test_cpu_files_in_a_comounted_cpu_cpuacct_directory_are_found(host):
    """On v1 with cpu and cpuacct mounted together, the host read still finds the CPU files."""
    cgroup = Path(host.cgroup_root)
    (cgroup / "cpu").rename(cgroup / "cpu,cpuacct")
    path = host.proc_file("cgroup")
    text = path.read_text().replace("1:cpu:", "1:cpu,cpuacct:")
    path.write_text(text.replace(f"2:cpuacct:/docker/{host.id}\n", ""))
    report = host.verify()
    assert report.ok, str(report)
    assert report.sources() == {"inspect", host.source}
    assert "cgroup cpu.cfs_quota_us" in {c.property for c in report.checks}


def test_a_cgroup_file_not_in_the_kernels_form_falls_back_to_the_exec_probe(host):
    """A limit file that is no number is not guessed at: the exec probe reads it, with a note."""
    host.cgroup_file("pids", "pids.max").write_text("lots\n")
    report = host.verify()
    assert report.ok, str(report)
    assert "exec probe" in report.sources()
    assert "could not be read (a cgroup value is not a number: 'lots')" in report.notes[0]


# -- the exec probe, and when the host cannot be read ----------------------------------


def test_remote_daemon_uses_the_exec_probe(host):
    """A daemon that is not on a unix socket is checked through the exec probe, and says so."""
    client = host.client(REMOTE)
    report = host.verify(client=client)
    assert report.ok, str(report)
    assert {c.source for c in report.checks} == {"inspect", "exec probe"}
    assert report.notes == (
        f"kernel state read by an exec probe: the daemon is not local ({REMOTE})",
    )
    assert client.api.calls == [f"inspect {host.id}", "exec_create user=''", "exec_start"]


def test_forced_exec_probe_passes_without_a_note(host):
    """kernel='exec' reads the kernel state through the probe even with a local daemon."""
    report = host.verify(kernel="exec")
    assert report.ok, str(report)
    assert "exec probe" in {c.source for c in report.checks}
    assert report.notes == ()


def test_exec_probe_findings_fail_like_host_ones(host):
    """A weaker kernel value seen by the exec probe fails with source 'exec probe'."""
    client = host.client(REMOTE)
    client.api.exec_output = client.api.exec_output.replace(b"NoNewPrivs:\t1", b"NoNewPrivs:\t0")
    failure = only_failure(host.verify(client=client))
    assert failure == Check("NoNewPrivs", "1", "0", "exec probe", False)


def test_image_without_shell_is_a_clear_note_not_a_failure(host):
    """No /bin/sh on a remote daemon: strict verify passes, and the report says why."""
    client = host.client(REMOTE)
    client.api.exec_output = NO_SHELL_OUTPUT
    client.api.exec_code = 126
    report = host.verify(client=client, strict=True)
    assert report.ok
    assert report.sources() == frozenset({"inspect"})
    assert report.notes == (
        "kernel state not verified: the image has no /bin/sh for the exec probe and the "
        f"daemon is not local ({REMOTE})",
    )


def test_unreadable_probe_output_fails(host):
    """A probe that ran but printed something else is a failed 'kernel state' check."""
    client = host.client(REMOTE)
    client.api.exec_output = b"sh: out of memory\n"
    client.api.exec_code = 2
    failure = only_failure(host.verify(client=client))
    assert (failure.property, failure.source) == ("kernel state", "exec probe")
    assert "exit code 2" in failure.actual
    assert "sh: out of memory" in failure.actual


def test_a_probe_whose_output_was_lost_is_run_once_more(host):
    """An exec probe that exits 0 with no output (moby#27289) is re-run once, and read."""
    client = host.client(REMOTE)
    outputs = [b"", client.api.exec_output]
    client.api.exec_start = lambda exec_id, socket: exec_stream(outputs.pop(0))  # type: ignore[method-assign]
    report = host.verify(client=client)
    assert report.ok, str(report)
    assert client.api.calls.count("exec_create user=''") == 2
    assert "exec probe" in report.sources()


def test_a_probe_that_prints_nothing_twice_fails(host):
    """Re-run once only: a second empty output is a failed 'kernel state' check."""
    client = host.client(REMOTE)
    client.api.exec_output = b""
    failure = only_failure(host.verify(client=client))
    assert (failure.property, failure.source) == ("kernel state", "exec probe")
    assert "exit code 0" in failure.actual
    assert "<empty>" in failure.actual
    assert client.api.calls.count("exec_create user=''") == 2


NOT_RUNNING = docker.errors.APIError("409 Client Error", explanation="Container abc is not running")


def test_container_gone_before_the_exec_is_reported_as_not_running(host):
    """Exited between the inspect and the exec probe: a State.Running failure, not an exec error."""
    client = host.client(REMOTE)
    client.api.exec_error = NOT_RUNNING
    client.api.later_state = {"Running": False, "Status": "exited", "ExitCode": 0, "Pid": 0}
    report = host.verify(client=client)
    assert only_failure(report) == Check(
        "State.Running", "true", "false (exited, exit code 0)", "inspect", False
    )
    assert client.api.calls[-1] == f"inspect {host.id}"


def test_exec_refused_on_a_running_container_is_a_launch_error(host):
    """An exec the engine refuses while the container still runs raises LaunchError."""
    client = host.client(REMOTE)
    client.api.exec_error = NOT_RUNNING
    with pytest.raises(LaunchError) as caught:
        host.verify(client=client)
    assert caught.value.__cause__ is NOT_RUNNING


def test_process_not_visible_on_this_host_falls_back_to_exec(host):
    """A unix socket but no /proc/<pid> here (the engine is elsewhere): exec probe, with a note."""
    shutil.rmtree(host.proc_file(""))
    report = host.verify()
    assert report.ok
    assert "exec probe" in report.sources()
    assert report.notes == (
        f"kernel state read by an exec probe: the daemon's process {host.pid} is not visible "
        f"in {host.proc_root} here",
    )


def test_process_of_another_container_is_not_trusted(host):
    """A /proc/<pid> whose cgroup names another container (another PID namespace) is not read."""
    host.proc_file("cgroup").write_text("4:memory:/docker/" + "f" * 64 + "\n")
    report = host.verify()
    assert "exec probe" in report.sources()
    assert "is not the container's process" in report.notes[0]


def test_forced_host_read_on_a_remote_daemon_fails(host):
    """kernel='host' where the host cannot be read is a failure, not a silent pass."""
    failure = only_failure(host.verify(client=host.client(REMOTE), kernel="host"))
    assert failure.property == "kernel state"
    assert failure.actual == f"not read: the daemon is not local ({REMOTE})"


def test_kernel_false_checks_the_record_only(host, tmp_path):
    """kernel=False reads nothing from the host and needs no running container."""
    host.info["State"].update(Running=False, Status="created", Pid=0)
    report = verify(
        host.id, CFG, client=host.client(), kernel=False,
        proc_root=str(tmp_path / "nothing"), cgroup_root=str(tmp_path / "nothing"),
    )  # fmt: skip
    assert report.ok
    assert report.sources() == frozenset({"inspect"})


def test_stopped_container_fails_the_kernel_check(host):
    """A container that is not running cannot show its kernel state: State.Running fails."""
    host.info["State"].update(Running=False, Status="exited", Pid=0, ExitCode=137)
    report = host.verify()
    assert only_failure(report) == Check(
        "State.Running", "true", "false (exited, exit code 137)", "inspect", False
    )
    assert report.notes == ("kernel state not read: the container is not running",)


# -- strictness and the report -------------------------------------------------------


def test_strict_raises_with_the_report(host):
    """Strict verify raises HardeningNotApplied naming each failure; the report rides along."""
    host.info["HostConfig"]["Privileged"] = True
    host.set_status("NoNewPrivs", "0")
    with pytest.raises(HardeningNotApplied) as caught:
        host.verify(strict=True)
    report = caught.value.report
    assert isinstance(report, VerifyReport)
    assert [c.property for c in report.failures] == ["HostConfig.Privileged", "NoNewPrivs"]
    message = str(caught.value)
    assert "2 of" in message
    assert "HostConfig.Privileged: expected false, actual true (from inspect)" in message
    assert f"NoNewPrivs: expected 1, actual 0 (from {host.source})" in message
    assert isinstance(caught.value, sr.SecureRunError)


def test_strict_returns_the_report_when_all_pass(host):
    """Strict verify of a faithful container returns the report instead of raising."""
    assert host.verify(strict=True).ok


def test_report_text_is_a_table_listing_the_failure(host):
    """str(report) is a table: a header, one row per check, FAIL on the failed one."""
    host.info["HostConfig"]["Memory"] = 0
    report = host.verify()
    text = str(report)
    lines = text.splitlines()
    assert lines[0] == f"container {host.id[:12]}: 1 of {len(report.checks)} checks failed"
    assert [cell.strip() for cell in lines[1].split(" | ")] == [
        "property", "expected", "actual", "source", "ok",
    ]  # fmt: skip
    row = next(line for line in lines if line.startswith("HostConfig.Memory "))
    assert [cell.strip() for cell in row.split(" | ")] == [
        "HostConfig.Memory", "536870912", "0", "inspect", "FAIL",
    ]  # fmt: skip
    assert sum(line.rstrip().endswith("| FAIL") for line in lines) == 1
    assert len(lines) == 3 + len(report.checks)


def test_report_text_lists_notes(host):
    """Notes follow the table, one per line."""
    client = host.client(REMOTE)
    text = str(host.verify(client=client))
    assert text.splitlines()[-2:] == [
        "notes:", f"  - kernel state read by an exec probe: the daemon is not local ({REMOTE})"
    ]  # fmt: skip


def test_report_to_dict_is_json(host):
    """to_dict() is plain data that survives a JSON round trip, failures included."""
    host.info["HostConfig"]["ReadonlyRootfs"] = False
    report = host.verify()
    data = json.loads(json.dumps(report.to_dict()))
    assert data["container_id"] == host.id
    assert data["ok"] is False
    assert len(data["checks"]) == len(report.checks)
    assert {"property": "HostConfig.ReadonlyRootfs", "expected": "true", "actual": "false",
            "source": "inspect", "ok": False} in data["checks"]  # fmt: skip


def test_long_values_are_cut_in_the_table_only(host):
    """A custom seccomp profile or long option list is shortened in str(), kept in the check."""
    long_opt = "label=" + "x" * 200
    host.info["HostConfig"]["SecurityOpt"] = ["no-new-privileges", long_opt]
    report = host.verify()
    assert max(len(line) for line in str(report).splitlines()) < 300
    assert only_failure(report).actual.endswith("...")


# -- what verify() accepts -------------------------------------------------------------


@attrs.define
class Launched:
    """Stands in for SecureContainer: an id, its config and its client."""

    id: str
    config: sr.RunConfig
    client: Any


def test_launched_container_supplies_config_and_client(host):
    """A launched container (id, config, client) needs no other argument."""
    client = host.client()
    report = verify(
        Launched(host.id, CFG, client), proc_root=host.proc_root, cgroup_root=host.cgroup_root
    )
    assert report.ok
    assert client.api.calls == [f"inspect {host.id}"]


def test_explicit_config_overrides_the_launched_one(host):
    """A cfg argument is checked instead of the container's own config."""
    weaker = attrs.evolve(CFG, pids_limit=64)
    with pytest.raises(HardeningNotApplied) as caught:
        verify(Launched(host.id, CFG, host.client()), weaker,
               proc_root=host.proc_root, cgroup_root=host.cgroup_root)  # fmt: skip
    assert {c.property for c in caught.value.report.failures} == {
        "HostConfig.PidsLimit", "cgroup pids.max",
    }  # fmt: skip


def test_docker_py_container_uses_its_client(host):
    """A docker-py Container brings its client; the config is still required."""
    client = host.client()
    container = Container(attrs={"Id": host.id}, client=client)
    report = verify(container, CFG, proc_root=host.proc_root, cgroup_root=host.cgroup_root)
    assert report.ok
    assert client.api.calls == [f"inspect {host.id}"]


class ClosingClient(FakeClient):
    closed = 0

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("given", [True, False])
def test_a_client_verify_made_is_closed_and_a_given_one_is_not(host, monkeypatch, given):
    """verify() closes only the client it connected itself, even when the inspect fails."""
    client = ClosingClient(FakeAPI(host.info))
    client.api.inspect_error = docker.errors.NotFound("404 Client Error", explanation="gone")
    monkeypatch.setattr("secure_run._engine.client.connect", lambda **_: client)
    with pytest.raises(LaunchError):
        verify(host.id, CFG, client=client if given else None)
    assert client.closed == (0 if given else 1)


@pytest.mark.parametrize("target", ["abc123", "name-of-container"])
def test_id_without_config_is_a_config_error(target):
    """verify(container_id) without the RunConfig is refused with a fix."""
    with pytest.raises(sr.ConfigError) as caught:
        verify(target, client=FakeClient(FakeAPI({})))
    (problem,) = caught.value.problems
    assert problem.field == "cfg"
    assert problem.fix == "pass the RunConfig the container was made from"


def test_container_without_config_is_a_config_error(host):
    """A docker-py Container carries no RunConfig: one must be passed."""
    container = Container(attrs={"Id": host.id}, client=host.client())
    with pytest.raises(sr.ConfigError, match="pass the RunConfig"):
        verify(container)


@pytest.mark.parametrize("kernel", ["auto", "proc", 1.5, None])
def test_unknown_kernel_source_is_refused(host, kernel):
    """kernel= takes True, False, 'host' or 'exec' only."""
    with pytest.raises(sr.ConfigError) as caught:
        host.verify(kernel=kernel)
    assert caught.value.problems[0].field == "kernel"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (docker.errors.NotFound("404 Client Error", explanation="No such container: abc"),
         LaunchError),
        (requests.exceptions.ConnectionError("connection refused"), DaemonUnavailable),
    ],
)  # fmt: skip
def test_docker_errors_become_secure_run_errors(host, error, expected):
    """A missing container or an unreachable engine raises a secure_run error, never docker's."""
    client = host.client()
    client.api.inspect_error = error
    with pytest.raises(expected) as caught:
        host.verify(client=client)
    assert caught.value.__cause__ is error


@pytest.mark.parametrize("name", sorted(sr.presets()))
def test_the_config_audits_record_of_a_config_passes_its_inspect_checks(name):
    """The record audit_config builds for a config is one verify finds as the config says."""
    from secure_run._audit.config_record import config_inspect
    from secure_run._proof.inspect_checks import inspect_checks

    cfg = (
        sr.preset(name, TEST_IMAGE)
        .healthcheck(["CMD", "true"], interval="5s", start_period="1s")
        .stop_timeout(7)
        .restart("on-failure", 3)
        .log_limits("1m", 2)
        .build()
    )
    failed = [c for c in inspect_checks(cfg, config_inspect(cfg)) if not c.ok]
    assert failed == []


def test_probe_cut_short_by_the_exit_is_reported_as_not_running(host):
    """Exit code 126 and no report, and the container has exited since: State.Running fails."""
    client = host.client(REMOTE)
    client.api.exec_output = b"OCI runtime exec failed: read init-p: connection reset by peer\r\n"
    client.api.exec_code = 126
    client.api.later_state = {"Running": False, "Status": "exited", "ExitCode": 0, "Pid": 0}
    report = host.verify(client=client)
    assert only_failure(report) == Check(
        "State.Running", "true", "false (exited, exit code 0)", "inspect", False
    )


def test_probe_without_a_report_in_a_running_container_still_fails(host):
    """Exit code 126 and no report while the container still runs: the probe's failure stays."""
    client = host.client(REMOTE)
    client.api.exec_output = b"OCI runtime exec failed: read init-p: connection reset by peer\r\n"
    client.api.exec_code = 126
    failure = only_failure(host.verify(client=client))
    assert (failure.property, failure.source) == ("kernel state", "exec probe")
    assert "exit code 126" in failure.actual
