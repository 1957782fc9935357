"""Host paths that matter to a container: the sensitive system folders and engine sockets.

The one home of this knowledge: validation refuses a mount by it, the audit flags a
running container by it (CIS 5.6 and 5.32) and the doctor looks for socket mounts by it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

__all__ = [
    "SENSITIVE_PATHS",
    "SOCKET_NAMES",
    "SOCKET_PATHS",
    "exposes_socket",
    "host_path",
    "sensitive_root",
]

#: Host paths whose writable bind mount hands the host to the container (CIS 5.6).
SENSITIVE_PATHS = ("/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr")

#: File names of the engines' API sockets: Docker, containerd and Podman.
SOCKET_NAMES = ("docker.sock", "containerd.sock", "podman.sock")

#: Where engine sockets live by default. Mounting any folder above one exposes it too;
#: ``/var/run`` is a link to ``/run``, so both spellings are listed.
SOCKET_PATHS = (
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/podman/podman.sock",
    "/var/run/podman/podman.sock",
)


def host_path(path: str) -> str:
    """The path as the daemon resolves it (``//etc/`` is ``/etc``)."""
    return posixpath.normpath("/" + path.lstrip("/"))


def sensitive_root(path: str) -> str | None:
    """The entry of :data:`SENSITIVE_PATHS` that ``path`` is or lies below, if any.

    ``/`` counts only as itself: ``/srv/data`` is not "below /".
    """
    for s in SENSITIVE_PATHS:
        if path == s or (s != "/" and path.startswith(s + "/")):
            return s
    return None


def _both_spellings(paths: Iterable[str]) -> set[str]:
    found = set()
    for path in paths:
        found.add(path)
        if path.startswith("/var/run/"):
            found.add("/run/" + path[len("/var/run/") :])
        elif path.startswith("/run/"):
            found.add("/var/run/" + path[len("/run/") :])
    return found


def exposes_socket(
    source: str, target: str, *, bind: bool, socket_paths: Iterable[str] = ()
) -> bool:
    """Whether a mount from ``source`` to ``target`` reaches an engine socket.

    It does when either path names a socket of :data:`SOCKET_NAMES` (anywhere in it:
    ``/run/docker.sock.real`` is one too), or, for a bind mount, when the source is a
    known socket path or a folder above one.

    Args:
        source: The mount's source as given (a host path for a bind).
        target: Where it is mounted in the container.
        bind: Whether it is a bind mount (only then is ``source`` a host path).
        socket_paths: More socket paths to know, such as the one the daemon really
            listens on; added to :data:`SOCKET_PATHS`.
    """
    if any(name in p for p in (source, target) for name in SOCKET_NAMES):
        return True
    if not bind or not source:
        return False
    resolved = host_path(source)
    parent = resolved.rstrip("/") + "/"
    known = _both_spellings((*SOCKET_PATHS, *socket_paths))
    return resolved in known or any(s.startswith(parent) for s in known)
