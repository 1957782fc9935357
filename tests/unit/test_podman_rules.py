"""Podman: how the engine is known, what it refuses, and how its inspect record is read."""

from __future__ import annotations

from typing import Any

import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts, unsupported
from secure_run._engine.podman import (
    LIBPOD_KEY,
    docker_form,
    human_size,
    is_podman,
    is_podman_record,
)
from secure_run._proof.inspect_checks import inspect_checks

PODMAN_VERSION: dict[str, Any] = {
    "Platform": {"Name": "linux/amd64/debian-12"},
    "Components": [
        {"Name": "Podman Engine", "Version": "4.3.1"},
        {"Name": "Conmon", "Version": "conmon version 2.1.6"},
        {"Name": "OCI Runtime (runc)", "Version": "runc version 1.1.5"},
    ],
    "Version": "4.3.1",
    "ApiVersion": "1.41",
    "MinAPIVersion": "1.24",
}
DOCKER_VERSION: dict[str, Any] = {
    "Components": [{"Name": "Engine", "Version": "20.10.24+dfsg1"}],
    "Version": "20.10.24+dfsg1",
    "ApiVersion": "1.41",
}
INFO: dict[str, Any] = {
    "Runtimes": {"runc": {"path": "/usr/bin/runc"}, "crun": {"path": "/usr/bin/crun"}},
    "DefaultRuntime": "runc",
    "PidsLimit": True,
    "MemoryLimit": True,
    "SwapLimit": True,
    "CpuCfsQuota": True,
    "CpuCfsPeriod": True,
    "SecurityOptions": ["name=seccomp,profile=default"],
    "OSType": "linux",
    "CgroupVersion": "1",
    "NCPU": 2,
}
#: Podman 4.3.1's expanded CapDrop for cap_drop ALL (Docker's 14 defaults).
EXPANDED_DROP = [
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
]  # fmt: skip


def _facts(version: dict[str, Any] = PODMAN_VERSION) -> EngineFacts:
    return EngineFacts.parse(INFO, version, api_version="1.41", local=True)


def _restricted() -> sr.RunConfig:
    return sr.preset("restricted", "secure-run-test/busybox").build()


def _record(cfg: sr.RunConfig, **hc: Any) -> dict[str, Any]:
    """What Podman 4.3.1 recorded for the restricted preset (read on the podman engine)."""
    host_config: dict[str, Any] = {
        "CapAdd": [],
        "CapDrop": EXPANDED_DROP,
        "SecurityOpt": ["no-new-privileges"],
        "ReadonlyRootfs": True,
        "Memory": cfg.memory,
        "MemoryReservation": cfg.memory_reservation,
        "MemorySwap": cfg.memory,
        "NanoCpus": 1_000_000_000,
        "CpuQuota": 100_000,
        "CpuPeriod": 100_000,
        "PidsLimit": cfg.pids_limit,
        "NetworkMode": "none",
        "Tmpfs": {
            "/run": "rw,rprivate,nosuid,nodev,tmpcopyup",
            "/tmp": "size=67108864,mode=1777,noexec,nosuid,nodev,rw,rprivate,tmpcopyup",
            "/var/tmp": "rw,rprivate,nosuid,nodev,tmpcopyup",
        },
        "Ulimits": [
            {"Name": "RLIMIT_NOFILE", "Hard": 1024, "Soft": 1024},
            {"Name": "RLIMIT_CORE", "Hard": 0, "Soft": 0},
            {"Name": "RLIMIT_NPROC", "Hard": 32768, "Soft": 32768},
        ],
        "IpcMode": "shareable",
        "PidMode": "private",
        "UTSMode": "private",
        "UsernsMode": "",
        "Init": True,
        "Runtime": "oci",
        "LogConfig": {"Type": "json-file", "Config": None},
        "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
    }
    host_config.update(hc)
    return {
        "Config": {"User": str(cfg.user)},
        "HostConfig": host_config,
        LIBPOD_KEY: {"OCIRuntime": "runc", "LogSize": human_size(10 * 1024 * 1024)},
    }


def _failed(cfg: sr.RunConfig, record: dict[str, Any]) -> dict[str, str]:
    return {c.property: c.actual for c in inspect_checks(cfg, record) if not c.ok}


def test_podman_is_known_by_its_version_components() -> None:
    """A 'Podman Engine' component makes EngineFacts.podman true; Docker's 'Engine' does not."""
    assert is_podman(PODMAN_VERSION)
    assert _facts().podman
    assert not is_podman(DOCKER_VERSION)
    assert not _facts(DOCKER_VERSION).podman


def test_a_podman_record_is_known_by_its_runtime_oci() -> None:
    """Podman's record says Runtime 'oci'; Docker's names the runtime."""
    assert is_podman_record(_record(_restricted()))
    assert not is_podman_record({"HostConfig": {"Runtime": "runc"}})


@pytest.mark.parametrize("preset", ["service", "baseline"])
def test_cap_add_for_a_non_root_user_is_refused_on_podman(preset: str) -> None:
    """cap_add with a non-root user is refused on Podman, naming Podman and the ambient set."""
    cfg = sr.preset(preset, "img").build()
    (problem,) = unsupported(cfg, _facts())
    assert problem.field == "cap_add"
    assert "Podman" in problem.message
    assert "ambient" in problem.message
    assert unsupported(cfg, _facts(DOCKER_VERSION)) == []


def test_cap_add_for_root_is_not_refused_on_podman() -> None:
    """cap_add for uid 0 is the same on Podman as on Docker: no problem."""
    cfg = sr.preset("service", "img").user(0, 0).opt_in("root-user").build()
    assert [p.field for p in unsupported(cfg, _facts())] == []


def test_a_runtime_other_than_the_engines_is_refused_on_podman() -> None:
    """runtime('crun') is refused on Podman (its Docker API ignores it); runc, its own, is not."""
    (problem,) = unsupported(sr.preset("restricted", "img").runtime("crun").build(), _facts())
    assert problem.field == "runtime"
    assert "ignores HostConfig.Runtime" in problem.message
    assert unsupported(sr.preset("restricted", "img").runtime("runc").build(), _facts()) == []


@pytest.mark.parametrize("preset", ["restricted", "sandbox"])
def test_hardened_presets_raise_no_problem_on_podman(preset: str) -> None:
    """The restricted and sandbox presets are launched on Podman as they are."""
    assert unsupported(sr.preset(preset, "img").build(), _facts()) == []


def test_podmans_record_of_the_restricted_preset_passes_every_inspect_check() -> None:
    """Expanded CapDrop, added tmpfs, RLIMIT_ names and libpod's log size read as asked."""
    cfg = _restricted()
    assert _failed(cfg, _record(cfg)) == {}


def test_a_weaker_cap_set_in_podmans_record_still_fails() -> None:
    """A CapDrop that leaves NET_RAW in the bounding set is not rewritten to ALL."""
    cfg = _restricted()
    failed = _failed(cfg, _record(cfg, CapDrop=[c for c in EXPANDED_DROP if c != "NET_RAW"]))
    assert "HostConfig.CapDrop" in failed


def test_an_asked_tmpfs_at_run_is_kept() -> None:
    """/run is dropped from Podman's record only when the config did not ask for it."""
    cfg = sr.preset("restricted", "img").tmpfs("/run", size="1m").build()
    form = docker_form(cfg, _record(cfg))
    assert "/run" in form["HostConfig"]["Tmpfs"]
    assert "/var/tmp" not in form["HostConfig"]["Tmpfs"]


def test_an_nproc_the_config_asks_for_is_compared() -> None:
    """An nproc ulimit in the config is checked against Podman's RLIMIT_NPROC, not dropped."""
    cfg = sr.preset("restricted", "img").ulimit("nproc", 100).build()
    assert "HostConfig.Ulimits" in _failed(cfg, _record(cfg))


def test_the_log_limit_fails_without_libpods_record() -> None:
    """Without Podman's own record the log options read as unset, so the check fails."""
    cfg = _restricted()
    record = _record(cfg)
    del record[LIBPOD_KEY]
    failed = _failed(cfg, record)
    assert "HostConfig.LogConfig" in failed


def test_a_different_log_size_fails() -> None:
    """A log size other than the config's max_size fails the log check."""
    cfg = _restricted()
    record = _record(cfg)
    record[LIBPOD_KEY] = {"OCIRuntime": "runc", "LogSize": "1.049MB"}
    assert "HostConfig.LogConfig" in _failed(cfg, record)


def test_a_runtime_is_read_from_libpods_record() -> None:
    """runtime('runc') checks against libpod's OCIRuntime, not the record's 'oci'."""
    cfg = sr.preset("restricted", "img").runtime("runc").build()
    assert _failed(cfg, _record(cfg)) == {}
    record = _record(cfg)
    record[LIBPOD_KEY] = {"OCIRuntime": "crun", "LogSize": human_size(10 * 1024 * 1024)}
    assert _failed(cfg, record) == {"HostConfig.Runtime": "crun"}


@pytest.mark.parametrize(
    ("size", "shown"), [(10 * 1024 * 1024, "10.49MB"), (1024 * 1024, "1.049MB"), (999, "999B")]
)
def test_human_size_is_podmans(size: int, shown: str) -> None:
    """Byte counts read as Podman shows a log size (go-units HumanSize)."""
    assert human_size(size) == shown
