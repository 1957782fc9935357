"""OCI runtimes other than runc: which ones are gVisor, and what gVisor cannot honour.

gVisor (``runsc``) runs the workload on a user-space kernel, the sentry. Docker knows
it only as a runtime name in ``docker info`` ``Runtimes`` (with the program's path), so
a runtime is gVisor when its name or path says ``runsc`` or ``gvisor``.
:func:`gvisor_problems` lists the settings a gVisor container cannot start with, so
they are refused before create instead of by a failed start.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .._config.run_config import RunConfig
from .._errors import Problem, show

__all__ = [
    "GVISOR_MIN_PIDS",
    "gvisor_problems",
    "gvisor_runtimes",
    "is_gvisor_name",
    "networkless_runtimes",
]

#: The lowest pids limit this gVisor build (runsc 0.0~20221219) starts reliably with:
#: the sandbox's own host threads count against ``pids.max``; 64 is flaky (the shell
#: dies mid-script), 32 fails ("urpc method containerManager.StartRoot failed: EOF").
GVISOR_MIN_PIDS = 128


def is_gvisor_name(runtime: str | None) -> bool:
    """Whether a runtime's name (or program path) says it is gVisor (``runsc``, ``gvisor``)."""
    name = (runtime or "").rpartition("/")[2].lower()
    return "runsc" in name or "gvisor" in name


def gvisor_runtimes(runtimes: object) -> tuple[str, ...]:
    """The names in ``docker info`` ``Runtimes`` whose name or ``path`` is gVisor's, sorted."""
    if not isinstance(runtimes, Mapping):
        return ()
    found = []
    for name, spec in runtimes.items():
        path = spec.get("path") if isinstance(spec, Mapping) else None
        if is_gvisor_name(str(name)) or is_gvisor_name(str(path or "")):
            found.append(str(name))
    return tuple(sorted(found))


def networkless_runtimes(runtimes: object) -> tuple[str, ...]:
    """The names in ``docker info`` ``Runtimes`` run with ``--network=none``, sorted.

    runsc given ``--network=none`` in its ``runtimeArgs`` gives every sandbox a loopback
    interface only, whatever network the container was attached to.
    """
    if not isinstance(runtimes, Mapping):
        return ()
    found = []
    for name, spec in runtimes.items():
        args = spec.get("runtimeArgs") if isinstance(spec, Mapping) else None
        if isinstance(args, (list, tuple)) and "--network=none" in (str(a) for a in args):
            found.append(str(name))
    return tuple(sorted(found))


#: What the sentry cannot share with the host: it runs its own kernel, so runsc runs the
#: sandbox in namespaces of its own whatever the config asks (measured with runsc
#: 0.0~20221219: pid 1 is the workload under --pid=host, the hostname is "?" under
#: --uts=host), with no error.
_HOST_NAMESPACES: tuple[tuple[str, str, str], ...] = (
    ("network", "host", "the host network namespace"),
    ("pid_mode", "host", "the host PID namespace"),
    ("ipc_mode", "host", "the host IPC namespace"),
    ("uts_mode", "host", "the host UTS namespace"),
)

_DROPS = "and runsc silently drops it (the container starts without it)"


def gvisor_problems(
    cfg: RunConfig, runtime: str, networkless: Collection[str] = ()
) -> list[Problem]:
    """The settings of ``cfg`` a container under gVisor (``runtime``) cannot start with.

    Or would start without, silently. ``networkless``: the runtimes the engine runs with
    ``--network=none`` (``EngineFacts.networkless_runtimes``); under one of them no network
    but ``none`` and no published port is honoured.
    """
    networkless_runtime = runtime in networkless
    under = f"the container would run under gVisor (runtime {runtime!r})"
    problems = []
    for field, value, what in _HOST_NAMESPACES:
        if getattr(cfg, field) == value:
            problems.append(
                Problem(
                    field,
                    show(value),
                    f"{under}, whose user-space kernel cannot join {what}, " + _DROPS,
                    "leave the host namespace unset, or use runtime('runc')",
                )
            )
    for device in cfg.devices:
        problems.append(
            Problem(
                "device",
                show(f"{device.host_path}:{device.container_path}"),
                f"{under}, whose sentry passes no host device through, " + _DROPS,
                "leave the device out, or use runtime('runc')",
            )
        )
    if cfg.sysctls:
        problems.append(
            Problem(
                "sysctl",
                show(dict(cfg.sysctls)),
                f"{under}, whose sentry has its own /proc/sys and does not apply the "
                "engine's sysctls, " + _DROPS,
                "leave the sysctls out, or use runtime('runc')",
            )
        )
    if networkless_runtime and cfg.network not in ("none", "host"):
        problems.append(
            Problem(
                "network",
                show(cfg.network),
                f"{under}, which the engine runs with --network=none (its runtimeArgs): "
                "the sandbox gets a loopback interface only, whatever network it is on",
                "use network('none'), or a gVisor runtime without --network=none",
            )
        )
    if networkless_runtime and cfg.ports:
        problems.append(
            Problem(
                "ports",
                show(", ".join(f"{p.host_ip}:{p.host_port or ''}->{p.key}" for p in cfg.ports)),
                f"{under}, which the engine runs with --network=none (its runtimeArgs): "
                "nothing in the sandbox is reachable from a published port",
                "publish no port, or use a gVisor runtime without --network=none",
            )
        )
    if cfg.pids_limit is not None and 0 < cfg.pids_limit < GVISOR_MIN_PIDS:
        problems.append(
            Problem(
                "pids_limit",
                show(cfg.pids_limit),
                f"the container would run under gVisor (runtime {runtime!r}), whose sandbox "
                f"counts its own host threads against the pids limit: below {GVISOR_MIN_PIDS} "
                "it fails to start or dies mid-run",
                f"give pids_limit({GVISOR_MIN_PIDS}) or more (the 'gvisor' preset does), "
                "or use runtime('runc')",
            )
        )
    return problems
