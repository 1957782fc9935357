"""User remapping (``dockerd --userns-remap``): whose ids a container has, what it refuses.

Under ``userns-remap`` every container runs in a user namespace whose ids ``0..65535``
are the remap user's subordinate ids on the host (``/proc/<pid>/uid_map`` reads
``0 100000 65536``). The daemon keeps its state under ``<data-root>/<uid>.<gid>``,
which is how :func:`remap_root` learns root's host ids from ``docker info``.
:func:`userns_problems` lists the settings such an engine refuses (at create, or by a
failed start) unless the container leaves the remap with ``userns_mode="host"``, so
they are refused before create with the fix instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Callable

from .._config.run_config import RunConfig
from .._errors import Problem, show

__all__ = ["LEAVE_REMAP", "remap_root", "userns_problems"]


def remap_root(info: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(100000, 100000)`` from ``DockerRootDir`` ``/var/lib/docker/100000.100000``."""
    found = re.search(r"/(\d+)\.(\d+)/?$", str(info.get("DockerRootDir") or ""))
    return (int(found.group(1)), int(found.group(2))) if found else None


#: What the engine refuses under ``userns-remap`` unless the container leaves the remap
#: (``userns_mode="host"``): the daemon refuses privileged and the host PID and network
#: namespaces at create; runc cannot mount ``/dev/mqueue`` for the host IPC namespace
#: from inside a user namespace, so that one fails at start (Docker 20.10, runc 1.1).
_HOST_USERNS_NEEDED: tuple[tuple[str, Callable[[RunConfig], bool], str], ...] = (
    ("privileged", lambda c: c.privileged, "privileged mode"),
    ("network", lambda c: c.network == "host", "the host network namespace"),
    ("pid_mode", lambda c: c.pid_mode == "host", "the host PID namespace"),
    ("ipc_mode", lambda c: c.ipc_mode == "host", "the host IPC namespace"),
)

#: The fix each problem names.
LEAVE_REMAP = (
    "also share the host user namespace: .host_namespace('userns') (userns_mode='host', "
    "under the opt-in 'host-namespace'), which undoes the remap for this container, so "
    "its root is the host's root; or launch on an engine without userns-remap"
)
_REMAPS = "the engine remaps users (userns-remap, docker info: name=userns)"


def userns_problems(cfg: RunConfig) -> list[Problem]:
    """The settings of ``cfg`` a ``userns-remap`` engine cannot run in a remapped container.

    Empty when the container leaves the remap (``userns_mode="host"``).
    """
    if cfg.userns_mode == "host":
        return []
    found = [
        Problem(field, show(getattr(cfg, field)), f"{_REMAPS} and refuses {what} inside "
                "the remapped user namespace", LEAVE_REMAP)
        for field, used, what in _HOST_USERNS_NEEDED
        if used(cfg)
    ]  # fmt: skip
    for device in cfg.devices:
        if device.container_path != device.host_path:
            found.append(
                Problem(
                    "device",
                    show(f"{device.host_path}:{device.container_path}"),
                    f"{_REMAPS}: runc then bind-mounts a device from its container path, "
                    "which does not exist on the host, and the start fails",
                    f"give the device at its host path (device({device.host_path!r})), "
                    f"or {LEAVE_REMAP}",
                )
            )
    return found
