"""The presets' tables: each setting of each preset, with the reason for it.

The data under :mod:`presets`, kept below :mod:`explain` so that an explanation can
give a preset's own reason for a setting without importing the builder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .values import LogLimits, OptIn, RestartPolicy, Tmpfs, Ulimit, User

if TYPE_CHECKING:
    from .run_config import RunConfig

__all__ = ["TABLES", "PresetLine", "PresetTable", "preset_reasons"]

_MiB = 1 << 20
_GiB = 1 << 30
_TMP = "/tmp"  # noqa: S108 - a path inside the container, not the host's


@attrs.frozen
class PresetLine:
    """One setting of a preset: the RunConfig field, its value, and why.

    .. versionadded:: 0.1
    """

    field: str
    value: Any
    reason: str


@attrs.frozen
class PresetTable:
    """A preset's name, one-line description and settings (:class:`presets.Preset` is the API)."""

    name: str
    description: str
    lines: tuple[PresetLine, ...]


def _common(user_reason: str) -> tuple[PresetLine, ...]:
    return (
        PresetLine("user", User(65534, 65534), user_reason),
        PresetLine("cap_drop", ("ALL",), "start from no capabilities at all"),
        PresetLine(
            "no_new_privileges", True, "setuid and file capabilities cannot raise privileges"
        ),
        PresetLine("init", True, "an init as PID 1 reaps zombies and forwards signals"),
    )


def _read_only_root(tmp_size: int, tmp_reason: str) -> tuple[PresetLine, ...]:
    return (
        PresetLine("read_only", True, "the image cannot be changed at run time"),
        PresetLine("tmpfs", (Tmpfs(_TMP, tmp_size, 0o1777),), tmp_reason),
    )


def _limits(memory: int, cpus: float, pids: int, nofile: int) -> tuple[PresetLine, ...]:
    return (
        PresetLine("memory", memory, "a hard limit; the OOM killer acts inside the container"),
        PresetLine("memory_reservation", memory // 2, "a soft limit at half the hard one"),
        PresetLine("memory_swap", memory, "equal to memory: no swap"),
        PresetLine("cpus", cpus, "a CFS quota bounds CPU time"),
        PresetLine("pids_limit", pids, "a fork bomb stops here"),
        PresetLine(
            "ulimits",
            (Ulimit("core", 0, 0), Ulimit("nofile", nofile, nofile)),
            "no core dumps of process memory; a bounded number of open files",
        ),
    )


_RESTRICTED = PresetTable(
    name="restricted",
    description="The default: Pod Security 'restricted' plus CIS Docker Benchmark section 5.",
    lines=(
        *_common("nobody (65534): a non-root uid with no files of its own in most images"),
        PresetLine("cap_add", (), "nothing added back"),
        *_read_only_root(64 * _MiB, "small scratch space, noexec"),
        PresetLine("network", "none", "no network unless one is asked for"),
        *_limits(512 * _MiB, 1.0, 128, 1024),
        PresetLine("log_limits", LogLimits(10 * _MiB, 3), "logs cannot fill the disk"),
    ),
)


def _untrusted(pids: int) -> tuple[PresetLine, ...]:
    return (
        *_common("nobody (65534): untrusted code never runs as root"),
        PresetLine("cap_add", (), "nothing added back"),
        *_read_only_root(16 * _MiB, "a little scratch, noexec"),
        PresetLine("network", "none", "untrusted code gets no network"),
        *_limits(256 * _MiB, 0.5, pids, 256),
        PresetLine("log_limits", LogLimits(1 * _MiB, 2), "a chatty program cannot fill the disk"),
        PresetLine(
            "env",
            tuple(
                (name, "1")
                for name in sorted(
                    (
                        "OMP_NUM_THREADS",
                        "OPENBLAS_NUM_THREADS",
                        "MKL_NUM_THREADS",
                        "NUMEXPR_NUM_THREADS",
                        "GOMAXPROCS",
                    )
                )
            ),
            "thread pools sized to the CPU limit, not to the host's cores",
        ),
    )


_SANDBOX = PresetTable(
    name="sandbox",
    description="For untrusted code: restricted with less memory, CPU, processes and scratch.",
    lines=_untrusted(64),
)

#: gVisor's sandbox counts its own host threads against ``pids.max``: runsc 0.0~20221219
#: fails to start below 64 and is flaky at 64; 128 works every time.
_GVISOR_PIDS = 128

_GVISOR = PresetTable(
    name="gvisor",
    description="For untrusted code in gVisor (runsc): sandbox, behind a second kernel.",
    lines=(
        *(
            PresetLine(
                "pids_limit",
                _GVISOR_PIDS,
                "gVisor's sandbox counts its own threads too: below 128 it fails to start",
            )
            if line.field == "pids_limit"
            else line
            for line in _untrusted(_GVISOR_PIDS)
        ),
        PresetLine(
            "runtime",
            "runsc",
            "gVisor: system calls go to a user-space kernel, not the host's "
            "(the engine must register runsc)",
        ),
    ),
)

_SERVICE = PresetTable(
    name="service",
    description="A long-running network service on localhost, restarted on failure.",
    lines=(
        *_common("nobody (65534): a service needs no root"),
        PresetLine(
            "cap_add",
            ("NET_BIND_SERVICE",),
            (
                "the one capability Pod Security 'restricted' allows; it is effective only for"
                " uid 0 (Docker >= 20.10 lets any uid bind low ports in the container's netns)"
            ),
        ),
        *_read_only_root(64 * _MiB, "scratch space, noexec"),
        PresetLine("network", "bridge", "a network to serve on; publish() binds 127.0.0.1"),
        *_limits(1 * _GiB, 2.0, 512, 8192),
        PresetLine("restart", RestartPolicy("on-failure", 5), "recover from crashes, at most 5"),
        PresetLine("log_limits", LogLimits(50 * _MiB, 5), "rotated logs for a long life"),
    ),
)

_BASELINE = PresetTable(
    name="baseline",
    description="Closest to Docker's defaults that is still defensible; a writable root.",
    lines=(
        *_common("nobody (65534): Docker's default would be the image's user, often root"),
        PresetLine(
            "cap_add",
            (
                "AUDIT_WRITE",
                "CHOWN",
                "DAC_OVERRIDE",
                "FOWNER",
                "FSETID",
                "KILL",
                "MKNOD",
                "NET_BIND_SERVICE",
                "SETFCAP",
                "SETGID",
                "SETPCAP",
                "SETUID",
                "SYS_CHROOT",
            ),
            "Docker's default 14 minus NET_RAW (Pod Security baseline)",
        ),
        PresetLine("read_only", False, "for images that write to their root filesystem"),
        PresetLine(
            "opt_ins",
            (OptIn.EXTRA_CAPABILITY, OptIn.WRITABLE_ROOT),
            "records the added capabilities and the writable root as waivers",
        ),
        PresetLine("network", "bridge", "Docker's default network"),
        *_limits(1 * _GiB, 2.0, 1024, 8192),
        PresetLine("log_limits", LogLimits(10 * _MiB, 3), "logs cannot fill the disk"),
    ),
)

#: Every preset's table, by name, in the order the presets are listed.
TABLES: Mapping[str, PresetTable] = {
    t.name: t for t in (_RESTRICTED, _SANDBOX, _SERVICE, _BASELINE, _GVISOR)
}


def preset_reasons(cfg: RunConfig) -> dict[str, str]:
    """The preset's reasons for the fields of ``cfg`` that still hold the preset's value."""
    table = TABLES.get(cfg.preset) if cfg.preset is not None else None
    if table is None:
        return {}
    fields = {a.name: a for a in attrs.fields(type(cfg))}  # compare in the converted form
    reasons = {}
    for line in table.lines:
        converter = fields[line.field].converter
        value = converter(line.value) if callable(converter) else line.value
        if getattr(cfg, line.field) == value:
            reasons[line.field] = line.reason
    return reasons
