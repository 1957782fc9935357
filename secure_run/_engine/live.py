"""The containers and volumes alive in this process: tracked from create until removed.

A tracked container counts as work in flight for the signal policy
(:mod:`.signals`), and whatever is still tracked at interpreter exit is removed
then (containers first, then the volumes they used). A container or volume that
cannot be removed now (no engine answers) stays tracked for that last try.

:meth:`Live.watch` records what one thread creates, so a caller in another thread
(the asyncio API, on cancellation) can remove exactly that work.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
from collections.abc import Iterator

import docker
import docker.errors
import requests

from .errors import _close_unix_sockets
from .signals import SIGTERM_AS_EXIT

__all__ = ["LIVE", "Watch", "release", "release_volume", "remove", "remove_volume"]

logger = logging.getLogger("secure_run")

#: Seconds to wait for a removal another thread started to end.
_REMOVAL_WAIT_S = 5.0


class Watch:
    """What one thread created while watched: container ids and volume names, in order.

    Once :meth:`cancel` is called, :meth:`remove_all` removes what was recorded, and
    anything the thread creates afterwards is removed as soon as it is recorded.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.containers: list[tuple[str, docker.DockerClient]] = []
        self.volumes: list[tuple[str, docker.DockerClient]] = []
        self.cancelled = False

    def _record(self, kind: str, name: str, client: docker.DockerClient) -> None:
        with self._lock:
            (self.containers if kind == "container" else self.volumes).append((name, client))
            cancelled = self.cancelled
        if cancelled:
            self.remove_all()

    def cancel(self) -> None:
        """Remove what was created so far, and from now on what is created next."""
        with self._lock:
            self.cancelled = True
        self.remove_all()

    def remove_all(self) -> None:
        """Kill and remove every recorded container, then every recorded volume."""
        with self._lock:
            containers, volumes = list(self.containers), list(self.volumes)
        for container_id, client in containers:
            release(client, container_id)
        for name, client in volumes:
            release_volume(client, name)


class Live:
    """The containers and volumes this process has created and not yet removed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._containers: dict[str, docker.DockerClient] = {}
        self._volumes: dict[str, docker.DockerClient] = {}
        self._watching = threading.local()

    def __contains__(self, container_id: object) -> bool:
        return container_id in self._containers

    @contextlib.contextmanager
    def watch(self) -> Iterator[Watch]:
        """Record what the current thread creates inside the block (blocks may nest)."""
        watch = Watch()
        stack: list[Watch] = self._watching.__dict__.setdefault("stack", [])
        stack.append(watch)
        try:
            yield watch
        finally:
            stack.remove(watch)

    def _watchers(self) -> list[Watch]:
        return list(self._watching.__dict__.get("stack", ()))

    def add(self, container_id: str, client: docker.DockerClient) -> None:
        """Track a container just created (from any thread)."""
        with self._lock:
            if container_id in self._containers:
                return
            self._containers[container_id] = client
            SIGTERM_AS_EXIT.enter()
        for watch in self._watchers():
            watch._record("container", container_id, client)

    def add_volume(self, name: str, client: docker.DockerClient) -> None:
        """Track a volume just created (from any thread)."""
        with self._lock:
            if name in self._volumes:
                return
            self._volumes[name] = client
            SIGTERM_AS_EXIT.enter()
        for watch in self._watchers():
            watch._record("volume", name, client)

    def discard_volume(self, name: str) -> None:
        """Stop tracking a volume (it is gone)."""
        with self._lock:
            if self._volumes.pop(name, None) is not None:
                SIGTERM_AS_EXIT.leave()

    def discard(self, container_id: str) -> None:
        """Stop tracking a container (it is gone)."""
        with self._lock:
            if self._containers.pop(container_id, None) is not None:
                SIGTERM_AS_EXIT.leave()

    def remove_all(self) -> None:
        """Remove every container still alive, then every volume (at interpreter exit)."""
        with self._lock:
            leftovers = list(self._containers.items())
            volumes = list(self._volumes.items())
        for container_id, client in leftovers:
            remove(client, container_id)
            self.discard(container_id)
        for name, client in volumes:
            remove_volume(client, name)
            self.discard_volume(name)


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
        except docker.errors.APIError as exc:
            if _removal_in_progress(exc):  # another thread's removal (a cancelled call's)
                return _gone(client, container_id)
            _close_unix_sockets(exc)
            logger.warning("could not remove container %s: %s", container_id[:12], exc)
            return False
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


def _removal_in_progress(exc: docker.errors.APIError) -> bool:
    """A 409 saying the engine is already removing it (for another thread)."""
    return exc.status_code == 409 and "already in progress" in str(exc.explanation or exc)


def _gone(client: docker.DockerClient, container_id: str) -> bool:
    """Wait for another thread's removal to end, so its volumes are free; True once gone."""
    deadline = time.monotonic() + _REMOVAL_WAIT_S
    while time.monotonic() < deadline:
        try:
            client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return True
        except (docker.errors.DockerException, requests.RequestException):
            return False
        time.sleep(0.05)
    return False


def _in_use(exc: docker.errors.APIError) -> bool:
    return exc.status_code == 409 and "in use" in str(exc.explanation or exc)


def remove_volume(client: docker.DockerClient, name: str) -> bool:
    """Remove a volume; True if it is gone.

    A volume still in use is not removed; one whose container is being removed right
    now (by another thread) is waited for, a few seconds at most.
    """
    deadline = time.monotonic() + _REMOVAL_WAIT_S
    attempt = 1
    while attempt <= 2:
        try:
            client.api.remove_volume(name, force=True)
            return True
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError as exc:
            if _in_use(exc) and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            _close_unix_sockets(exc)
            logger.warning("could not remove volume %s: %s", name, exc)
            return False
        except (docker.errors.DockerException, requests.RequestException) as exc:
            _close_unix_sockets(exc)
            logger.warning("could not remove volume %s: %s", name, exc)
            return False
        except KeyboardInterrupt:
            if attempt == 2:
                raise
            attempt += 1
    return False


def release_volume(client: docker.DockerClient, name: str) -> None:
    """Remove a tracked volume, or keep tracking it for the retry at interpreter exit."""
    if remove_volume(client, name):
        LIVE.discard_volume(name)
