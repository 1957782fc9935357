"""The labels that mark a container as secure_run's, and name the process that owns it.

Every container secure_run creates carries ``io.secure-run.managed=1``, an owner
label (host, pid and the process's start time, so a reused pid is told apart) and
the time it was created. :func:`~secure_run.cleanup` reads them back.
"""

from __future__ import annotations

import os
import socket
import time

from .._config.values import LABEL_PREFIX
from .._proof.procfs import start_time

__all__ = [
    "CREATED_LABEL",
    "MANAGED_LABEL",
    "OWNER_LABEL",
    "VOLUME_PREFIX",
    "managed_labels",
    "owner_id",
]

MANAGED_LABEL = LABEL_PREFIX + "managed"
OWNER_LABEL = LABEL_PREFIX + "owner"
CREATED_LABEL = LABEL_PREFIX + "created"
#: The name of every workspace volume secure_run makes starts so.
VOLUME_PREFIX = "secure-run-ws-"


def owner_id(pid: int | None = None) -> str:
    """``host:pid:start`` for a process: unique even after the pid is reused."""
    pid = os.getpid() if pid is None else pid
    started = start_time(pid)
    return f"{socket.gethostname()}:{pid}:{'?' if started is None else started}"


def managed_labels() -> dict[str, str]:
    """The labels of a container this process creates now."""
    return {
        MANAGED_LABEL: "1",
        OWNER_LABEL: owner_id(),
        CREATED_LABEL: f"{time.time():.3f}",
    }
