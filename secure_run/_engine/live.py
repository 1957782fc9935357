"""The containers alive in this process: tracked from create until they are removed.

A tracked container counts as work in flight for the signal policy
(:mod:`.signals`), and whatever is still tracked at interpreter exit is removed
then. A container that cannot be removed now (no engine answers) stays tracked for
that last try.
"""

from __future__ import annotations

import atexit
import logging
import threading

import docker
import docker.errors
import requests

from .errors import _close_unix_sockets
from .signals import SIGTERM_AS_EXIT

__all__ = ["LIVE", "release", "remove"]

logger = logging.getLogger("secure_run")


class Live:
    """The containers this process has created and not yet removed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._containers: dict[str, docker.DockerClient] = {}

    def __contains__(self, container_id: object) -> bool:
        return container_id in self._containers

    def add(self, container_id: str, client: docker.DockerClient) -> None:
        """Track a container just created (from any thread)."""
        with self._lock:
            if container_id in self._containers:
                return
            self._containers[container_id] = client
            SIGTERM_AS_EXIT.enter()

    def discard(self, container_id: str) -> None:
        """Stop tracking a container (it is gone)."""
        with self._lock:
            if self._containers.pop(container_id, None) is not None:
                SIGTERM_AS_EXIT.leave()

    def remove_all(self) -> None:
        """Remove every container still alive (at interpreter exit)."""
        with self._lock:
            leftovers = list(self._containers.items())
        for container_id, client in leftovers:
            remove(client, container_id)
            self.discard(container_id)


LIVE = Live()
atexit.register(LIVE.remove_all)


def remove(client: docker.DockerClient, container_id: str) -> bool:
    """Remove a container and its anonymous volumes; True if it is gone.

    A Ctrl-C during the removal is answered by trying once more before it is raised.
    """
    for attempt in (1, 2):
        try:
            client.api.remove_container(container_id, force=True, v=True)
            return True
        except docker.errors.NotFound:
            return True
        except (docker.errors.DockerException, requests.RequestException) as exc:
            _close_unix_sockets(exc)  # docker-py leaves a failed connect()'s socket open
            logger.warning("could not remove container %s: %s", container_id[:12], exc)
            return False
        except KeyboardInterrupt:
            if attempt == 2:
                raise
    return False


def release(client: docker.DockerClient, container_id: str) -> None:
    """Remove a tracked container, or keep tracking it for the retry at interpreter exit."""
    if remove(client, container_id):
        LIVE.discard(container_id)
