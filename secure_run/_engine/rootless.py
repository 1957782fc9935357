"""Rootless Docker without cgroups: the limits it accepts and never applies.

A rootless engine (``dockerd-rootless.sh`` under rootlesskit, ``docker info``:
``name=rootless``) on a cgroup v1 host has no cgroup manager (Cgroup Driver ``none``).
It accepts memory, CPU and pids limits without an error or a create warning, shows them
in inspect, and applies none of them: inside, ``memory.limit_in_bytes`` is unlimited and
``pids.max`` is absent. :func:`rootless_problems` refuses those limits before create
unless the config grants :attr:`OptIn.UNENFORCED_LIMITS`; :func:`rootless_waivers` is the
opt-in a config so launched relies on, which the container carries in its opt-ins label
(:func:`with_waivers`); ``verify()`` then notes each limit (:func:`unenforced_limits`) as
not enforced by the engine instead of failing it.

:func:`rootless_start_problems` refuses, on any rootless engine, what runc cannot start
from inside the engine's user namespace: the host PID namespace (it cannot mount
``/proc``), the host IPC namespace (nor ``/dev/mqueue``) and a device given at another
path inside (it bind-mounts the device from that path, which the host does not have).

Everything else holds under such an engine: the user, the capabilities, no-new-privileges,
seccomp, a read-only root, tmpfs mounts and rlimits. Container ids are the rootless
user's subordinate ids on the host (``/proc/<pid>/uid_map`` ``0 <uid> 1``, ``1 165536
65536``); the engine mounts in its own user namespace, so the ids it is given are the
container's own.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._config.checker import Checker
from .._config.run_config import RunConfig
from .._config.values import LABEL_PREFIX, OptIn
from .._errors import Problem

__all__ = [
    "CGROUP_LIMITS",
    "NO_CGROUPS",
    "rootless_problems",
    "rootless_start_problems",
    "rootless_waivers",
    "unenforced_limits",
    "with_waivers",
]

#: The settings a rootless engine without cgroups accepts and does not apply.
CGROUP_LIMITS = (
    "memory",
    "memory_reservation",
    "memory_swap",
    "cpus",
    "cpu_quota",
    "cpu_period",
    "cpu_shares",
    "cpuset",
    "pids_limit",
)

#: What such an engine is, as a refusal and a note say it.
NO_CGROUPS = (
    "the engine runs rootless without cgroups (docker info: name=rootless, Cgroup Driver "
    "none, as on a cgroup v1 host)"
)
_DROPS = f"{NO_CGROUPS}: it accepts this limit, shows it in inspect and never applies it"
_FIX = (
    "run the rootless engine on a cgroup v2 host with systemd, which delegates the memory, "
    "cpu and pids controllers to the rootless user (docker info then says Cgroup Driver "
    "systemd), or launch on a rootful engine"
)
_OPT_INS_LABEL = LABEL_PREFIX + "opt-ins"


def unenforced_limits(cfg: RunConfig) -> tuple[str, ...]:
    """The limits of ``cfg`` (fields of :data:`CGROUP_LIMITS`) an engine without cgroups drops."""
    return tuple(field for field in CGROUP_LIMITS if getattr(cfg, field) is not None)


def _rootless_limits(c: Checker, cfg: RunConfig) -> None:
    """A rootless engine without cgroups accepts the limits and applies none of them."""
    for field in CGROUP_LIMITS:
        value = getattr(cfg, field)
        if value is not None:
            c.needs(OptIn.UNENFORCED_LIMITS, field, value, _DROPS, _FIX)


def _checked(cfg: RunConfig) -> Checker:
    c = Checker(cfg.opt_ins)
    _rootless_limits(c, cfg)
    return c


_ROOTLESS = "the engine runs rootless (docker info: name=rootless)"


def _rootless_host_pid(c: Checker, cfg: RunConfig) -> None:
    """A rootless engine cannot start a container in the host PID namespace."""
    if cfg.pid_mode == "host":
        c.bad(
            "pid_mode",
            cfg.pid_mode,
            f"{_ROOTLESS}: runc cannot mount /proc "
            "for the host PID namespace from inside the engine's user namespace, so the start "
            "fails ('mount proc:/proc ... operation not permitted')",
            "leave the PID namespace private on this engine, or launch on a rootful engine",
        )


def _rootless_host_ipc(c: Checker, cfg: RunConfig) -> None:
    """A rootless engine cannot start a container in the host IPC namespace."""
    if cfg.ipc_mode == "host":
        c.bad(
            "ipc_mode",
            cfg.ipc_mode,
            f"{_ROOTLESS}: runc cannot mount /dev/mqueue for the host IPC namespace from "
            "inside the engine's user namespace, so the start fails ('mount mqueue:/dev/mqueue "
            "... operation not permitted')",
            "leave the IPC namespace private on this engine, or launch on a rootful engine",
        )


def _rootless_renamed_devices(c: Checker, cfg: RunConfig) -> None:
    """A rootless engine cannot give a device at a path other than its host path."""
    for device in cfg.devices:
        if device.container_path != device.host_path:
            c.bad(
                "device",
                f"{device.host_path}:{device.container_path}",
                f"{_ROOTLESS}: runc cannot make device nodes in the engine's user namespace, "
                "so it bind-mounts the device from its container path, which does not exist "
                "on the host, and the start fails ('error creating device nodes: mount "
                f"{device.container_path} ... no such file or directory')",
                f"give the device at its host path (device({device.host_path!r})), or launch "
                "on a rootful engine",
            )


def rootless_start_problems(cfg: RunConfig) -> list[Problem]:
    """The settings of ``cfg`` a rootless engine (with cgroups or not) cannot start with.

    The host PID or IPC namespace, and a device given at another path inside.
    """
    c = Checker(cfg.opt_ins)
    _rootless_host_pid(c, cfg)
    _rootless_host_ipc(c, cfg)
    _rootless_renamed_devices(c, cfg)
    return c.problems


def rootless_problems(cfg: RunConfig) -> list[Problem]:
    """The limits of ``cfg`` a rootless engine without cgroups would drop, one problem each.

    Empty when ``cfg`` sets none, or grants :attr:`OptIn.UNENFORCED_LIMITS`.
    """
    return _checked(cfg).problems


def rootless_waivers(cfg: RunConfig) -> tuple[OptIn, ...]:
    """The opt-ins ``cfg`` relies on when it runs on a rootless engine without cgroups."""
    return tuple(sorted(_checked(cfg).used, key=str))


def with_waivers(labels: Mapping[str, str], waivers: tuple[OptIn, ...]) -> dict[str, str]:
    """``labels`` with ``waivers`` added to secure_run's opt-ins label (sorted, no repeats)."""
    result = dict(labels)
    if waivers:
        present = [o for o in result.get(_OPT_INS_LABEL, "").split(",") if o]
        result[_OPT_INS_LABEL] = ",".join(sorted({*present, *(o.value for o in waivers)}))
    return result
