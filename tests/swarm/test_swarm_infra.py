"""The test swarm itself: what ``scripts/swarm.sh up`` promises the other swarm tests."""

from __future__ import annotations

import docker

from secure_run.testing import TEST_IMAGE

DEFAULT_DATA_ROOT = "/var/lib/docker"


def test_three_nodes_are_ready(swarm_manager: docker.DockerClient) -> None:
    """The manager sees three nodes, each Ready and active."""
    nodes = swarm_manager.api.nodes()
    states = [(n["Status"]["State"], n["Spec"]["Availability"]) for n in nodes]
    assert states == [("ready", "active")] * 3


def test_one_manager_two_workers(swarm_nodes: list[docker.DockerClient]) -> None:
    """The first node in the environment is the swarm's only manager; the other two are workers."""
    control = [node.info()["Swarm"]["ControlAvailable"] for node in swarm_nodes]
    roles = sorted(n["Spec"]["Role"] for n in swarm_nodes[0].api.nodes())
    assert control == [True, False, False]
    assert roles == ["manager", "worker", "worker"]


def test_test_image_on_every_node(swarm_nodes: list[docker.DockerClient]) -> None:
    """Every node has the test image locally, so no task ever needs a pull."""
    ids = [node.api.inspect_image(TEST_IMAGE)["Id"] for node in swarm_nodes]
    assert len(ids) == 3
    assert len(set(ids)) == 1


def test_each_node_has_its_own_data_root(swarm_nodes: list[docker.DockerClient]) -> None:
    """The three dockerd nodes use three different data roots, none of them the default one."""
    roots = [node.info()["DockerRootDir"] for node in swarm_nodes]
    assert len(set(roots)) == 3
    assert DEFAULT_DATA_ROOT not in roots
