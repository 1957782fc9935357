"""Shared fixtures: a Docker client, the test image, a leak check for containers and volumes.

Tests that need a real engine use the ``docker_client`` fixture (directly or through
``test_image``) and get the ``docker`` marker automatically. Without an engine they
are skipped, unless ``SECURE_RUN_REQUIRE_DOCKER=1``, which makes that a failure.
Containers a test creates must carry the label ``secure-run.test=1`` (see
``TEST_LABELS``) and be gone when the test ends; so must volumes, and every
workspace volume secure_run makes.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
import warnings
from collections.abc import Iterator
from typing import Callable, NoReturn

import docker
import docker.errors
import pytest

from secure_run import RunBuilder, RunConfig
from secure_run._engine.facts import EngineFacts, engine_facts
from secure_run._engine.labels import VOLUME_PREFIX as WORKSPACE_VOLUME_PREFIX
from secure_run._engine.userns import userns_problems
from secure_run.testing import TEST_LABELS, build_test_image

pytest_plugins = ["pytester"]

_PING_TIMEOUT = 5
_LEAK_GRACE = 3.0


def _engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock (default)"


def _no_engine(why: str) -> NoReturn:
    message = f"no Docker Engine answers at {_engine_address()}: {why}"
    if os.environ.get("SECURE_RUN_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{message} (SECURE_RUN_REQUIRE_DOCKER=1)", pytrace=False)
    pytest.skip(f"{message}; set SECURE_RUN_REQUIRE_DOCKER=1 to fail instead")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "not_on_engine(fact, reason): skip, with the reason, on an engine whose "
        "EngineFacts.<fact> is true (e.g. 'userns')",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "docker_client" in names or item.get_closest_marker("not_on_engine"):
            item.add_marker(pytest.mark.docker)


def _probe_engine() -> tuple[str | None, str]:
    """``(API version, "")`` when an engine answers a ping in time, else ``(None, why)``."""
    try:
        probe = docker.from_env(timeout=_PING_TIMEOUT)
    except docker.errors.DockerException as exc:
        return None, str(exc)
    try:
        probe.ping()
    except (docker.errors.DockerException, OSError) as exc:
        return None, str(exc)
    finally:
        probe.close()
    return probe.api.api_version, ""


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the engine the environment names (DOCKER_HOST or the default socket)."""
    with warnings.catch_warnings():
        # The SDK leaks the socket of a connection that failed; collect it here, quietly,
        # rather than have it turn into an error (filterwarnings=error) in a later test.
        warnings.simplefilter("ignore", ResourceWarning)
        version, why = _probe_engine()
        gc.collect()
    if version is None:
        _no_engine(why)

    client = docker.from_env(version=version)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def engine(docker_client: docker.DockerClient) -> EngineFacts:
    """The facts of the engine under test (userns-remap, rootless, runtimes...)."""
    return engine_facts(docker_client)


@pytest.fixture(scope="session")
def unremapped(engine: EngineFacts) -> Callable[[RunBuilder], RunBuilder]:
    """``builder -> builder``: on a userns-remap engine, the config leaves the remap
    (``.host_namespace("userns")``) where the library refuses it otherwise (privileged,
    a host PID, network or IPC namespace, a renamed device), as its fix says; elsewhere
    the builder unchanged."""

    def apply(builder: RunBuilder) -> RunBuilder:
        if engine.userns and userns_problems(builder.build()):
            return builder.host_namespace("userns").opt_in("host-namespace")
        return builder

    return apply


@pytest.fixture(scope="session")
def runtime_present(engine: EngineFacts) -> Callable[[RunConfig], None]:
    """``cfg -> None``: skip, saying why, when the config's runtime is not on the engine."""

    def check(cfg: RunConfig) -> None:
        if cfg.runtime is not None and cfg.runtime not in engine.runtimes:
            pytest.skip(
                f"the config needs the {cfg.runtime!r} runtime; the engine has "
                f"{', '.join(engine.runtimes) or 'none'} (scripts/engines.sh up gvisor)"
            )

    return check


@pytest.fixture(autouse=True)
def _not_on_engine(request: pytest.FixtureRequest) -> None:
    """Skip a test marked ``not_on_engine(fact, reason)`` where the fact holds, saying why."""
    for marker in request.node.iter_markers("not_on_engine"):
        fact, reason = marker.args
        facts: EngineFacts = request.getfixturevalue("engine")
        if getattr(facts, fact):
            pytest.skip(f"not on this engine ({fact}): {reason}")


@pytest.fixture(scope="session")
def test_image(docker_client: docker.DockerClient) -> str:
    """The tag of the busybox test image, built (without pulling) if needed."""
    return build_test_image(
        docker_client, allow_pull=os.environ.get("SECURE_RUN_ALLOW_PULL") == "1"
    )


def _test_container_ids(client: docker.DockerClient) -> set[str]:
    """The test-labelled containers, and every test-labelled or workspace volume."""
    labels: str | list[str] | bool = [f"{key}={value}" for key, value in TEST_LABELS.items()]
    filters = {"label": labels}
    # One list call; the high-level list inspects each container and races with removals.
    found = {c["Id"] for c in client.api.containers(all=True, filters=filters)}
    for volume in client.api.volumes().get("Volumes") or ():
        volume_labels = volume.get("Labels") or {}
        tagged = all(volume_labels.get(k) == v for k, v in TEST_LABELS.items())
        if tagged or volume["Name"].startswith(WORKSPACE_VOLUME_PREFIX):
            found.add(f"volume:{volume['Name']}")
    return found


def _remove(client: docker.DockerClient, leftover: str) -> None:
    with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
        if leftover.startswith("volume:"):
            client.api.remove_volume(leftover.partition(":")[2], force=True)
        else:
            client.api.remove_container(leftover, force=True, v=True)


@pytest.fixture(autouse=True)
def leftover_containers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a ``docker`` test that leaves labelled containers or volumes behind (removing them)."""
    if request.node.get_closest_marker("docker") is None:
        yield
        return
    client: docker.DockerClient = request.getfixturevalue("docker_client")
    before = _test_container_ids(client)
    yield
    left = _test_container_ids(client) - before
    # Another test session on the same engine may be mid-run with containers of its
    # own; those go away on their own, a leak does not. Give them a moment.
    deadline = time.monotonic() + _LEAK_GRACE
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left &= _test_container_ids(client)
    if not left:
        return
    containers = sorted(c for c in left if not c.startswith("volume:"))
    for leftover in [*containers, *sorted(left - set(containers))]:  # volumes last
        _remove(client, leftover)
    pytest.fail(
        f"the test left {len(left)} container(s) or volume(s) labelled "
        f"{TEST_LABELS} behind (now removed): {sorted(c[:24] for c in left)}",
        pytrace=False,
    )
