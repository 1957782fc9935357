"""The presets and verify() on Podman's Docker-compatible API (scripts/engines/podman.sh).

Skipped unless the engine the environment names is Podman.
"""

from __future__ import annotations

import docker
import pytest

import secure_run as sr
from secure_run._engine.facts import engine_facts
from secure_run._engine.podman import PODMAN_OWN_SECCOMP
from secure_run._export.docker import sdk_kwargs
from secure_run.testing import TEST_LABELS

pytestmark = pytest.mark.docker

#: What verify() reads from the kernel for a hardened preset: each a setting Podman's
#: Docker API could drop without a word, proven from the container's own state.
KERNEL_PROOFS = (
    "NoNewPrivs",
    "Seccomp",
    "CapBnd",
    "CapEff",
    "rlimit nofile",
    "rlimit core",
    "cgroup memory.limit_in_bytes",
    "cgroup memory.soft_limit_in_bytes",
    "cgroup pids.max",
)


@pytest.fixture
def podman(docker_client: docker.DockerClient) -> docker.DockerClient:
    """The client, if its engine is Podman."""
    if not engine_facts(docker_client).podman:
        pytest.skip("the engine is not Podman (scripts/engines.sh up podman)")
    return docker_client


def _config(name: str, image: str) -> sr.RunConfig:
    return sr.preset(name, image).labels(TEST_LABELS).command(["sleep", "60"]).build()


@pytest.mark.parametrize("name", ["restricted", "sandbox"])
def test_a_hardened_preset_verifies_cleanly_on_podman(
    podman: docker.DockerClient, test_image: str, name: str
) -> None:
    """sr.launch of the preset verifies on Podman, its kernel state read from the container."""
    with sr.launch(_config(name, test_image), client=podman) as box:
        report = sr.verify(box)
    assert report.ok, report
    proven = {check.property for check in report.checks}
    missing = [p for p in KERNEL_PROOFS if not any(q.startswith(p) for q in proven)]
    assert missing == [], sorted(proven)


@pytest.mark.parametrize(
    ("name", "field"), [("service", "cap_add"), ("baseline", "cap_add"), ("gvisor", "runtime")]
)
def test_a_preset_podman_would_change_is_refused_before_create(
    podman: docker.DockerClient, test_image: str, name: str, field: str
) -> None:
    """The preset is refused with UnsupportedFeature naming Podman and the setting."""
    before = len(podman.api.containers(all=True))
    with pytest.raises(sr.UnsupportedFeature) as caught:
        sr.launch(_config(name, test_image), client=podman)
    problems = [p for p in caught.value.problems if p.field == field]
    assert problems, caught.value
    assert "Podman" in problems[0].message
    assert len(podman.api.containers(all=True)) == before


def test_verify_catches_a_weaker_limit_set_behind_the_librarys_back(
    podman: docker.DockerClient, test_image: str
) -> None:
    """A container made through raw docker-py with looser memory and pids fails verify()."""
    cfg = _config("restricted", test_image)
    kwargs = sdk_kwargs(cfg)
    memory = 2 * (cfg.memory or 0)
    kwargs.update(mem_limit=memory, memswap_limit=memory, pids_limit=4 * (cfg.pids_limit or 0))
    container = podman.containers.create(**kwargs)
    try:
        container.start()
        report = sr.verify(container, cfg, client=podman, strict=False)
    finally:
        container.remove(force=True)
    failed = {check.property for check in report.checks if not check.ok}
    assert {"HostConfig.Memory", "HostConfig.PidsLimit"} <= failed, failed
    assert {"cgroup memory.limit_in_bytes", "cgroup pids.max"} <= failed, failed


def test_verify_catches_a_dropped_nofile_limit(
    podman: docker.DockerClient, test_image: str
) -> None:
    """A container made without the config's ulimits fails verify() on the kernel's rlimits."""
    cfg = _config("sandbox", test_image)
    kwargs = sdk_kwargs(cfg)
    del kwargs["ulimits"]
    container = podman.containers.create(**kwargs)
    try:
        container.start()
        report = sr.verify(container, cfg, client=podman, strict=False)
    finally:
        container.remove(force=True)
    failed = {check.property for check in report.checks if not check.ok}
    assert "rlimit nofile" in failed, failed


@pytest.mark.parametrize("name", ["restricted", "sandbox"])
def test_the_default_seccomp_profile_is_dockers_on_podman(
    podman: docker.DockerClient, test_image: str, name: str
) -> None:
    """seccomp('default') gets Docker's profile as a file: unshare -U fails EPERM, as on Docker.

    (Podman's own default profile lets a process without capabilities do it.)
    """
    cfg = sr.preset(name, test_image).labels(TEST_LABELS).command(["unshare", "-U", "true"])
    result = sr.run(cfg.build(), client=podman)
    assert result.exit_code != 0
    assert b"Operation not permitted" in result.stderr, result.stderr


def test_verify_catches_podmans_own_seccomp_default(
    podman: docker.DockerClient, test_image: str
) -> None:
    """A container made through raw docker-py gets Podman's weaker default: verify() fails it."""
    cfg = _config("restricted", test_image)
    container = podman.containers.create(**sdk_kwargs(cfg))
    try:
        container.start()
        report = sr.verify(container, cfg, client=podman, strict=False)
    finally:
        container.remove(force=True)
    failed = {check.property: check.actual for check in report.checks if not check.ok}
    assert failed == {"HostConfig.SecurityOpt seccomp": PODMAN_OWN_SECCOMP}, failed


def test_a_custom_seccomp_profile_applies_on_podman(
    podman: docker.DockerClient, test_image: str
) -> None:
    """A custom profile goes as a file: the syscall it denies fails, and verify() passes."""
    deny = {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [deny]}
    builder = sr.preset("restricted", test_image).labels(TEST_LABELS).seccomp(profile)
    with sr.launch(builder.command(["sleep", "60"]).build(), client=podman) as box:
        report = sr.verify(box)
        denied = box.exec(["mkdir", "/tmp/denied"])
        allowed = box.exec(["touch", "/tmp/allowed"])
    assert report.ok, report
    assert b"Operation not permitted" in denied.stderr, denied
    assert allowed.exit_code == 0, allowed


def test_audit_is_refused_on_podman(podman: docker.DockerClient, test_image: str) -> None:
    """audit() of a Podman container is refused, naming Podman, instead of misjudging it."""
    box = sr.launch(_config("restricted", test_image), client=podman)
    with box, pytest.raises(sr.UnsupportedFeature) as caught:
        sr.audit(box)
    assert [p.field for p in caught.value.problems] == ["audit"]
    assert "Podman" in caught.value.problems[0].message
