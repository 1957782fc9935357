"""secure_run._engine.facts: the engine's facts, the settings it cannot honour, create warnings.

``INFO_V1`` and ``VERSION_V1`` are ``client.info()`` and ``client.version()`` as
recorded from Docker 20.10.24 (API 1.41, cgroup v1, cgroupfs driver, seccomp, no
AppArmor, swap limit supported, runc only). ``INFO_V2``/``VERSION_V2`` are hand-edited
from them into a rootless Docker 24 on cgroup v2 (systemd driver) with AppArmor,
gVisor (runsc) installed and no CPU controller delegated.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import weakref
from typing import Any, Callable, cast

import attrs
import docker
import pytest

import secure_run as sr
from secure_run._engine.facts import (
    API_REQUIREMENTS,
    EngineFacts,
    create_warnings,
    engine_facts,
    refuse_unsupported,
    unsupported,
)
from secure_run._errors import Problem, UnsupportedFeature

INFO_V1: dict[str, Any] = {
    "ID": "3XIS:6UQU:3ZSS:IPBQ:OCL7:GR7T:PHRY:FH2I:UFS2:ZK5C:6Y4M:EK7R",
    "Containers": 0,
    "ContainersRunning": 0,
    "ContainersPaused": 0,
    "ContainersStopped": 0,
    "Images": 7,
    "Driver": "overlay2",
    "DriverStatus": [
        ["Backing Filesystem", "extfs"],
        ["Supports d_type", "true"],
        ["Native Overlay Diff", "true"],
        ["userxattr", "false"],
    ],
    "Plugins": {
        "Volume": ["local"],
        "Network": ["bridge", "host", "ipvlan", "macvlan", "null", "overlay"],
        "Authorization": None,
        "Log": [
            "awslogs",
            "fluentd",
            "gcplogs",
            "gelf",
            "journald",
            "json-file",
            "local",
            "logentries",
            "splunk",
            "syslog",
        ],
    },
    "MemoryLimit": True,
    "SwapLimit": True,
    "KernelMemory": True,
    "KernelMemoryTCP": True,
    "CpuCfsPeriod": True,
    "CpuCfsQuota": True,
    "CPUShares": True,
    "CPUSet": True,
    "PidsLimit": True,
    "IPv4Forwarding": True,
    "BridgeNfIptables": True,
    "BridgeNfIp6tables": True,
    "Debug": False,
    "NFd": 28,
    "OomKillDisable": True,
    "NGoroutines": 41,
    "SystemTime": "2026-11-22T15:22:24.553682327Z",
    "LoggingDriver": "json-file",
    "CgroupDriver": "cgroupfs",
    "CgroupVersion": "1",
    "NEventsListener": 0,
    "KernelVersion": "6.18.44-fc-v669",
    "OperatingSystem": "Debian GNU/Linux 12 (bookworm)",
    "OSVersion": "12",
    "OSType": "linux",
    "Architecture": "x86_64",
    "IndexServerAddress": "https://index.docker.io/v1/",
    "RegistryConfig": {
        "AllowNondistributableArtifactsCIDRs": [],
        "AllowNondistributableArtifactsHostnames": [],
        "InsecureRegistryCIDRs": ["127.0.0.0/8"],
        "IndexConfigs": {
            "docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True, "Official": True}
        },
        "Mirrors": [],
    },
    "NCPU": 2,
    "MemTotal": 25276502016,
    "GenericResources": None,
    "DockerRootDir": "/var/lib/docker",
    "HttpProxy": "http://127.0.0.1:9",
    "HttpsProxy": "http://127.0.0.1:9",
    "NoProxy": "",
    "Name": "vm",
    "Labels": [],
    "ExperimentalBuild": False,
    "ServerVersion": "20.10.24+dfsg1",
    "Runtimes": {
        "io.containerd.runc.v2": {"path": "runc"},
        "io.containerd.runtime.v1.linux": {"path": "runc"},
        "runc": {"path": "runc"},
    },
    "DefaultRuntime": "runc",
    "Swarm": {
        "NodeID": "",
        "NodeAddr": "",
        "LocalNodeState": "inactive",
        "ControlAvailable": False,
        "Error": "",
        "RemoteManagers": None,
    },
    "LiveRestoreEnabled": False,
    "Isolation": "",
    "InitBinary": "docker-init",
    "ContainerdCommit": {"ID": "1.6.20~ds1-1+deb12u3", "Expected": "1.6.20~ds1-1+deb12u3"},
    "RuncCommit": {"ID": "1.1.5+ds1-1+deb12u1", "Expected": "1.1.5+ds1-1+deb12u1"},
    "InitCommit": {"ID": "", "Expected": ""},
    "SecurityOptions": ["name=seccomp,profile=default"],
    "Warnings": None,
}
VERSION_V1: dict[str, Any] = {
    "Platform": {"Name": ""},
    "Components": [
        {
            "Name": "Engine",
            "Version": "20.10.24+dfsg1",
            "Details": {
                "ApiVersion": "1.41",
                "Arch": "amd64",
                "BuildTime": "2026-05-07T21:09:36.000000000+00:00",
                "Experimental": "false",
                "GitCommit": "5d6db84",
                "GoVersion": "go1.19.8",
                "KernelVersion": "6.18.44-fc-v669",
                "MinAPIVersion": "1.12",
                "Os": "linux",
            },
        },
        {
            "Name": "containerd",
            "Version": "1.6.20~ds1",
            "Details": {"GitCommit": "1.6.20~ds1-1+deb12u3"},
        },
        {"Name": "runc", "Version": "1.1.5+ds1", "Details": {"GitCommit": "1.1.5+ds1-1+deb12u1"}},
        {"Name": "docker-init", "Version": "0.19.0", "Details": {"GitCommit": ""}},
    ],
    "Version": "20.10.24+dfsg1",
    "ApiVersion": "1.41",
    "MinAPIVersion": "1.12",
    "GitCommit": "5d6db84",
    "GoVersion": "go1.19.8",
    "Os": "linux",
    "Arch": "amd64",
    "KernelVersion": "6.18.44-fc-v669",
    "BuildTime": "2026-05-07T21:09:36.000000000+00:00",
}

INFO_V2: dict[str, Any] = {
    **INFO_V1,
    "CgroupDriver": "systemd",
    "CgroupVersion": "2",
    "SwapLimit": False,
    "CpuCfsPeriod": False,
    "CpuCfsQuota": False,
    "CPUShares": False,
    "CPUSet": False,
    "KernelVersion": "6.1.0-18-amd64",
    "ServerVersion": "24.0.7",
    "SecurityOptions": [
        "name=apparmor",
        "name=seccomp,profile=builtin",
        "name=rootless",
        "name=cgroupns",
    ],
    "Runtimes": {
        "io.containerd.runc.v2": {"path": "runc"},
        "runc": {"path": "runc"},
        "runsc": {"path": "/usr/local/bin/runsc"},
    },
    "Warnings": [
        "WARNING: No cpu cfs quota support",
        "WARNING: No cpu cfs period support",
        "WARNING: No cpu shares support",
        "WARNING: No cpuset support",
        "WARNING: No swap limit support",
    ],
}
VERSION_V2: dict[str, Any] = {
    **VERSION_V1,
    "Version": "24.0.7",
    "ApiVersion": "1.43",
    "KernelVersion": "6.1.0-18-amd64",
}

IMAGE = "busybox:1.36"
B = sr.builder(IMAGE)  # the restricted preset: memory, cpus, pids_limit, init, tmpfs, seccomp


def v1(**changes: Any) -> EngineFacts:
    """The recorded engine's facts, with some changed."""
    facts = EngineFacts.parse(INFO_V1, VERSION_V1, api_version="1.41", local=True)
    return attrs.evolve(facts, **changes)


# -- facts ---------------------------------------------------------------------


def test_facts_of_the_recorded_cgroup_v1_engine() -> None:
    """Every fact is read from the recorded info() and version() of Docker 20.10."""
    facts = EngineFacts.parse(INFO_V1, VERSION_V1, api_version="1.41", local=True)
    assert facts == EngineFacts(
        api_version="1.41",
        max_api_version="1.41",
        min_api_version="1.12",
        server_version="20.10.24+dfsg1",
        os_type="linux",
        kernel_version="6.18.44-fc-v669",
        cgroup_version=1,
        cgroup_driver="cgroupfs",
        security_options=("name=seccomp,profile=default",),
        seccomp=True,
        apparmor=False,
        selinux=False,
        rootless=False,
        userns=False,
        swap_limit=True,
        memory_limit=True,
        cpu_cfs_quota=True,
        cpu_cfs_period=True,
        cpu_shares=True,
        cpuset=True,
        pids_limit=True,
        runtimes=("io.containerd.runc.v2", "io.containerd.runtime.v1.linux", "runc"),
        default_runtime="runc",
        ncpu=2,
        mem_total=25276502016,
        warnings=(),
        local=True,
    )


def test_facts_of_a_rootless_cgroup_v2_engine_with_apparmor() -> None:
    """cgroup v2, the systemd driver, AppArmor, rootless, runsc and the info warnings are read."""
    facts = EngineFacts.parse(INFO_V2, VERSION_V2, api_version="1.43", local=False)
    assert (facts.cgroup_version, facts.cgroup_driver) == (2, "systemd")
    assert (facts.apparmor, facts.seccomp, facts.rootless) == (True, True, True)
    assert (facts.selinux, facts.userns) == (False, False)
    assert facts.runtimes == ("io.containerd.runc.v2", "runc", "runsc")
    assert (facts.swap_limit, facts.cpu_cfs_quota, facts.cpu_cfs_period) == (False, False, False)
    assert (facts.memory_limit, facts.pids_limit) == (True, True)
    assert facts.warnings == tuple(INFO_V2["Warnings"])
    assert (facts.server_version, facts.max_api_version, facts.local) == ("24.0.7", "1.43", False)


def test_facts_an_engine_does_not_report_read_as_unsupported() -> None:
    """With empty answers every capability is false and the cgroup version is 1."""
    facts = EngineFacts.parse({}, {}, api_version="1.41", local=False)
    assert facts.cgroup_version == 1
    assert not any(
        (facts.seccomp, facts.apparmor, facts.swap_limit, facts.memory_limit, facts.pids_limit)
    )
    assert (facts.runtimes, facts.warnings, facts.ncpu) == ((), (), 0)


class FakeClient:
    """Answers version() and info() like the recorded engine, counting the calls."""

    def __init__(self, api_version: str = "1.41") -> None:
        self.calls = 0
        self.api = type(
            "Api", (), {"api_version": api_version, "base_url": "http://fake:2375", "adapters": {}}
        )()

    def version(self, api_version: bool = True) -> dict[str, Any]:
        self.calls += 1
        time.sleep(0.05)  # long enough for every thread to arrive while the first reads
        return VERSION_V1

    def info(self) -> dict[str, Any]:
        self.calls += 1
        return INFO_V1


def test_engine_facts_are_read_once_per_client_across_threads() -> None:
    """Eight threads asking at once get one object, read with one version() and one info()."""
    fake = FakeClient()
    client = cast(docker.DockerClient, fake)
    results: list[EngineFacts] = []
    threads = [threading.Thread(target=lambda: results.append(engine_facts(client)))
               for _ in range(8)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert all(r is results[0] for r in results)
    assert fake.calls == 2
    assert results[0].local is False  # a tcp address


def test_engine_facts_do_not_keep_the_client_alive() -> None:
    """The cache holds clients weakly: a client nobody uses any more is freed."""
    fake = FakeClient()
    engine_facts(cast(docker.DockerClient, fake))
    ref = weakref.ref(fake)
    del fake
    gc.collect()
    assert ref() is None


def test_engine_facts_refuse_a_client_newer_than_the_engine() -> None:
    """A client speaking API 1.44 to a 1.41 engine gets UnsupportedFeature naming both."""
    client = cast(docker.DockerClient, FakeClient(api_version="1.44"))
    with pytest.raises(UnsupportedFeature) as excinfo:
        engine_facts(client)
    (problem,) = excinfo.value.problems
    assert (problem.field, problem.value) == ("api_version", "'1.44'")
    assert "1.41" in problem.message
    assert "version='auto'" in problem.fix


# -- unsupported() -------------------------------------------------------------


def only(problems: list[Problem], field: str) -> Problem:
    """The one problem about ``field``."""
    found = [p for p in problems if p.field == field]
    assert len(found) == 1, problems
    return found[0]


def test_the_restricted_preset_suits_the_recorded_engine() -> None:
    """The default hardened config has nothing this engine cannot honour."""
    assert unsupported(B.build(), v1()) == []
    refuse_unsupported(B.build(), v1())  # does not raise


RULES: list[tuple[str, dict[str, Any], Callable[[sr.RunBuilder], sr.RunBuilder], str, str, str]] = [
    # id, facts changes, config, field, value, a fragment of the fix
    ("runtime", {}, lambda b: b.runtime("runsc"), "runtime", "'runsc'", "daemon.json"),
    ("apparmor", {}, lambda b: b.apparmor("docker-default"), "apparmor", "'docker-default'",
     "leave apparmor unset"),
    ("swap", {"swap_limit": False}, lambda b: b.memory("256m", swap="512m"), "memory_swap",
     str(512 << 20), "swapaccount=1"),
    ("unlimited-swap", {"swap_limit": False},
     lambda b: b.memory("256m", swap=-1).opt_in("unlimited-memory"), "memory_swap", "-1",
     "swapaccount=1"),
    ("memory", {"memory_limit": False}, lambda b: b, "memory", str(512 << 20),
     "memory cgroup"),
    ("memory-reservation", {"memory_limit": False}, lambda b: b, "memory_reservation",
     str(256 << 20), "memory cgroup"),
    ("cpus-quota", {"cpu_cfs_quota": False}, lambda b: b, "cpus", "1.0", "leave cpus unset"),
    ("cpus-period", {"cpu_cfs_period": False}, lambda b: b, "cpus", "1.0", "leave cpus unset"),
    ("cpu-quota", {"cpu_cfs_quota": False}, lambda b: b.cpu_quota(50_000), "cpu_quota",
     "50000", "leave cpu_quota unset"),
    ("cpu-shares", {"cpu_shares": False}, lambda b: b.cpu_shares(512), "cpu_shares", "512",
     "leave cpu_shares unset"),
    ("pids", {"pids_limit": False}, lambda b: b, "pids_limit", "128", "leave pids_limit unset"),
    ("cpus-above-ncpu", {}, lambda b: b.cpus(3), "cpus", "3.0", "cpus=2 or fewer"),
    ("cpuset-above-ncpu", {}, lambda b: b.cpuset("0,2-3"), "cpuset", "'0,2-3'",
     "between 0 and 1"),
    ("seccomp-default", {"seccomp": False}, lambda b: b, "seccomp", "'default'",
     "seccomp('unconfined')"),
    ("seccomp-custom", {"seccomp": False},
     lambda b: b.seccomp({"defaultAction": "SCMP_ACT_ERRNO",
                          "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}),
     "seccomp", "'custom (inline)'", "CONFIG_SECCOMP"),
    ("windows", {"os_type": "windows"}, lambda b: b, "engine", "'windows'", "Linux containers"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("facts_changes", "configure", "field", "value", "fix"),
    [r[1:] for r in RULES],
    ids=[r[0] for r in RULES],
)
def test_each_rule_names_the_field_the_value_the_reason_and_the_fix(
    facts_changes: dict[str, Any],
    configure: Callable[[sr.RunBuilder], sr.RunBuilder],
    field: str,
    value: str,
    fix: str,
) -> None:
    """A setting the engine cannot honour is one problem with its field, value and fix."""
    problem = only(unsupported(configure(B).build(), v1(**facts_changes)), field)
    assert problem.value == value
    assert problem.message
    assert fix in problem.fix


FINE: list[tuple[str, dict[str, Any], Callable[[sr.RunBuilder], sr.RunBuilder]]] = [
    ("installed-runtime", {}, lambda b: b.runtime("runc")),
    ("apparmor-present", {"apparmor": True}, lambda b: b.apparmor("docker-default")),
    ("apparmor-unconfined-without-apparmor", {},
     lambda b: b.apparmor("unconfined").opt_in("apparmor-unconfined")),
    ("no-swap-without-swap-accounting", {"swap_limit": False}, lambda b: b.memory("256m")),
    ("seccomp-unconfined-without-seccomp", {"seccomp": False},
     lambda b: b.seccomp("unconfined").opt_in("seccomp-unconfined")),
    ("cpus-equal-to-ncpu", {}, lambda b: b.cpus(2)),
    ("cpuset-within-ncpu", {}, lambda b: b.cpuset("0-1")),
    ("no-limits-without-controllers",
     {"memory_limit": False, "cpu_cfs_quota": False, "pids_limit": False},
     lambda b: b.memory(None).cpus(None).pids_limit(None)
     .opt_in("unlimited-memory", "unlimited-cpu", "unlimited-pids")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("facts_changes", "configure"), [r[1:] for r in FINE], ids=[r[0] for r in FINE]
)
def test_what_the_engine_can_honour_is_no_problem(
    facts_changes: dict[str, Any], configure: Callable[[sr.RunBuilder], sr.RunBuilder]
) -> None:
    """Near misses of each rule are accepted."""
    assert unsupported(configure(B).build(), v1(**facts_changes)) == []


#: A config using each setting of API_REQUIREMENTS, by its field and version.
USES: dict[tuple[str, str], sr.RunConfig] = {
    ("tmpfs", "1.22"): B.build(),
    ("pids_limit", "1.23"): B.build(),
    ("userns_mode", "1.23"): B.host_namespace("userns").opt_in("host-namespace").build(),
    ("sysctl", "1.24"): B.sysctl("net.ipv4.tcp_syncookies", 1).build(),
    ("healthcheck", "1.24"): B.healthcheck(["true"]).build(),
    ("init", "1.25"): B.build(),
    ("cpus", "1.25"): B.build(),
    ("stop_timeout", "1.25"): B.stop_timeout(5).build(),
    ("runtime", "1.25"): B.runtime("runc").build(),
    ("healthcheck", "1.29"): B.healthcheck(["true"], start_period=5).build(),
    ("mount", "1.30"): B.mount("data", "/data").build(),
    ("ipc_mode", "1.32"): attrs.evolve(B.build(), ipc_mode="private"),
}


def _older_by_one(version: str) -> str:
    major, minor = version.split(".")
    return f"{major}.{int(minor) - 1}"


@pytest.mark.parametrize("req", API_REQUIREMENTS, ids=lambda r: f"{r.field}-{r.min_api}")
def test_a_setting_needing_a_newer_api_is_refused_below_it(req: Any) -> None:
    """Each setting of the API table is a problem one minor version below its minimum only."""
    cfg = USES[(req.field, req.min_api)]
    needs = f"needs Engine API {req.min_api} or newer"

    def about_it(facts: EngineFacts) -> list[Problem]:
        return [p for p in unsupported(cfg, facts) if p.field == req.field and needs in p.message]

    (below,) = about_it(v1(api_version=_older_by_one(req.min_api)))
    assert "version='auto'" in below.fix
    assert about_it(v1(api_version=req.min_api)) == []


def test_the_api_table_is_covered() -> None:
    """Every setting of the API table has a config above (so the test above checks it)."""
    assert {(r.field, r.min_api) for r in API_REQUIREMENTS} == set(USES)


def test_api_versions_compare_as_numbers_not_text() -> None:
    """API 1.100 is newer than 1.25 (as text it would sort below) and 1.3 is older."""
    cfg = B.build()  # init and cpus need 1.25
    assert unsupported(cfg, v1(api_version="1.100")) == []
    assert {p.field for p in unsupported(cfg, v1(api_version="1.3"))} >= {"init", "cpus"}


def test_every_problem_is_listed_at_once() -> None:
    """Several unsupported settings come in one UnsupportedFeature, each on its own line."""
    cfg = B.runtime("runsc").apparmor("docker-default").cpus(4).build()
    facts = v1(seccomp=False, pids_limit=False)
    with pytest.raises(UnsupportedFeature) as excinfo:
        refuse_unsupported(cfg, facts)
    fields = [p.field for p in excinfo.value.problems]
    assert sorted(fields) == ["apparmor", "cpus", "pids_limit", "runtime", "seccomp"]
    text = str(excinfo.value)
    for problem in excinfo.value.problems:
        assert f"  - {problem}" in text


# -- create_warnings() ---------------------------------------------------------

SWAP_WARNING = (
    "Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
    "Memory limited without swap."
)
OOM_WARNING = (
    "OOM killer is disabled for the container, but no memory limit is set, this can result "
    "in the system running out of resources."
)


def test_strict_create_warnings_raise_one_problem_per_warning() -> None:
    """Strict mode turns each engine warning into a problem naming it and the fix."""
    with pytest.raises(UnsupportedFeature) as excinfo:
        create_warnings([SWAP_WARNING, OOM_WARNING], strict=True, logger=logging.getLogger("t"))
    problems = excinfo.value.problems
    assert [p.value for p in problems] == [repr(SWAP_WARNING), repr(OOM_WARNING)]
    assert all(p.field == "engine" for p in problems)
    assert all(p.fix.startswith("the engine discarded this setting") for p in problems)


def test_lenient_create_warnings_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Lenient mode logs each engine warning at WARNING level and raises nothing."""
    logger = logging.getLogger("secure_run.test_engine")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        create_warnings([SWAP_WARNING, OOM_WARNING], strict=False, logger=logger)
    records = [r for r in caplog.records if r.name == logger.name]
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING]
    assert SWAP_WARNING in records[0].getMessage()
    assert OOM_WARNING in records[1].getMessage()


@pytest.mark.parametrize("warnings", [None, [], [""]])
@pytest.mark.parametrize("strict", [True, False])
def test_no_create_warnings_do_nothing(
    warnings: list[str] | None, strict: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """No warnings (None, empty, or empty text) neither raise nor log."""
    with caplog.at_level(logging.DEBUG):
        create_warnings(warnings, strict=strict, logger=logging.getLogger("t"))
    assert caplog.records == []
