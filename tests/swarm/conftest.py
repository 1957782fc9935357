"""Fixtures for the swarm tests: clients of a real multi-node swarm, and a leak check.

The swarm is the one ``scripts/swarm.sh up`` starts (``make swarm-up``): three dockerd
nodes on this machine, one manager and two workers. Its addresses come from the
environment, as ``eval "$(scripts/swarm.sh env)"`` sets them:

``SECURE_RUN_SWARM_MANAGER``
    The manager's Docker base URL, e.g. ``unix:///tmp/secure-run-swarm/node1.sock``.
``SECURE_RUN_SWARM_NODES``
    Every node's base URL, comma-separated, the manager first.

Without them every test here is skipped with the reason, unless
``SECURE_RUN_REQUIRE_SWARM=1`` (``make test-swarm``, CI), which makes that a failure; so
does a node that does not answer.

The autouse ``swarm_leaks`` fixture counts, before and after each test, the services
(on the manager), the containers, networks and volumes (on every node) labelled with
:data:`secure_run.testing.TEST_LABELS` or secure_run's managed label, and the workspace
volumes. A test that leaves any behind fails, and they are removed.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
import warnings
from collections.abc import Iterator
from typing import NoReturn

import docker
import docker.errors
import pytest
import requests.exceptions

from secure_run._engine.labels import MANAGED_LABEL
from secure_run._engine.labels import VOLUME_PREFIX as WORKSPACE_VOLUME_PREFIX
from secure_run.testing import TEST_LABELS

MANAGER_ENV = "SECURE_RUN_SWARM_MANAGER"
NODES_ENV = "SECURE_RUN_SWARM_NODES"
REQUIRE_ENV = "SECURE_RUN_REQUIRE_SWARM"

_PING_TIMEOUT = 10
# Task containers of a removed service are stopped and removed by their node after the
# manager forgets the service; give that time before calling them a leak.
_LEAK_GRACE = 20.0
_LABEL_FILTERS = [f"{key}={value}" for key, value in TEST_LABELS.items()] + [MANAGED_LABEL]
_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)

Leftover = tuple[str, int, str]  # (kind, node index, id or name)


def _no_swarm(why: str) -> NoReturn:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"no swarm: {why} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(
        f"no swarm: {why}; start one with `make swarm-up` and "
        f'`eval "$(scripts/swarm.sh env)"`, or set {REQUIRE_ENV}=1 to fail instead'
    )


def _node_urls() -> list[str]:
    manager = os.environ.get(MANAGER_ENV, "").strip()
    nodes = [url.strip() for url in os.environ.get(NODES_ENV, "").split(",") if url.strip()]
    if not manager or not nodes:
        _no_swarm(f"{MANAGER_ENV} and {NODES_ENV} are not both set")
    if nodes[0] != manager:
        pytest.fail(f"{NODES_ENV} must list the manager ({manager}) first: {nodes}", pytrace=False)
    return nodes


def _connect(url: str) -> docker.DockerClient:
    """A client of the node at ``url`` that answered a ping (closed again if it did not)."""
    client = docker.DockerClient(base_url=url, version="auto", timeout=_PING_TIMEOUT)
    try:
        client.ping()
    except BaseException:
        client.close()
        raise
    client.api.timeout = 60
    return client


@pytest.fixture(scope="session")
def swarm_nodes() -> Iterator[list[docker.DockerClient]]:
    """A client of each swarm node, the manager first (``SECURE_RUN_SWARM_NODES``)."""
    clients: list[docker.DockerClient] = []
    try:
        for index, url in enumerate(_node_urls()):
            with warnings.catch_warnings():
                # The SDK leaks the socket of a connection that failed; collect it here,
                # quietly, rather than have it turn into an error in a later test.
                warnings.simplefilter("ignore", ResourceWarning)
                try:
                    clients.append(_connect(url))
                    why = ""
                except _ERRORS as exc:
                    why = str(exc)
                gc.collect()
            if why:
                _no_swarm(f"node {index + 1} ({url}) does not answer: {why}")
        yield clients
    finally:
        for client in clients:
            client.close()


@pytest.fixture(scope="session")
def swarm_manager(swarm_nodes: list[docker.DockerClient]) -> docker.DockerClient:
    """A client of the swarm's manager (``SECURE_RUN_SWARM_MANAGER``)."""
    return swarm_nodes[0]


def _labelled(nodes: list[docker.DockerClient]) -> set[Leftover]:
    """Everything on the swarm that carries a test or managed label, or is a workspace."""
    found: set[Leftover] = set()
    for label in _LABEL_FILTERS:
        filters = {"label": label}
        found |= {("service", 0, s["ID"]) for s in nodes[0].api.services(filters=filters)}
        for index, node in enumerate(nodes):
            found |= {
                ("container", index, c["Id"])
                for c in node.api.containers(all=True, filters=filters)
            }
            found |= {("network", index, n["Id"]) for n in node.api.networks(filters=filters)}
    for index, node in enumerate(nodes):
        for volume in node.api.volumes().get("Volumes") or ():
            labels = volume.get("Labels") or {}
            tagged = MANAGED_LABEL in labels or all(
                labels.get(k) == v for k, v in TEST_LABELS.items()
            )
            if tagged or volume["Name"].startswith(WORKSPACE_VOLUME_PREFIX):
                found.add(("volume", index, volume["Name"]))
    return found


def _snapshot(nodes: list[docker.DockerClient], when: str) -> set[Leftover]:
    try:
        return _labelled(nodes)
    except _ERRORS as exc:
        urls = [node.api.base_url for node in nodes]
        pytest.fail(f"a swarm node ({urls}) does not answer {when} the test: {exc}", pytrace=False)


_REMOVAL_ORDER = ("service", "container", "network", "volume")


def _remove(nodes: list[docker.DockerClient], leftover: Leftover) -> None:
    kind, index, ident = leftover
    api = nodes[index].api
    with contextlib.suppress(*_ERRORS):
        if kind == "service":
            api.remove_service(ident)
        elif kind == "container":
            api.remove_container(ident, force=True, v=True)
        elif kind == "network":
            api.remove_network(ident)
        else:
            api.remove_volume(ident, force=True)


def _remove_all(nodes: list[docker.DockerClient], before: set[Leftover]) -> set[Leftover]:
    """Remove what the test left, services first; returns all that was removed.

    A removed service's task containers linger for their stop grace period (10 s by
    default), and a task the manager had just assigned may still be created, so the
    containers are force-removed over a few rounds.
    """
    removed: set[Leftover] = set()
    for _ in range(3):
        left = _snapshot(nodes, "after") - before
        if not left:
            break
        removed |= left
        for leftover in sorted(left, key=lambda i: (_REMOVAL_ORDER.index(i[0]), i[1], i[2])):
            _remove(nodes, leftover)
        time.sleep(1.0)
    return removed


@pytest.fixture(autouse=True)
def swarm_leaks(swarm_nodes: list[docker.DockerClient]) -> Iterator[None]:
    """Fail a test that leaves labelled services, containers, networks or volumes behind."""
    before = _snapshot(swarm_nodes, "before")
    yield
    left = _snapshot(swarm_nodes, "after") - before
    deadline = time.monotonic() + _LEAK_GRACE
    while left and time.monotonic() < deadline:
        time.sleep(0.25)
        left = _snapshot(swarm_nodes, "after") - before
    if not left:
        return
    removed = _remove_all(swarm_nodes, before) | left
    ordered = sorted(removed, key=lambda i: (_REMOVAL_ORDER.index(i[0]), i[1], i[2]))
    shown = [f"{kind} {ident[:24]} on node {index + 1}" for kind, index, ident in ordered]
    pytest.fail(
        f"the test left {len(shown)} service(s), container(s), network(s) or volume(s) "
        f"labelled {TEST_LABELS} or {MANAGED_LABEL} behind on the swarm (now removed): "
        f"{shown}",
        pytrace=False,
    )
