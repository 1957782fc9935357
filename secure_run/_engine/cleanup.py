"""Reaping: remove the containers secure_run left behind.

A container is reaped when its owner process is gone (the owner label names the
host, the pid and the process's start time, so a reused pid does not count as
alive), or, when asked, when it is older than a given age. Containers of live
owners are left alone, so cleanup is safe while other processes are launching.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping

import attrs
import docker
import docker.errors
import requests

from .client import low_level, session
from .errors import translated
from .labels import CREATED_LABEL, MANAGED_LABEL, OWNER_LABEL, owner_id
from .live import remove, remove_volume

__all__ = ["REAPED_KINDS", "Reaped", "cleanup", "why_reaped"]

#: What :func:`cleanup` removes, the ``kind`` of each :class:`Reaped`.
REAPED_KINDS = ("container", "volume", "service", "network")

#: The label the engine puts on a Swarm task's container.
_SWARM_SERVICE_LABEL = "com.docker.swarm.service.id"


@attrs.frozen
class Reaped:
    """One container (or workspace volume) :func:`cleanup` removed, and why.

    For a volume, ``kind`` is ``"volume"`` and ``container_id`` and ``name`` are
    both the volume's name. For a Swarm service (reaped on a manager), ``kind`` is
    ``"service"`` and ``container_id`` is the service's id; for the internal network
    made for a ``network("none")`` service, ``"network"``.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 ``kind``: volumes are reaped too, and Swarm services.
    """

    container_id: str
    name: str
    owner: str
    reason: str
    kind: str = "container"


def _owner_gone(owner: str) -> str | None:
    """Why the owner counts as gone, or None if it is alive or on another host."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdecimal():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"owner process {pid} is gone"
    except PermissionError:
        pass  # alive, but someone else's
    if start != "?" and owner_id(pid).rpartition(":")[2] not in (start, "?"):
        return f"owner pid {pid} now belongs to another process"
    return None


def why_reaped(labels: Mapping[str, str], now: float, older_than: float | None) -> str | None:
    """Why a managed container with these labels is reaped, or None if it is kept."""
    reason = _owner_gone(labels.get(OWNER_LABEL, ""))
    if reason is None and older_than is not None:
        try:
            age = now - float(labels.get(CREATED_LABEL, "inf"))
        except ValueError:
            age = 0.0
        if age > older_than:
            reason = f"created {age:.0f} s ago, older than {older_than:g} s"
    return reason


def cleanup(
    client: docker.DockerClient | None = None, *, older_than: float | None = None
) -> list[Reaped]:
    """Remove containers (and workspace volumes) secure_run created whose owner is gone.

    Args:
        client: The Docker client; ``docker.from_env()`` when omitted.
        older_than: Also remove managed containers created more than this many
            seconds ago, whoever owns them.

    Returns:
        What was removed, with the reason for each.

    .. versionadded:: 0.1
    """
    reaped: list[Reaped] = []
    with session(client) as engine:
        reaped.extend(_reap_services(engine, time.time(), older_than))
        with translated("list containers", client=engine):
            found = engine.api.containers(all=True, filters={"label": f"{MANAGED_LABEL}=1"})
        now = time.time()
        for entry in found:
            labels = entry.get("Labels") or {}
            if _SWARM_SERVICE_LABEL in labels:  # a service's task: its service is reaped
                continue
            reason = why_reaped(labels, now, older_than)
            if reason is None or not remove(engine, entry["Id"]):
                continue
            names = entry.get("Names") or ["?"]
            owner = labels.get(OWNER_LABEL, "")
            reaped.append(Reaped(entry["Id"], names[0].lstrip("/"), owner, reason))
        reaped.extend(_reap_volumes(engine, now, older_than))
    return reaped


def _reap_services(
    engine: docker.DockerClient, now: float, older_than: float | None
) -> Iterator[Reaped]:
    """On a swarm manager, the services of gone owners, then their internal networks."""
    info = getattr(low_level(engine), "info", None)
    if info is None:  # a stand-in client with no info() call is no swarm manager
        return
    with translated("read the engine's swarm role", client=engine):
        swarm = info().get("Swarm") or {}
    if not swarm.get("ControlAvailable"):
        return
    label = {"label": f"{MANAGED_LABEL}=1"}
    with translated("list services", client=engine):
        found = low_level(engine).services(filters=label)
    for entry in found:
        spec = entry.get("Spec") or {}
        labels = spec.get("Labels") or {}
        reason = why_reaped(labels, now, older_than)
        if reason is not None and _removed(low_level(engine).remove_service, entry["ID"]):
            name = str(spec.get("Name") or entry["ID"])
            yield Reaped(entry["ID"], name, labels.get(OWNER_LABEL, ""), reason, kind="service")
    with translated("list networks", client=engine):
        networks = engine.api.networks(filters=label)
    for net in networks:
        labels = net.get("Labels") or {}
        reason = why_reaped(labels, now, older_than)
        if reason is not None and _removed(engine.api.remove_network, net["Id"]):
            owner = labels.get(OWNER_LABEL, "")
            yield Reaped(net["Id"], net["Name"], owner, reason, kind="network")


def _removed(call: Callable[[str], object], ident: str) -> bool:
    """Run a removal: True if the thing is gone, False if the engine refused (in use)."""
    try:
        call(ident)
    except docker.errors.NotFound:
        return True
    except (docker.errors.DockerException, requests.RequestException):
        return False
    return True


def _reap_volumes(
    engine: docker.DockerClient, now: float, older_than: float | None
) -> Iterator[Reaped]:
    """The workspace volumes of gone owners, once their containers are gone (just above)."""
    with translated("list volumes", client=engine):
        found = engine.api.volumes(filters={"label": f"{MANAGED_LABEL}=1"}).get("Volumes") or ()
    for entry in found:
        labels = entry.get("Labels") or {}
        reason = why_reaped(labels, now, older_than)
        if reason is not None and remove_volume(engine, entry["Name"]):
            owner = labels.get(OWNER_LABEL, "")
            yield Reaped(entry["Name"], entry["Name"], owner, reason, kind="volume")
