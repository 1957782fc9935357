"""secure_run._engine.facts and _docker_errors against the real engine, and against none at all."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

import secure_run as sr
from secure_run._engine.client import connect
from secure_run._engine.facts import EngineFacts, create_warnings, engine_facts, refuse_unsupported
from secure_run._errors import DaemonUnavailable, UnsupportedFeature
from secure_run.testing import TEST_LABELS

MISSING_SOCKET = "unix:///tmp/does-not-exist.sock"
FAST = 5.0  # seconds: what "fails fast" means for an unreachable engine


@pytest.fixture
def facts(docker_client: docker.DockerClient) -> EngineFacts:
    """The facts of the engine under test."""
    return engine_facts(docker_client)


def test_facts_describe_this_engine(docker_client: docker.DockerClient, facts: EngineFacts) -> None:
    """The facts agree with the client, the host's cgroup mount and a hardened Linux engine."""
    assert facts.api_version == docker_client.api.api_version
    assert facts.os_type == "linux"
    assert facts.seccomp
    assert "runc" in facts.runtimes
    assert facts.ncpu >= 1
    assert facts.mem_total > 0
    assert facts.server_version
    if facts.local:
        unified = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        assert facts.cgroup_version == (2 if unified else 1)


def test_facts_are_read_once_per_client(docker_client: docker.DockerClient) -> None:
    """Asking twice gives the very same object."""
    assert engine_facts(docker_client) is engine_facts(docker_client)


def test_a_runtime_the_engine_lacks_is_refused(facts: EngineFacts, test_image: str) -> None:
    """runtime("runsc") on an engine without gVisor is UnsupportedFeature before create."""
    if "runsc" in facts.runtimes:
        pytest.skip("this engine has runsc installed")
    cfg = sr.builder(test_image).runtime("runsc").build()
    with pytest.raises(UnsupportedFeature) as excinfo:
        refuse_unsupported(cfg, facts)
    assert [p.field for p in excinfo.value.problems] == ["runtime"]
    assert "runc" in excinfo.value.problems[0].message  # what the engine does have


def test_an_apparmor_profile_without_apparmor_is_refused(
    docker_client: docker.DockerClient, facts: EngineFacts, test_image: str
) -> None:
    """apparmor("docker-default") is refused where the engine would silently drop it."""
    if facts.apparmor:
        pytest.skip("this engine has AppArmor")
    cfg = sr.builder(test_image).apparmor("docker-default").build()
    with pytest.raises(UnsupportedFeature) as excinfo:
        refuse_unsupported(cfg, facts)
    assert [p.field for p in excinfo.value.problems] == ["apparmor"]

    # Why: the engine accepts the profile and runs the container without it.
    api = docker_client.api
    created = api.create_container(
        test_image,
        ["true"],
        labels=TEST_LABELS,
        host_config=api.create_host_config(
            network_mode="none", security_opt=["apparmor=docker-default"]
        ),
    )
    try:
        api.start(created["Id"])
        api.wait(created["Id"], timeout=30)
        assert api.inspect_container(created["Id"])["AppArmorProfile"] == ""
    finally:
        api.remove_container(created["Id"], force=True)


def test_more_cpus_than_the_host_has_are_refused(facts: EngineFacts, test_image: str) -> None:
    """cpus above the engine host's CPU count is refused before the engine says so."""
    cfg = sr.builder(test_image).cpus(facts.ncpu + 1).build()
    with pytest.raises(UnsupportedFeature) as excinfo:
        refuse_unsupported(cfg, facts)
    assert [p.field for p in excinfo.value.problems] == ["cpus"]


def test_the_restricted_preset_suits_this_engine(facts: EngineFacts, test_image: str) -> None:
    """The default hardened config needs nothing this engine lacks."""
    refuse_unsupported(sr.builder(test_image).build(), facts)  # does not raise


def test_strict_mode_raises_the_warnings_the_engine_returns_from_create(
    docker_client: docker.DockerClient, test_image: str
) -> None:
    """A real create warning (OOM killer off without a memory limit) is raised in strict mode."""
    api = docker_client.api
    created = api.create_container(
        test_image,
        ["true"],
        labels=TEST_LABELS,
        host_config=api.create_host_config(network_mode="none", oom_kill_disable=True),
    )
    try:
        assert created["Warnings"], "this engine returned no warning to test with"
        with pytest.raises(UnsupportedFeature) as excinfo:
            create_warnings(created["Warnings"], strict=True, logger=logging.getLogger("t"))
    finally:
        api.remove_container(created["Id"], force=True)
    (problem,) = excinfo.value.problems
    assert "OOM killer is disabled" in problem.value


def test_connect_negotiates_with_the_engine_the_environment_names(
    docker_client: docker.DockerClient,
) -> None:
    """connect(None) returns a working client that speaks the engine's API version."""
    client = connect(None, api_timeout=30)
    try:
        assert client.ping()
        assert client.api.api_version == docker_client.api.api_version
        assert client.api.timeout == 30
    finally:
        client.close()


def test_engine_facts_fail_fast_when_no_engine_answers() -> None:
    """A client of a socket that does not exist gets DaemonUnavailable in well under 5 s."""
    client = docker.DockerClient(base_url=MISSING_SOCKET, version="1.41")
    started = time.monotonic()
    try:
        with pytest.raises(DaemonUnavailable) as excinfo:
            engine_facts(client)
    finally:
        client.close()
    assert time.monotonic() - started < FAST
    assert MISSING_SOCKET in str(excinfo.value)


_CHILD = """
import time
from secure_run._engine.client import connect
started = time.monotonic()
try:
    connect(None)
except Exception as exc:
    print(type(exc).__name__, time.monotonic() - started)
    print(exc)
else:
    print("connected")
"""


def test_connect_fails_fast_for_an_unreachable_docker_host() -> None:
    """connect(None) in a process whose DOCKER_HOST names no engine: DaemonUnavailable, fast."""
    env = {**os.environ, "DOCKER_HOST": MISSING_SOCKET}  # the child's environment only
    env.pop("DOCKER_TLS_VERIFY", None)
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", _CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    whole = time.monotonic() - started
    assert child.returncode == 0, child.stderr
    first, message = child.stdout.splitlines()[:2]
    kind, elapsed = first.split()
    assert kind == "DaemonUnavailable"
    assert float(elapsed) < FAST
    assert MISSING_SOCKET in message
    assert "ResourceWarning" not in child.stderr  # the SDK's socket was closed
    assert whole < 30  # the child's imports included
