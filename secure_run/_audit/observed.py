"""What the doctor reads, gathered once: the engine's answers and, when local, the host's files.

The daemon is found by the one locator the audit uses too
(:func:`.daemon.locate_daemon`): the dockerd listening on the client's socket.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import attrs
import docker
import docker.errors

from .._engine.client import session
from .._engine.errors import base_url, translated
from .._engine.facts import EngineFacts, engine_facts
from .daemon import DaemonConfig, locate_daemon
from .daemon_socket import SocketFacts, read_socket

__all__ = ["Observed", "daemon_unread", "observe", "security_names"]


@attrs.frozen(kw_only=True)
class Observed:
    """Everything the doctor's rules read, gathered once by :func:`observe`.

    Attributes:
        facts: The engine's facts (:func:`secure_run.engine_facts`).
        info: ``docker info``.
        address: The client's address (``unix:///var/run/docker.sock``).
        bridge: ``inspect`` of the default ``bridge`` network, ``None`` if it has none.
        containers: ``inspect`` of each running container.
        daemon: The daemon's command line and ``daemon.json``; ``None`` when the
            daemon is not local.
        socket: The daemon's socket on this host; ``None`` when not local.
        today: The date versions are judged on.
    """

    facts: EngineFacts
    info: Mapping[str, Any]
    address: str
    bridge: Mapping[str, Any] | None = None
    containers: tuple[Mapping[str, Any], ...] = ()
    daemon: DaemonConfig | None = None
    socket: SocketFacts | None = None
    today: datetime.date = attrs.field(factory=datetime.date.today)


def observe(
    client: docker.DockerClient | None = None,
    *,
    proc_root: str = "/proc",
    etc_root: str = "/etc",
) -> Observed:
    """Gather what :func:`secure_run._audit.doctor.diagnose` reads.

    A client given is used as it is and never closed; one made here (as
    ``docker.from_env()`` would) is closed before this returns.

    Args:
        client: The engine's client; ``None`` connects as ``docker.from_env()`` does.
        proc_root: Where the host's ``/proc`` is.
        etc_root: Where the host's ``/etc`` is.

    Returns:
        The observations.

    Raises:
        DaemonUnavailable: No engine answers.
        RunTimeout: The engine did not answer in time.
        LaunchError: The engine refused a request.
    """
    with session(client) as api_client:
        facts = engine_facts(api_client)
        with translated("read the engine's info", client=api_client):
            info = api_client.info()
        bridge = _bridge(api_client)
        containers = _running(api_client)
        address = base_url(api_client)
        daemon = locate_daemon(
            api_client, rootless=facts.rootless, proc_root=proc_root, etc_root=etc_root
        )
    socket = None if daemon is None else read_socket(address[len("unix://") :], etc_root)
    return Observed(
        facts=facts,
        info=info,
        address=address,
        bridge=bridge,
        containers=containers,
        daemon=daemon,
        socket=socket,
    )


def _bridge(client: docker.DockerClient) -> Mapping[str, Any] | None:
    """``inspect`` of the default bridge network, ``None`` when the engine has none."""
    with translated("inspect the default bridge network", client=client):
        try:
            found: Mapping[str, Any] = client.api.inspect_network("bridge")
        except docker.errors.NotFound:
            return None
    return found


def _running(client: docker.DockerClient) -> tuple[Mapping[str, Any], ...]:
    """``inspect`` of each running container; one removed meanwhile is left out."""
    with translated("list the running containers", client=client):
        listed = client.api.containers()
    containers = []
    for entry in listed:
        with translated(f"inspect the container {entry['Id'][:12]}", client=client):
            try:
                containers.append(client.api.inspect_container(entry["Id"]))
            except docker.errors.NotFound:
                continue  # it stopped and was removed between the listing and now
    return tuple(containers)


def daemon_unread(o: Observed) -> str:
    """Why the daemon's settings could not be read, or where they were read."""
    if o.daemon is None:
        return f"the daemon is not local ({o.address}), so its configuration cannot be read"
    return o.daemon.source()


def security_names(o: Observed) -> str:
    """``docker info`` ``SecurityOptions`` for evidence."""
    options = o.facts.security_options
    return f"docker info SecurityOptions: {', '.join(options) if options else '(none)'}"
