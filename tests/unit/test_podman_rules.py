"""Podman: how the engine is known, what it refuses, and how its inspect record is read."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts, unsupported
from secure_run._engine.podman import (
    LIBPOD_KEY,
    PODMAN_OWN_SECCOMP,
    docker_form,
    human_size,
    is_not_running_refusal,
    is_podman,
    is_podman_record,
    podman_security_opts,
)
from secure_run._engine.seccomp_files import (
    docker_default_profile,
    profile_dir,
    profile_file,
    read_profile,
)
from secure_run._errors import LaunchError
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


@pytest.fixture(autouse=True)
def _own_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Profile files go under this test's own folder ($TMPDIR/secure-run-seccomp-<uid>)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def _facts(version: dict[str, Any] = PODMAN_VERSION, *, local: bool = True) -> EngineFacts:
    return EngineFacts.parse(INFO, version, api_version="1.41", local=local)


def _restricted() -> sr.RunConfig:
    return sr.preset("restricted", "secure-run-test/busybox").build()


def _record(cfg: sr.RunConfig, **hc: Any) -> dict[str, Any]:
    """What Podman 4.3.1 recorded for the restricted preset (read on the podman engine)."""
    host_config: dict[str, Any] = {
        "CapAdd": [],
        "CapDrop": EXPANDED_DROP,
        "SecurityOpt": podman_security_opts(cfg),  # the profile file, written here
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


def test_docker_default_profile_is_sent_to_podman_as_a_file() -> None:
    """seccomp('default') on a local Podman is Docker's vendored profile, by path."""
    opts = podman_security_opts(_restricted())
    seccomp = [o for o in opts if o.startswith("seccomp=")]
    assert len(seccomp) == 1
    path = Path(seccomp[0].partition("=")[2])
    assert path.parent == profile_dir()
    assert path.read_text(encoding="utf-8") == docker_default_profile()
    assert "no-new-privileges:true" in opts
    assert stat.S_IMODE(profile_dir().stat().st_mode) == 0o700


def test_the_vendored_profile_is_dockers_default() -> None:
    """Docker 20.10.24's profile: EPERM by default, unshare allowed only with SYS_ADMIN."""
    import json

    profile = json.loads(docker_default_profile())
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    allowed = [r for r in profile["syscalls"] if "unshare" in r["names"]]
    assert allowed
    assert all(r.get("includes", {}).get("caps") == ["CAP_SYS_ADMIN"] for r in allowed)


def test_the_vendored_profile_ships_with_its_licence_and_notice() -> None:
    """Apache-2.0 section 4: the licence's text and the attribution travel with the file."""
    from importlib import resources

    package = resources.files("secure_run._engine")
    licence = (package / "docker-default-seccomp.LICENSE").read_text("utf-8")
    notice = (package / "docker-default-seccomp.NOTICE").read_text("utf-8")
    assert "Apache License" in licence
    assert "Version 2.0, January 2004" in licence
    assert "Copyright 2012-2018 Docker, Inc." in notice
    assert "docker-default-seccomp.json" in notice


def test_a_custom_profile_is_sent_to_podman_as_a_file_and_read_back() -> None:
    """A custom profile goes by path and verify() reads the file back as the same profile."""
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO"}]}  # fmt: skip
    cfg = sr.preset("restricted", "img").seccomp(profile).build()
    record = _record(cfg)
    entry = next(o for o in record["HostConfig"]["SecurityOpt"] if o.startswith("seccomp="))
    assert read_profile(entry.partition("=")[2]) == cfg.seccomp.profile_json
    assert _failed(cfg, record) == {}
    assert unsupported(cfg, _facts()) == []


def test_a_podman_record_without_a_profile_is_not_the_default() -> None:
    """No seccomp entry on Podman is its own weaker default, which fails seccomp('default')."""
    cfg = _restricted()
    failed = _failed(cfg, _record(cfg, SecurityOpt=["no-new-privileges"]))
    assert failed == {"HostConfig.SecurityOpt seccomp": PODMAN_OWN_SECCOMP}


def test_a_changed_profile_file_is_not_read_back(tmp_path: Path) -> None:
    """A file whose content no longer hashes to its name, or one elsewhere, is not read."""
    cfg = _restricted()
    record = _record(cfg)  # writes the profile file
    path = Path(profile_file(docker_default_profile()))
    assert read_profile(str(path)) == docker_default_profile()
    path.write_text("{}", encoding="utf-8")
    assert read_profile(str(path)) is None
    assert _failed(cfg, record) == {"HostConfig.SecurityOpt seccomp": "custom (not JSON)"}
    other = tmp_path / path.name
    other.write_text(docker_default_profile(), encoding="utf-8")
    assert read_profile(str(other)) is None


def test_a_profile_folder_of_another_mode_is_refused() -> None:
    """A profile folder others can write is refused, not written into."""
    profile_dir().mkdir(mode=0o755)
    os.chmod(profile_dir(), 0o775)  # noqa: S103 (the folder this test refuses)
    with pytest.raises(LaunchError, match="mode 0775"):
        profile_file(docker_default_profile())


@pytest.mark.parametrize("seccomp", ["default", "custom"])
def test_seccomp_on_a_remote_podman_is_refused(seccomp: str) -> None:
    """A Podman engine elsewhere cannot read a profile file of this host: refused."""
    builder = sr.preset("restricted", "img")
    if seccomp == "custom":
        builder = builder.seccomp({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []})
    problems = unsupported(builder.build(), _facts(local=False))
    assert [p.field for p in problems] == ["seccomp"]
    assert "the engine is Podman" in problems[0].message
    unconfined = sr.preset("restricted", "img").seccomp("unconfined").opt_in("seccomp-unconfined")
    assert unsupported(unconfined.build(), _facts(local=False)) == []


def test_podmans_kill_of_an_exited_container_reads_as_not_running() -> None:
    """Podman's 500 'can only kill running containers' is Docker's 409, and nothing else is."""
    import docker.errors
    import requests

    def refusal(status: int, message: str) -> docker.errors.APIError:
        response = requests.Response()
        response.status_code = status
        return docker.errors.APIError("kill", response=response, explanation=message)

    exited = ("can only kill running containers. 8019568cc5eb is in state exited: "
              "container state improper")  # fmt: skip
    assert is_not_running_refusal(refusal(500, exited))
    assert not is_not_running_refusal(refusal(500, "runc: kill failed"))
    assert not is_not_running_refusal(refusal(409, exited))
