"""The library on a ``userns-remap`` engine (``scripts/engines.sh up userns``).

On any other engine these tests skip, saying so. Every container carries
``TEST_LABELS`` and is removed; the engine's map is ``0 100000 65536`` (dockremap's
first subordinate range), read here from the kernel, never assumed.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.types
import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts
from secure_run._errors import UnsupportedFeature
from secure_run._proof.verify import verify
from secure_run.testing import TEST_LABELS

SLEEP = ["sleep", "60"]


@pytest.fixture(autouse=True)
def _remapping(engine: EngineFacts) -> None:
    if not engine.userns:
        pytest.skip("needs a userns-remap engine (scripts/engines.sh up userns)")


@contextlib.contextmanager
def running(client: docker.DockerClient, kwargs: dict[str, Any]) -> Iterator[Any]:
    """``containers.run(**kwargs, detach=True)`` through raw docker-py, always removed."""
    container = client.containers.run(**kwargs, detach=True)
    try:
        yield container
    finally:
        container.remove(force=True, v=True)


def _containers(client: docker.DockerClient) -> set[str]:
    return {c["Id"] for c in client.api.containers(all=True)}


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.privileged().opt_in("privileged"),
        lambda b: b.host_namespace("pid").opt_in("host-namespace"),
        lambda b: b.network("host").opt_in("host-namespace"),
        lambda b: b.host_namespace("ipc").opt_in("host-namespace"),
        lambda b: b.device("/dev/null", "/dev/hostnull", "r").opt_in("devices"),
    ],
    ids=["privileged", "pid", "network", "ipc", "renamed-device"],
)
def test_what_needs_the_host_user_namespace_is_refused_before_create(
    test_image: str, docker_client: docker.DockerClient, change: Any
) -> None:
    """Each is refused with UnsupportedFeature naming userns-remap and the fix; nothing made."""
    cfg = change(sr.builder(test_image)).command(SLEEP).labels(TEST_LABELS).build()
    before = _containers(docker_client)
    with pytest.raises(UnsupportedFeature) as caught:
        sr.launch(cfg, client=docker_client)
    (problem,) = caught.value.problems
    assert "userns-remap" in problem.message
    assert ".host_namespace('userns')" in problem.fix
    assert _containers(docker_client) == before


def test_leaving_the_remap_as_the_fix_says_launches_and_verifies(
    test_image: str, docker_client: docker.DockerClient
) -> None:
    """A host PID namespace with .host_namespace('userns') runs unmapped and verifies."""
    cfg = (
        sr.builder(test_image)
        .host_namespace("pid", "userns")
        .opt_in("host-namespace")
        .command(SLEEP)
        .labels(TEST_LABELS)
        .build()
    )
    with sr.launch(cfg, client=docker_client) as box:
        uid_map = box.exec(["cat", "/proc/self/uid_map"]).stdout.split()
        report = box.report
    assert report is not None
    assert report.ok, report
    assert uid_map == [b"0", b"0", b"4294967295"]


@pytest.mark.parametrize("name", sorted(sr.presets()))
def test_each_preset_launches_and_verifies_under_the_remap(
    name: str, test_image: str, docker_client: docker.DockerClient, engine: EngineFacts
) -> None:
    """launch() verifies cleanly (record and kernel); ids are mapped, 65534 is 165534 outside."""
    cfg = sr.preset(name, test_image).command(SLEEP).labels(TEST_LABELS).build()
    if cfg.runtime is not None and cfg.runtime not in engine.runtimes:
        pytest.skip(f"preset {name!r} needs the {cfg.runtime} runtime, not on this engine")
    with sr.launch(cfg, client=docker_client) as box:
        report = box.report
        inside = box.exec(["cat", "/proc/self/uid_map"]).stdout.split()
        pid = docker_client.api.inspect_container(box.id)["State"]["Pid"]
        host_uid = Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0]
    assert report is not None
    assert report.ok, report
    kernel = {c.property: c for c in report.checks if c.source != "inspect"}
    assert kernel["Uid"].actual.split()[0] == str(cfg.user.uid if cfg.user else 0)
    base = int(inside[1])
    assert (inside[0], inside[2], base) == (b"0", b"65536", engine.host_ids(0, 0)[0])
    assert int(host_uid) == base + (cfg.user.uid if cfg.user else 0)


def test_verify_catches_a_container_weakened_behind_the_librarys_back(
    test_image: str, docker_client: docker.DockerClient
) -> None:
    """Same kwargs without cap_drop, through raw docker-py: verify() fails the capability sets."""
    cfg = sr.builder(test_image).command(SLEEP).labels(TEST_LABELS).build()
    kwargs = cfg.to_docker_kwargs()
    kwargs.pop("cap_drop")
    with running(docker_client, kwargs) as container:
        report = verify(container.id, cfg, client=docker_client, strict=False, kernel="host")
    failed = {c.property for c in report.failures}
    assert {"HostConfig.CapDrop", "CapBnd"} <= failed, report


def test_verify_catches_a_workspace_owned_by_an_unmapped_host_user(
    test_image: str, docker_client: docker.DockerClient
) -> None:
    """A tmpfs volume given the container's uid as a host uid has no owner inside: it fails."""
    cfg = (
        sr.preset("sandbox", test_image)
        .workspace("/workspace", "16m")
        .workdir("/")
        .command(SLEEP)
        .labels(TEST_LABELS)
        .build()
    )
    assert cfg.user is not None
    volume = f"sr-test-unmapped-{uuid.uuid4().hex[:8]}"
    opts = f"size=16m,mode=0700,uid={cfg.user.uid},gid={cfg.user.gid}"  # host ids: wrong
    docker_client.api.create_volume(
        volume,
        driver="local",
        driver_opts={"type": "tmpfs", "device": "tmpfs", "o": opts},
        labels=TEST_LABELS,
    )
    kwargs = cfg.to_docker_kwargs()
    kwargs["tmpfs"] = {k: v for k, v in kwargs["tmpfs"].items() if k != "/workspace"}
    kwargs["mounts"] = [docker.types.Mount("/workspace", volume, type="volume", no_copy=True)]
    try:
        with running(docker_client, kwargs) as container:
            report = verify(container.id, cfg, client=docker_client, strict=False, kernel="host")
    finally:
        docker_client.api.remove_volume(volume, force=True)
    mount = next(c for c in report.checks if c.property == "mount /workspace")
    assert not mount.ok, mount
    assert f"uid=unmapped({cfg.user.uid})" in mount.actual
