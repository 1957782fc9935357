"""CIS 5.x checks of the namespaces a container shares with its host.

Network (5.10), PID (5.16), IPC (5.17), UTS (5.21) and user (5.31).
"""

from __future__ import annotations

from .._config.values import OptIn
from .registry import Judge, Registry, Verdict, verdict
from .view import View

__all__ = ["REGISTERED", "shares_host"]

_check = Registry()


def shares_host(v: View, field: str) -> bool:
    """Whether a ``HostConfig`` mode field (``NetworkMode``, ``PidMode``, ...) is ``host``."""
    return v.host.get(field) == "host"


def _mode_check(field: str, what: str) -> Judge:
    """The judge of one namespace: it warns when the container shares the host's."""

    def judge(v: View) -> Verdict:
        shown = f"HostConfig.{field}={v.host.get(field)!r}"
        return verdict(not shares_host(v, field), shown, [OptIn.HOST_NAMESPACE])

    judge.__doc__ = f"Whether the container shares the host's {what} namespace."
    return judge


_check(
    "5.10",
    "Ensure that the host's network namespace is not shared",
    "The host's network namespace gives the container every host interface and port.",
    'use network "none" or a user-defined network, never "host"',
)(_mode_check("NetworkMode", "network"))


_check(
    "5.16",
    "Ensure that the host's process namespace is not shared",
    "The host's PID namespace lets the container see and signal every host process.",
    "leave the PID namespace private (no --pid host)",
)(_mode_check("PidMode", "process"))
_check(
    "5.17",
    "Ensure that the host's IPC namespace is not shared",
    "The host's IPC namespace exposes its shared memory and semaphores.",
    "leave the IPC namespace private (no --ipc host)",
)(_mode_check("IpcMode", "IPC"))


_check(
    "5.21",
    "Ensure that the host's UTS namespace is not shared",
    "The host's UTS namespace lets the container change the host's name.",
    "leave the UTS namespace private (no --uts host)",
)(_mode_check("UTSMode", "UTS"))


@_check(
    "5.31",
    "Ensure that the host's user namespaces are not shared",
    "With userns remapping on, --userns host gives the container the host's root.",
    "leave --userns unset",
)
def _userns(v: View) -> Verdict:
    mode = str(v.host.get("UsernsMode") or "")
    return verdict("host" not in mode.lower(), f"HostConfig.UsernsMode={mode!r}",
                    [OptIn.HOST_NAMESPACE])  # fmt: skip


#: This module's checks, in the order defined.
REGISTERED = _check.checks
