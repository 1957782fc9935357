"""``to_cli()`` gives the same container as ``to_docker_kwargs()``: compared by inspect."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Callable

import docker
import pytest

import secure_run as sr
from secure_run.testing import TEST_LABELS

# Config fields (outside HostConfig) that both paths must set the same way.
CONFIG_FIELDS = ("User", "Env", "Labels", "Cmd", "WorkingDir", "Healthcheck", "Image")


def _normal(value: Any) -> Any:
    """The SDK sends null where the CLI sends an empty list or map: the same to the engine."""
    return None if value in ([], {}, "") else value


def _create_both(client: docker.DockerClient, cfg: sr.RunConfig) -> tuple[dict, dict]:
    sdk = client.containers.create(**cfg.to_docker_kwargs())
    cli_id = None
    try:
        argv = cfg.to_cli()
        assert argv[:2] == ["docker", "run"]
        argv[1] = "create"  # the same flags; not started
        env = {**os.environ, **cfg.environment}  # the CLI reads env values by name
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
        cli_id = done.stdout.strip()
        return client.api.inspect_container(sdk.id), client.api.inspect_container(cli_id)
    finally:
        sdk.remove(force=True)
        if cli_id:
            client.api.remove_container(cli_id, force=True)


def _differences(sdk: dict, cli: dict) -> dict[str, tuple[Any, Any]]:
    diffs = {}
    for key in sorted(set(sdk["HostConfig"]) | set(cli["HostConfig"])):
        a, b = _normal(sdk["HostConfig"].get(key)), _normal(cli["HostConfig"].get(key))
        if a != b:
            diffs[f"HostConfig.{key}"] = (a, b)
    for key in CONFIG_FIELDS:
        a, b = _normal(sdk["Config"].get(key)), _normal(cli["Config"].get(key))
        if key == "Env":
            a, b = sorted(a or []), sorted(b or [])
        if a != b:
            diffs[f"Config.{key}"] = (a, b)
    return diffs


@pytest.mark.parametrize("preset", sorted(sr.presets()))
def test_every_preset_gives_the_same_container(
    preset: str,
    test_image: str,
    docker_client: docker.DockerClient,
    internal_network: str,
    runtime_present: Callable[[sr.RunConfig], None],
) -> None:
    """For each preset, the CLI argv and the SDK kwargs give identical HostConfigs."""
    builder = sr.preset(preset, test_image).labels(TEST_LABELS).command(["true"])
    runtime_present(builder.build())
    if builder.build().network != "none":
        builder = builder.network(internal_network)
    sdk, cli = _create_both(docker_client, builder.build())
    assert _differences(sdk, cli) == {}


def test_many_settings_give_the_same_container(
    test_image: str, docker_client: docker.DockerClient, internal_network: str, tmp_path: Path
) -> None:
    """A config touching most settings gives identical HostConfigs and Config fields."""
    profile = tmp_path / "profile.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": '
                       '[{"names": ["uname"], "action": "SCMP_ACT_ERRNO"}]}')  # fmt: skip
    (tmp_path / "data").mkdir()
    cfg = (
        sr.builder(test_image)
        .labels(TEST_LABELS, team="blue")
        .command(["sh", "-c", "echo $GREETING"])
        .env(GREETING="hello world", MODE="test")
        .workdir("/tmp")
        .hostname("box")
        .user(1000, 1000)
        .group_add(2000)
        .cap_add("NET_BIND_SERVICE", "CHOWN")
        .memory("96m", reservation="48m", swap="128m")
        .cpu_quota(30000, 60000)
        .cpu_shares(512)
        .cpuset("0")
        .pids_limit(33)
        .ulimit("nofile", 256, 512)
        .tmpfs("/scratch", size="8m", mode=0o1770)
        .mount(str(tmp_path / "data"), "/data")
        .network(internal_network)
        .publish(8080, 18081)
        .seccomp(profile)
        .sysctl("net.ipv4.ip_unprivileged_port_start", 80)
        .restart("on-failure", 3)
        .healthcheck("true", interval="2s", timeout="1s", retries=2)
        .log_limits("2m", 2)
        .device("/dev/null", "/dev/hostnull", "r")
        .opt_in("devices", "extra-capability")
        .build()
    )
    sdk, cli = _create_both(docker_client, cfg)
    assert _differences(sdk, cli) == {}


def test_stop_timeout_through_the_cli(test_image: str, docker_client: docker.DockerClient) -> None:
    """stop_timeout, which docker-py's run/create cannot carry, reaches the engine via to_cli."""
    cfg = sr.builder(test_image).labels(TEST_LABELS).stop_timeout(7).command(["true"]).build()
    argv = cfg.to_cli()
    argv[1] = "create"
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    container_id = done.stdout.strip()
    try:
        stop_timeout = docker_client.api.inspect_container(container_id)["Config"]["StopTimeout"]
    finally:
        docker_client.api.remove_container(container_id, force=True)
    assert stop_timeout == 7
