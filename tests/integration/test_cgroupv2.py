"""Limits on a pure cgroup v2 engine (scripts/engines/cgroupv2.sh): landed, enforced, verified.

Every cgroup v2 file the probe and verify() read (``memory.max``, ``memory.low``,
``memory.swap.max``, ``cpu.max``, ``cpu.weight``, ``pids.max``, ``cpuset.cpus``) is
checked from inside a container, the memory and pids limits are shown enforced, every
preset launches and verifies cleanly, and a limit weakened behind the library's back
(through the engine, or in the kernel alone) is caught. Skipped on a cgroup v1 engine.
"""

from __future__ import annotations

import docker
import pytest

import secure_run as sr
from secure_run._engine.facts import EngineFacts
from secure_run._proof.expected import cpu_weights
from secure_run._proof.probe import parse_probe, probe_command
from secure_run.testing import TEST_LABELS

pytestmark = pytest.mark.docker

MIB = 1 << 20

#: Every cgroup v2 file the probe and verify() read, with the value the config of
#: ``_limited`` must leave in it (cpu.weight: see ``test_every_v2_limit_file_...``).
V2_FILES = {
    "memory.max": str(96 * MIB),
    "memory.low": str(48 * MIB),
    "memory.swap.max": str(32 * MIB),  # swap alone on v2: memory_swap less memory
    "cpu.max": "50000 100000",
    "pids.max": "40",
    "cpuset.cpus": "0",
}


@pytest.fixture(scope="module")
def v2(engine: EngineFacts) -> EngineFacts:
    """The engine's facts, if it runs on cgroup v2."""
    if engine.cgroup_version != 2:
        pytest.skip(
            f"the engine runs cgroup v{engine.cgroup_version}; these tests need a cgroup v2 "
            "engine (scripts/engines.sh up cgroupv2)"
        )
    return engine


def _limited(image: str) -> sr.RunBuilder:
    """The restricted preset with every v2 limit file set to a distinct value."""
    return (
        sr.builder(image)
        .memory("96m", reservation="48m", swap="128m")
        .cpus(0.5)
        .cpu_shares(512)
        .pids_limit(40)
        .cpuset("0")
        .labels(TEST_LABELS)
    )


def test_engine_is_pure_cgroup_v2_with_swap_limits(v2: EngineFacts) -> None:
    """docker info reports cgroup v2 and swap limit support (dockerd not in the root cgroup)."""
    assert (v2.cgroup_version, v2.swap_limit) == (2, True)


def test_every_v2_limit_file_holds_the_config(
    v2: EngineFacts, docker_client: docker.DockerClient, test_image: str
) -> None:
    """Inside, each v2 limit file holds the configured value; cpu.weight is the shares' weight."""
    cfg = _limited(test_image).command(probe_command()).build()
    result = sr.run(cfg, client=docker_client, timeout=300)
    assert result.exit_code == 0, result.stderr
    got = parse_probe(result.stdout)
    assert got.cgroup_version == 2
    files = {name: got.cgroup_files.get(f"/sys/fs/cgroup/{name}") for name in V2_FILES}
    assert files == V2_FILES
    assert got.cpu_weight in cpu_weights(512)
    assert got.memory_swap_limit == 128 * MIB


def test_verify_checks_every_v2_limit_file_through_the_exec_probe(
    v2: EngineFacts, docker_client: docker.DockerClient, test_image: str
) -> None:
    """verify() of the limited config passes a check of each v2 file, read by the exec probe."""
    cfg = _limited(test_image).command(["sleep", "600"]).build()
    with sr.launch(cfg, client=docker_client) as box:
        report = sr.verify(box)
    assert report.ok, str(report)
    cgroup_checks = {c.property: c for c in report.checks if c.property.startswith("cgroup ")}
    wanted = {f"cgroup {name}" for name in (*V2_FILES, "cpu.weight")}
    assert set(cgroup_checks) == wanted
    assert {c.source for c in cgroup_checks.values()} == {"exec probe"}


def test_a_memory_hog_is_oom_killed(
    v2: EngineFacts, docker_client: docker.DockerClient, test_image: str
) -> None:
    """A hog under memory.max 64m (no swap) is killed by the OOM killer: exit 137."""
    hog = "x=a; while true; do x=$x$x$x$x; done"
    cfg = sr.builder(test_image).memory("64m").command(["sh", "-c", hog]).labels(TEST_LABELS)
    result = sr.run(cfg.build(), client=docker_client, timeout=300)
    assert (result.exit_code, result.oom_killed) == (137, True)


def test_pids_max_stops_a_fork_loop(
    v2: EngineFacts, docker_client: docker.DockerClient, test_image: str
) -> None:
    """With pids.max 16, forks beyond it fail: pids.events counts them, pids.current stays <= 16."""
    # The loop runs in a subshell (ash gives up at the first failed fork); the counts are
    # then read with builtins only, as no fork is left.
    script = (
        "(for i in $(seq 1 40); do sleep 30 & done) 2>/dev/null; "
        "read current < /sys/fs/cgroup/pids.current; "
        'while read key value; do [ "$key" = max ] && failed=$value; done '
        "< /sys/fs/cgroup/pids.events; "
        'echo "$current $failed"'
    )
    cfg = sr.builder(test_image).pids_limit(16).command(["sh", "-c", script]).labels(TEST_LABELS)
    result = sr.run(cfg.build(), client=docker_client, timeout=300)
    current, failed = result.stdout.decode().split()
    assert int(current) <= 16
    assert int(failed) > 0


@pytest.mark.parametrize("name", sorted(sr.presets()))
def test_every_preset_launches_and_verifies_cleanly(
    v2: EngineFacts,
    docker_client: docker.DockerClient,
    test_image: str,
    internal_network: str,
    runtime_present: object,
    name: str,
) -> None:
    """sr.launch of the preset verifies with no failed check, read by the exec probe."""
    builder = sr.preset(name, test_image).labels(TEST_LABELS).command(["sleep", "600"])
    if builder.build().network != "none":
        builder = builder.network(internal_network)
    cfg = builder.build()
    runtime_present(cfg)  # type: ignore[operator]
    with sr.launch(cfg, client=docker_client) as box:
        report = sr.verify(box)
    assert report.ok, str(report)
    assert "exec probe" in report.sources()
    assert any(c.property == "cgroup memory.max" for c in report.checks)


def test_verify_catches_memory_raised_through_the_engine(
    v2: EngineFacts, docker_client: docker.DockerClient, test_image: str
) -> None:
    """docker update of memory behind the library fails HostConfig.Memory and memory.max."""
    cfg = sr.builder(test_image).command(["sleep", "600"]).labels(TEST_LABELS).build()
    with sr.launch(cfg, client=docker_client) as box:
        docker_client.api.update_container(box.id, mem_limit="1g", memswap_limit="1g")
        report = sr.verify(box, strict=False)
    failed = {c.property for c in report.failures}
    assert {"HostConfig.Memory", "cgroup memory.max"} <= failed


def test_verify_catches_pids_max_raised_in_the_kernel_alone(
    v2: EngineFacts, docker_client: docker.DockerClient, test_image: str
) -> None:
    """pids.max set to max in the kernel alone (the record untouched) fails only that check."""
    cfg = sr.builder(test_image).command(["sleep", "600"]).labels(TEST_LABELS).build()
    with sr.launch(cfg, client=docker_client) as box:
        weaken = f'echo max > "$(find /cg -type d -name "*{box.id}*" | head -n 1)/pids.max"'
        docker_client.containers.run(
            test_image,
            ["sh", "-c", weaken],
            privileged=True,
            network_mode="none",
            volumes={"/sys/fs/cgroup": {"bind": "/cg", "mode": "rw"}},
            labels=TEST_LABELS,
            remove=True,
        )
        report = sr.verify(box, strict=False)
    failed = {c.property for c in report.failures}
    assert failed == {"cgroup pids.max"}
