"""The one place where Docker SDK, requests and urllib3 exceptions become secure_run's.

Every call into the Docker SDK runs inside :func:`translated`, which raises the
matching :class:`~secure_run.SecureRunError` with the original as ``__cause__``
(``raise Mapped(msg) from exc``). The checks run top to bottom; the first match wins:

=======================================================  ==========================
Raised below secure_run                                  Raised by secure_run
=======================================================  ==========================
any ``SecureRunError``                                   the same object, unchanged
``docker.errors.ImageNotFound``                          ``ImageNotFound``
``docker.errors.NotFound`` about the image (1)           ``ImageNotFound``
``docker.errors.NotFound``, any other (2)                ``LaunchError``
``docker.errors.APIError``, any other                    ``LaunchError``
``requests`` ``ConnectTimeout``, urllib3 connect errors  ``DaemonUnavailable``
``requests`` ``Timeout``, ``ReadTimeout``                ``RunTimeout``
urllib3 ``TimeoutError``, builtin ``TimeoutError``       ``RunTimeout``
``requests`` ``ConnectionError``, any other (3)          ``DaemonUnavailable``
urllib3 ``HTTPError`` (``ProtocolError``, ...)           ``DaemonUnavailable``
``ConnectionRefusedError``, ``FileNotFoundError`` (4)    ``DaemonUnavailable``
``docker.errors.DockerException``, no engine (5)         ``DaemonUnavailable``
``docker.errors.DockerException``, any other             ``LaunchError``
anything else (``ValueError``, ``KeyboardInterrupt``)    unchanged
=======================================================  ==========================

(1) When the caller names the image and the 404 is about an image, a manifest, a
    repository or that name (a pull of a tag that does not exist).
(2) A container, exec, network or volume that does not exist. The hierarchy has no
    "not found" for containers, and an operation on a container that is gone
    (removed by ``auto_remove``, another process or :func:`secure_run.cleanup`) is
    the engine refusing it. Callers for whom a missing container is normal (removal
    during cleanup) catch ``docker.errors.NotFound`` themselves, inside the block.
(3) Every ``RequestException`` that is not a timeout: the connection broke.
(4) Raised by a socket ``connect()``: a ``FileNotFoundError`` without a file name,
    so a missing file elsewhere is not mistaken for a missing engine.
(5) Caused by one of the connection errors above, or saying so
    (``"Error while fetching server API version: ..."`` when ``docker.from_env()``
    finds no engine).

docker-py leaves the socket of a failed unix-socket ``connect()`` unclosed (the
``UnixHTTPConnection.connect`` frame holds it, see docker/docker-py#3356); when
translating a connection failure, that socket is closed here, so no
``ResourceWarning`` surfaces later, wherever the exception happens to be freed.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import docker
import docker.constants
import docker.errors
import docker.utils
import requests.exceptions
import urllib3.exceptions

from .._errors import (
    DaemonUnavailable,
    ImageNotFound,
    LaunchError,
    RunTimeout,
    SecureRunError,
)

__all__ = ["base_url", "translate", "translated"]

#: The address docker-py uses when neither DOCKER_HOST nor base_url names one.
DEFAULT_ADDRESS = "unix:///var/run/docker.sock"
_UNKNOWN_ADDRESS = f"the address DOCKER_HOST names (by default {DEFAULT_ADDRESS})"

#: docker-py's own default timeout for each API call, in seconds.
DEFAULT_API_TIMEOUT = 60.0

#: Words in a 404's explanation that show it is about an image, not a container.
_IMAGE_WORDS = ("image", "manifest", "pull access", "repository")

#: What docker-py's own messages say when it finds no engine (with no cause attached).
_UNREACHABLE_WORDS = (
    "error while fetching server api version",
    "connection refused",
    "no such file or directory",
)

#: Fixes for engine refusals recognised by a fragment of their explanation.
_API_FIXES = (
    ("is already in use by container", "choose another name, or remove that container"),
    ("range of cpus", "lower cpus to at most the number of CPUs the engine host has"),
    ("unknown or invalid runtime", "install the runtime on the engine or leave runtime unset"),
    ("executable file not found", "give a command that exists in the image"),
    ("no such file or directory", "check the command and the mount sources exist"),
    ("is too new", "create the client with version='auto' (docker.from_env() does)"),
)
_API_FIX = "fix the setting the engine's message names, in the RunConfig or on the engine"


def base_url(client: docker.DockerClient) -> str:
    """The address ``client`` talks to, for messages: ``unix:///path`` or ``http(s)://host``.

    docker-py rewrites a unix socket URL to ``http+docker://localhost``; the socket
    path is read back from the transport adapter.

    Args:
        client: Any Docker client.

    Returns:
        The engine's address as the user would write it.
    """
    api = client.api
    url = str(api.base_url)
    if url.startswith("http+docker://"):
        adapter = api.adapters.get("http+docker://")
        path = getattr(adapter, "socket_path", None)
        if isinstance(path, str) and path:
            return "unix://" + path
        host = getattr(adapter, "ssh_host", None)
        if isinstance(host, str) and host:
            return host if host.startswith("ssh://") else "ssh://" + host
    return url


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes and contexts, each once, outermost first."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        # urllib3 keeps the underlying error in .reason (MaxRetryError) or args (ProtocolError).
        todo.extend(a for a in (getattr(current, "reason", None), *current.args) if _is_exc(a))


def _is_exc(value: object) -> bool:
    return isinstance(value, BaseException)


def _close_unix_sockets(exc: BaseException) -> str | None:
    """Close the sockets docker-py's failed unix ``connect()`` left open; return that path.

    The socket lives only in the locals of ``UnixHTTPConnection.connect``, whose
    frame the traceback keeps; unclosed, it warns (``ResourceWarning``) whenever the
    exception is finally freed, which ``filterwarnings = error`` turns into a failure.
    """
    path: str | None = None
    for link in _chain(exc):
        tb = link.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if (
                frame.f_code.co_name == "connect"
                and frame.f_globals.get("__name__") == "docker.transport.unixconn"
            ):
                local = frame.f_locals
                sock = local.get("sock")
                if isinstance(sock, socket.socket):
                    sock.close()
                socket_path = getattr(local.get("self"), "unix_socket", None)
                if isinstance(socket_path, str):
                    path = socket_path
            tb = tb.tb_next
    return path


def _is_connection_error(exc: BaseException) -> bool:
    # Both are timeouts too (urllib3's NewConnectionError is a ConnectTimeoutError).
    if isinstance(
        exc, (requests.exceptions.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError)
    ):
        return True
    if isinstance(exc, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)):
        return False
    if isinstance(exc, docker.errors.APIError):  # an HTTP answer: the engine is there
        return False
    if isinstance(exc, (requests.exceptions.RequestException, urllib3.exceptions.HTTPError)):
        return True
    return isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, FileNotFoundError) and exc.filename is None
    )


def _is_timeout(exc: BaseException) -> bool:
    timeouts = (
        requests.exceptions.Timeout,
        urllib3.exceptions.TimeoutError,
        TimeoutError,
        socket.timeout,
    )
    return isinstance(exc, timeouts) and not _is_connection_error(exc)


def _why_unreachable(exc: BaseException) -> tuple[str, str]:
    """(what went wrong, in words; an extra fix for it, or "")."""
    causes = list(_chain(exc))
    if any(isinstance(e, PermissionError) for e in causes):
        return (
            "permission denied on the engine's socket",
            "; or add your user to the docker group (or use a rootless engine)",
        )
    if any(isinstance(e, FileNotFoundError) for e in causes):
        return "the socket does not exist", ""
    if any(isinstance(e, ConnectionRefusedError) for e in causes):
        return "connection refused", ""
    if any(isinstance(e, requests.exceptions.ConnectTimeout) for e in causes):
        return "the connection timed out", ""
    return f"{type(exc).__name__}: {exc}", ""


def _unavailable(exc: BaseException, action: str, address: str | None) -> DaemonUnavailable:
    socket_path = _close_unix_sockets(exc)
    if address is None:
        address = "unix://" + socket_path if socket_path else _UNKNOWN_ADDRESS
    why, extra = _why_unreachable(exc)
    return DaemonUnavailable(
        f"no Docker Engine answers at {address} (while trying to {action}: {why}). "
        "Is dockerd running? Start it (e.g. `systemctl start docker`), or point "
        f"DOCKER_HOST or the client's base_url at a running engine{extra}"
    )


def _image_from(exc: docker.errors.APIError) -> str:
    explanation = str(exc.explanation or "")
    prefix = "no such image: "
    if explanation.lower().startswith(prefix):
        return explanation[len(prefix) :].strip()
    return "<unknown>"


def _image_not_found(exc: docker.errors.APIError, image: str | None) -> ImageNotFound:
    name = image if image is not None else _image_from(exc)
    return ImageNotFound(
        f"the image {name!r} is not on the engine ({exc.explanation or exc}). Build it "
        f"(docker build -t {name} <dir>) or load it (docker load -i <file>) on that "
        "engine, or let secure_run pull it with the pull policy 'missing'",
        image=name,
    )


def _about_image(exc: docker.errors.NotFound, image: str) -> bool:
    explanation = str(exc.explanation or "").lower()
    repository = image.rsplit("@", 1)[0].lower()
    return any(word in explanation for word in _IMAGE_WORDS) or repository in explanation


def _refused(exc: docker.errors.APIError, action: str) -> LaunchError:
    explanation = str(exc.explanation or "").strip() or str(exc)
    lowered = explanation.lower()
    fix = next((f for fragment, f in _API_FIXES if fragment in lowered), _API_FIX)
    status = f" (HTTP {exc.status_code})" if exc.status_code is not None else ""
    if isinstance(exc, docker.errors.NotFound):
        return LaunchError(
            f"the engine could not {action}: {explanation}{status}; fix: check that the "
            "container, network or volume it names exists (a container may have been "
            "removed by another process or by secure_run.cleanup())"
        )
    return LaunchError(f"the engine refused to {action}: {explanation}{status}; fix: {fix}")


def translate(
    exc: BaseException,
    action: str,
    *,
    image: str | None = None,
    address: str | None = None,
) -> BaseException:
    """The secure_run exception for ``exc`` (see the module's table), or ``exc`` itself.

    Args:
        exc: What the SDK raised.
        action: What was being done, as a verb phrase (``"create the container"``).
        image: The image the action was about, if any; a "not found" about it
            becomes :class:`ImageNotFound`.
        address: The engine's address, for messages; see :func:`base_url`.

    Returns:
        A new :class:`SecureRunError` (the caller raises it ``from exc``), or ``exc``
        unchanged when it is one already or is not an SDK, requests or socket error.
    """
    if isinstance(exc, SecureRunError):
        return exc
    if isinstance(exc, docker.errors.ImageNotFound) or (
        isinstance(exc, docker.errors.NotFound) and image is not None and _about_image(exc, image)
    ):
        return _image_not_found(exc, image)
    if isinstance(exc, docker.errors.APIError):
        return _refused(exc, action)
    if _is_connection_error(exc):
        return _unavailable(exc, action, address)
    if _is_timeout(exc):
        return RunTimeout(
            f"the engine did not answer in time while trying to {action} ({exc}). It may be "
            "overloaded: retry, or give the client a longer timeout "
            "(docker.DockerClient(timeout=...))"
        )
    if isinstance(exc, docker.errors.DockerException):
        text = str(exc).lower()
        if any(_is_connection_error(e) or _is_timeout(e) for e in _chain(exc)) or any(
            words in text for words in _UNREACHABLE_WORDS
        ):
            return _unavailable(exc, action, address)
        return LaunchError(f"the Docker SDK could not {action}: {exc}; fix: {_API_FIX}")
    return exc


@contextlib.contextmanager
def translated(
    action: str,
    *,
    image: str | None = None,
    client: docker.DockerClient | None = None,
) -> Iterator[None]:
    """Run the block; an SDK, requests or socket error leaves it as a secure_run error.

    Example::

        with translated("create the container", image=cfg.image, client=client):
            client.api.create_container(...)

    Args:
        action: What the block does, as a verb phrase, for the message.
        image: The image the block is about, if any (see :func:`translate`).
        client: The client used in the block, so messages name its address.

    Raises:
        SecureRunError: The mapped error, with the original as ``__cause__``.
    """
    try:
        yield
    except Exception as exc:
        address = base_url(client) if client is not None else None
        mapped = translate(exc, action, image=image, address=address)
        if mapped is exc:
            raise
        raise mapped from exc
