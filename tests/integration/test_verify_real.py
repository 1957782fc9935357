"""verify() on the real engine: faithful containers pass, weaker ones fail precisely.

Containers here are made by hand from ``cfg.to_docker_kwargs()`` (sometimes changed
on purpose), run ``sleep 30`` detached, carry ``TEST_LABELS`` and are always removed.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest
from docker.models.containers import Container

import secure_run as sr
from secure_run._engine.facts import engine_facts
from secure_run._engine.seccomp_files import docker_default_profile, profile_file
from secure_run._errors import HardeningNotApplied, LaunchError
from secure_run._proof.verify import VerifyReport, verify
from secure_run.testing import TEST_LABELS

MiB = 1 << 20


@pytest.fixture
def cfg(test_image: str) -> sr.RunConfig:
    """The restricted preset on the test image, sleeping long enough to be inspected."""
    return sr.builder(test_image).command(["sleep", "30"]).labels(TEST_LABELS).build()


def _as_sent(client: docker.DockerClient, kwargs: dict[str, Any]) -> dict[str, Any]:
    """On Podman, the default seccomp profile as the library sends it there: Docker's, as a
    file (Podman's own default is weaker, and verify() fails it)."""
    options = list(kwargs.get("security_opt") or ())
    if engine_facts(client).podman and not any(o.startswith("seccomp=") for o in options):
        options.append(f"seccomp={profile_file(docker_default_profile())}")
        return {**kwargs, "security_opt": options}
    return kwargs


@contextlib.contextmanager
def running(client: docker.DockerClient, kwargs: dict[str, Any]) -> Iterator[Container]:
    """``containers.run(**kwargs, detach=True)``, always removed afterwards."""
    container = client.containers.run(**_as_sent(client, kwargs), detach=True)
    try:
        yield container
    finally:
        container.remove(force=True)


def failed(report: VerifyReport) -> dict[str, tuple[str, str, str]]:
    return {c.property: (c.expected, c.actual, c.source) for c in report.failures}


def test_faithful_container_passes_on_both_sources(docker_client, cfg):
    """A container made from cfg.to_docker_kwargs() passes, the kernel read from host /proc."""
    with running(docker_client, cfg.to_docker_kwargs()) as container:
        pid = docker_client.api.inspect_container(container.id)["State"]["Pid"]
        report = verify(container, cfg, client=docker_client)
    assert report.ok, str(report)
    assert report.sources() == {"inspect", f"host /proc/{pid}"}
    assert report.notes == ()
    kernel = {c.property for c in report.checks if c.source != "inspect"}
    assert {"CapBnd", "NoNewPrivs", "Seccomp", "cgroup memory.limit_in_bytes"} <= kernel


def test_weaker_host_config_fails_with_a_precise_report(docker_client, cfg, gvisor_default):
    """Memory and pids doubled, a writable root and SYS_ADMIN: each named, by both sources.

    Under gVisor the workload's state is read inside (the exec probe) and the limits on
    the sandbox's host cgroup."""
    assert cfg.memory is not None
    assert cfg.pids_limit is not None
    kwargs = cfg.to_docker_kwargs()
    kwargs.update(
        mem_limit=2 * cfg.memory,
        memswap_limit=2 * cfg.memory,
        pids_limit=2 * cfg.pids_limit,
        read_only=False,
        cap_add=["CAP_SYS_ADMIN"],
    )
    with running(docker_client, kwargs) as container:
        pid = docker_client.api.inspect_container(container.id)["State"]["Pid"]
        with pytest.raises(HardeningNotApplied) as caught:
            verify(container.id, cfg, client=docker_client)
    host = "exec probe" if gvisor_default else f"host /proc/{pid}"
    cgroup = f"host cgroup of the sandbox (pid {pid})" if gvisor_default else host
    memory, doubled = str(cfg.memory), str(2 * cfg.memory)
    assert failed(caught.value.report) == {
        "HostConfig.Memory": (memory, doubled, "inspect"),
        "HostConfig.MemorySwap": (memory, doubled, "inspect"),
        "HostConfig.PidsLimit": (str(cfg.pids_limit), str(2 * cfg.pids_limit), "inspect"),
        "HostConfig.ReadonlyRootfs": ("true", "false", "inspect"),
        "HostConfig.CapAdd": ("none", "CAP_SYS_ADMIN", "inspect"),
        "CapBnd": ("none (0000000000000000)", "SYS_ADMIN (0000000000200000)", host),
        "mount /": ("read-only", "read-write", host),
        "cgroup memory.limit_in_bytes": (memory, doubled, cgroup),
        "cgroup memory.memsw.limit_in_bytes": (memory, doubled, cgroup),
        "cgroup pids.max": (str(cfg.pids_limit), str(2 * cfg.pids_limit), cgroup),
    }
    message = str(caught.value)
    assert f"HostConfig.Memory: expected {memory}, actual {doubled} (from inspect)" in message
    assert f"cgroup pids.max: expected {cfg.pids_limit}, actual {2 * cfg.pids_limit}" in message


def test_init_process_without_no_new_privileges_fails_both_ways(docker_client, cfg, gvisor_default):
    """Made without no-new-privileges: the daemon's SecurityOpt and the kernel's bit both fail.

    Under gVisor the sentry shows no NoNewPrivs line: the record fails, the bit is a note."""
    kwargs = cfg.to_docker_kwargs()
    kwargs["security_opt"] = [o for o in kwargs["security_opt"] if "no-new-privileges" not in o]
    with running(docker_client, kwargs) as container:
        pid = docker_client.api.inspect_container(container.id)["State"]["Pid"]
        report = verify(container, cfg, client=docker_client, strict=False)
    record = {"HostConfig.SecurityOpt no-new-privileges": ("true", "false", "inspect")}
    if gvisor_default:
        assert failed(report) == record
        assert any(n.startswith("NoNewPrivs not visible under gVisor") for n in report.notes)
        return
    assert failed(report) == {**record, "NoNewPrivs": ("1", "0", f"host /proc/{pid}")}


def test_forced_exec_probe_passes_on_a_faithful_container(docker_client, cfg, gvisor_default):
    """kernel='exec' reads the same properties from inside, and they all pass.

    Under gVisor the sentry shows no NoNewPrivs line and no cgroup files (notes), and
    the workload's Seccomp is read from pid 1 (an exec into runsc has no filter)."""
    with running(docker_client, cfg.to_docker_kwargs()) as container:
        report = verify(container, cfg, client=docker_client, kernel="exec")
    assert report.ok, str(report)
    if gvisor_default:
        assert report.sources() == {"inspect", "exec probe", "exec probe, pid 1"}
        inside = {c.property for c in report.checks if c.source.startswith("exec probe")}
        assert {"Uid", "CapBnd", "CapEff", "Seccomp"} <= inside
        hidden = " ".join(report.notes)
        assert "NoNewPrivs not visible" in hidden
        assert "cgroup limits not visible" in hidden
        return
    assert report.sources() == {"inspect", "exec probe"}
    host_report_props = {"Uid", "CapBnd", "CapEff", "NoNewPrivs", "Seccomp", "cgroup pids.max"}
    assert host_report_props <= {c.property for c in report.checks if c.source == "exec probe"}


def test_exec_probe_sees_a_weaker_container_too(docker_client, cfg):
    """Through the exec probe, a container without no-new-privileges fails NoNewPrivs."""
    kwargs = cfg.to_docker_kwargs()
    kwargs["security_opt"] = []
    with running(docker_client, kwargs) as container:
        report = verify(container, cfg, client=docker_client, kernel="exec", strict=False)
    assert failed(report)["NoNewPrivs"] == ("1", "0", "exec probe")


@pytest.fixture(scope="module")
def shell_less_image(docker_client: docker.DockerClient, test_image: str) -> Iterator[str]:
    """An image holding only busybox at /busybox: no /bin/sh. Removed after the module."""
    dockerfile = f"FROM scratch\nCOPY --from={test_image} /bin/busybox /busybox\n".encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    tag = f"secure-run-test/no-shell:{uuid.uuid4().hex[:8]}"
    docker_client.images.build(
        fileobj=context, custom_context=True, tag=tag, labels=TEST_LABELS, pull=False, rm=True
    )
    try:
        yield tag
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.images.remove(tag, force=True)


def test_image_without_shell_gets_a_note_not_a_failure(docker_client, shell_less_image):
    """With no /bin/sh the exec probe cannot run: strict verify passes and says so."""
    cfg = (
        sr.builder(shell_less_image)
        .entrypoint(["/busybox", "sleep", "30"])
        .labels(TEST_LABELS)
        .build()
    )
    with running(docker_client, cfg.to_docker_kwargs()) as container:
        report = verify(container, cfg, client=docker_client, kernel="exec")
    assert report.ok
    assert report.sources() == {"inspect"}
    assert report.notes == (
        "kernel state not verified: the image has no /bin/sh for the exec probe (kernel='exec')",
    )


def test_id_without_config_is_a_config_error(docker_client, cfg):
    """verify(container_id) alone is refused: the RunConfig to check against is needed."""
    with running(docker_client, cfg.to_docker_kwargs()) as container:
        container_id = container.id
        with pytest.raises(sr.ConfigError, match="pass the RunConfig"):
            verify(container_id, client=docker_client)


def test_created_but_not_started_container(docker_client, cfg):
    """Not running: the daemon's record checks pass, the kernel check fails as State.Running."""
    container = docker_client.containers.create(**_as_sent(docker_client, cfg.to_docker_kwargs()))
    try:
        assert verify(container, cfg, client=docker_client, kernel=False).ok
        with pytest.raises(HardeningNotApplied) as caught:
            verify(container, cfg, client=docker_client)
    finally:
        container.remove(force=True)
    assert failed(caught.value.report) == {"State.Running": ("true", "false (created)", "inspect")}


def test_missing_container_is_a_secure_run_error(docker_client, cfg):
    """A container that does not exist raises LaunchError from docker's NotFound."""
    with pytest.raises(LaunchError) as caught:
        verify(f"secure-run-test-missing-{uuid.uuid4().hex}", cfg, client=docker_client)
    assert isinstance(caught.value.__cause__, docker.errors.NotFound)
    assert not isinstance(caught.value, docker.errors.DockerException)


def test_restart_policy_changed_behind_the_librarys_back_fails(docker_client, test_image):
    """Launched with on-failure:3 and log limits, then updated to 'always': verify names it."""
    builder = sr.builder(test_image).command(["sleep", "30"]).labels(TEST_LABELS)
    cfg = builder.restart("on-failure", 3).log_limits("1m", 2).build()
    with sr.launch(cfg, client=docker_client) as container:  # launch verifies: all passed
        docker_client.containers.get(container.id).update(restart_policy={"Name": "always"})
        with pytest.raises(HardeningNotApplied) as caught:
            sr.verify(container)
    report = caught.value.report
    assert failed(report) == {"HostConfig.RestartPolicy": ("on-failure:3", "always", "inspect")}
    logs = [(c.actual, c.ok) for c in report.checks if c.property == "HostConfig.LogConfig"]
    assert logs == [(f"json-file max-size={MiB} max-file=2", True)]
