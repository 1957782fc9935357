"""Fixtures for launching configs on the real engine and reading what the container got."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any, Callable

import docker
import docker.errors
import docker.models.containers
import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts, refuse_unsupported
from secure_run._engine.podman import podman_security_opts
from secure_run._proof.probe import Probe, parse_probe, probe_command
from secure_run.testing import TEST_LABELS


class Launched:
    """A finished container's output, exit status and inspect data."""

    def __init__(self, output: str, status: int, attrs: dict[str, Any]) -> None:
        self.output = output
        self.status = status
        self.attrs = attrs


def _launch(client: docker.DockerClient, kwargs: dict[str, Any], timeout: float) -> Launched:
    """``containers.run(**kwargs)``, wait for the end, collect, and always remove."""
    container = client.containers.run(**kwargs, detach=True)
    try:
        status = container.wait(timeout=timeout)["StatusCode"]
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        return Launched(output, status, client.api.inspect_container(container.id))
    finally:
        container.remove(force=True)


@pytest.fixture
def launch(docker_client: docker.DockerClient, engine: EngineFacts) -> Callable[..., Launched]:
    """Run a built config through ``containers.run(**cfg.to_docker_kwargs())``.

    On Podman as the library would: what it refuses there is refused (the test skips
    with the refusal), and the seccomp profile goes as a file (podman#27710). Rootless
    and under gVisor, what the library refuses there is refused too.
    """

    def run(cfg: sr.RunConfig, timeout: float = 60) -> Launched:
        kwargs = cfg.to_docker_kwargs()
        if engine.rootless:  # what runc cannot start there is refused (the test skips)
            refuse_unsupported(cfg, engine)
        if engine.is_gvisor(cfg.runtime):  # what runsc drops or cannot start with, too
            refuse_unsupported(cfg, engine)
        if engine.podman:
            refuse_unsupported(cfg, engine)
            kwargs["security_opt"] = podman_security_opts(cfg)
        return _launch(docker_client, kwargs, timeout)

    return run


@pytest.fixture
def probe(launch: Callable[..., Launched]) -> Callable[[sr.RunBuilder], Probe]:
    """Run the in-container probe under a builder's config and parse what it saw."""

    def run(builder: sr.RunBuilder) -> Probe:
        cfg = builder.command(probe_command()).labels(TEST_LABELS).build()
        result = launch(cfg)
        assert result.status == 0, result.output
        return parse_probe(result.output)

    return run


@pytest.fixture
def restricted(test_image: str) -> sr.RunBuilder:
    """The restricted preset on the test image."""
    return sr.builder(test_image)


@pytest.fixture
def internal_network(docker_client: docker.DockerClient) -> Iterator[str]:
    """An internal network (no route out of the host) that is removed afterwards."""
    name = f"secure-run-test-{uuid.uuid4().hex[:8]}"
    network = docker_client.networks.create(name, internal=True, labels=TEST_LABELS)
    try:
        yield name
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
