"""The one policy for Docker clients: how one is made, and whether its engine is local.

Every entry point takes an optional ``client``. Given one, it is used as it is and
never closed; otherwise :func:`connect` makes one as ``docker.from_env()`` would, and
the entry point closes it when it is done (:func:`session`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import docker
import docker.constants
import docker.utils

from .errors import DEFAULT_ADDRESS, DEFAULT_API_TIMEOUT, base_url, translate

__all__ = ["connect", "is_local", "low_level", "session"]


@contextlib.contextmanager
def session(
    client: docker.DockerClient | None = None, **connect_options: Any
) -> Iterator[docker.DockerClient]:
    """A client for the length of a ``with`` block: the one policy for every entry point.

    A client the caller gave is used as it is and never closed: it is theirs. Otherwise a
    new one is made by :func:`connect` (with ``connect_options``) and closed when the
    block ends, on every path, so no connection or socket outlives the call.
    """
    if client is not None:
        yield client
        return
    made = connect(**connect_options)
    try:
        yield made
    finally:
        made.close()


def low_level(client: docker.DockerClient) -> Any:
    """The low-level API, untyped: its stubs lack calls and take ints for float timeouts."""
    return client.api


def is_local(client: docker.DockerClient) -> bool:
    """Whether ``client`` talks to its engine over a unix socket on this machine.

    Only then can the engine's processes be found in this machine's ``/proc``; a TCP,
    TLS or SSH address is treated as remote even when it names this host. (Whether a
    given process really is the container's is checked again where ``/proc`` is read.)
    """
    return base_url(client).startswith("unix://")


def connect(
    client: docker.DockerClient | None = None,
    *,
    timeout: float = 5.0,
    api_timeout: float = DEFAULT_API_TIMEOUT,
    max_pool_size: int = docker.constants.DEFAULT_MAX_POOL_SIZE,
) -> docker.DockerClient:
    """``client`` itself, or a new client of the engine the environment names.

    A new client is made as ``docker.from_env()`` would (reading ``DOCKER_HOST``,
    ``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH``; never writing them) and
    negotiates the API version with the engine right away, waiting at most
    ``timeout`` seconds, so a missing engine fails here, fast.

    Args:
        client: A client to use as it is; it is not contacted.
        timeout: Seconds to wait for the engine to answer the version negotiation.
        api_timeout: The new client's timeout for each later API call, in seconds
            (docker-py's default is 60).
        max_pool_size: Connections the new client keeps open to the engine; give at
            least the number of threads that will use it at once.

    Returns:
        A client ready for use.

    Raises:
        DaemonUnavailable: No engine answers where the environment points.
        LaunchError: The environment describes a client docker-py refuses (for
            example TLS settings without a host).
    """
    if client is not None:
        return client
    env: dict[str, Any] = dict(docker.utils.kwargs_from_env())
    address = _address(env.get("base_url"))
    env.update(version="auto", timeout=timeout, max_pool_size=max_pool_size)  # floats work
    try:
        made = docker.DockerClient(**env)
    except Exception as exc:
        mapped = translate(exc, "connect to the engine", address=address)
        if mapped is exc:
            raise
        raise mapped from exc
    made.api.timeout = api_timeout  # type: ignore[assignment]  # the stubs say int; floats work
    return made


def _address(url: object) -> str:
    """The address a DOCKER_HOST value names, as the user would write it."""
    if not url:
        return DEFAULT_ADDRESS
    text = str(url)
    return text.replace("http+unix://", "unix://", 1) if text.startswith("http+unix") else text
