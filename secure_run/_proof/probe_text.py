"""The probe's findings as short text, for ``secure-run probe``'s side-by-side table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._config.capabilities import ALL_CAPABILITIES, DOCKER_DEFAULT_CAPABILITIES
from .kernel import CgroupLimits, keyed_cgroup_files

if TYPE_CHECKING:
    from .probe import Probe

__all__ = ["summary"]


def summary(probe: Probe) -> dict[str, str]:
    """Short human-readable text per aspect of ``probe``, for a side-by-side table.

    Keys: ``user``, ``capabilities``, ``no_new_privs``, ``seccomp``, ``memory``,
    ``cpu``, ``pids``, ``ulimits``, ``root``, ``tmpfs``, ``network``,
    ``processes``, ``hostname``.
    """
    return {
        "user": f"uid={probe.uid} gid={probe.gid}",
        "capabilities": (
            f"CapEff: {_show_caps(probe.cap_eff)}; CapBnd: {_show_caps(probe.cap_bnd)}"
        ),
        "no_new_privs": "yes" if probe.no_new_privs else "no",
        "seccomp": _seccomp_text(probe),
        "memory": _memory_text(probe),
        "cpu": _cpu_text(probe),
        "pids": "unlimited" if probe.pids_limit is None else str(probe.pids_limit),
        "ulimits": ", ".join(
            f"{name} {probe.limits[name]}"
            for name in ("nofile", "nproc", "core")
            if name in probe.limits
        ),
        "root": _root_text(probe),
        "tmpfs": _tmpfs_text(probe),
        "network": _network_text(probe),
        "processes": f"{len(probe.visible_pids)} visible",
        "hostname": probe.hostname,
    }


def _seccomp_text(probe: Probe) -> str:
    mode = {0: "disabled", 1: "strict", 2: "filter"}.get(
        probe.seccomp_mode, f"mode {probe.seccomp_mode}"
    )
    if probe.seccomp_mode == 2 and probe.seccomp_filters is not None:
        plural = "" if probe.seccomp_filters == 1 else "s"
        return f"{mode} ({probe.seccomp_filters} filter{plural})"
    return mode


def _memory_text(probe: Probe) -> str:
    extras = []
    if probe.memory_reservation is not None:
        extras.append(f"reservation {_show_bytes(probe.memory_reservation)}")
    if probe.memory_limit is not None:
        if probe.memory_swap_limit is None:
            extras.append("swap unlimited" if _swap_known(probe) else "swap unknown")
        else:
            swap = probe.memory_swap_limit - probe.memory_limit
            extras.append("swap none" if swap <= 0 else f"swap {_show_bytes(swap)}")
    head = "unlimited" if probe.memory_limit is None else _show_bytes(probe.memory_limit)
    return f"{head} ({', '.join(extras)})" if extras else head


def _swap_known(probe: Probe) -> bool:
    """The kernel accounts swap: the swap limit file was read."""
    files = keyed_cgroup_files(probe.cgroup_files)
    return CgroupLimits(probe.cgroup_version, files).swap_accounted


def _cpu_text(probe: Probe) -> str:
    if probe.cpu_shares is not None:
        share = f"shares {probe.cpu_shares}"
    elif probe.cpu_weight is not None:
        share = f"weight {probe.cpu_weight}"
    else:
        share = ""
    cpus = probe.cpus
    if cpus is None:
        return f"unlimited ({share})" if share else "unlimited"
    detail = f"{probe.cpu_quota_us}/{probe.cpu_period_us} us"
    return f"{cpus:.2f} CPU ({detail}; {share})" if share else f"{cpus:.2f} CPU ({detail})"


def _root_text(probe: Probe) -> str:
    if probe.root_writable:
        return "writable"
    root = probe.mount("/")
    if root is None or root.read_only:
        return "read-only"
    return f"read-write mount, not writable by uid {probe.uid}"


def _tmpfs_text(probe: Probe) -> str:
    parts = []
    for path, writable in sorted(probe.tmpfs_writable.items()):
        if not writable or path.startswith(("/proc", "/sys")):
            continue
        info = probe.mount(path)
        size = (
            _show_bytes(info.size_bytes)
            if info is not None and info.size_bytes is not None
            else "no size limit"
        )
        parts.append(f"{path} ({size})")
    return ", ".join(parts) if parts else "none writable"


def _network_text(probe: Probe) -> str:
    if not probe.interfaces:
        names = "no interfaces"
    elif probe.interfaces == ("lo",):
        names = "lo only"
    else:
        names = ", ".join(probe.interfaces)
    if probe.has_default_route:
        route = "default route"
    elif probe.route_count:
        route = f"{probe.route_count} route{'' if probe.route_count == 1 else 's'}, no default"
    else:
        route = "no route"
    return f"{names}, {route}" if probe.interfaces == ("lo",) else f"{names}; {route}"


def _show_bytes(value: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size and value % size == 0:
            return f"{value // size} {unit}"
    if value >= 1 << 20:
        return f"{value / (1 << 20):.1f} MiB"
    return f"{value} B"


def _show_caps(caps: frozenset[str]) -> str:
    if not caps:
        return "none"
    if caps == DOCKER_DEFAULT_CAPABILITIES:
        return f"Docker default {len(caps)}"
    if caps >= frozenset(ALL_CAPABILITIES):
        return f"all {len(caps)}"
    if len(caps) <= 4:
        return ", ".join(sorted(caps))
    extra = sorted(caps - DOCKER_DEFAULT_CAPABILITIES)
    missing = sorted(DOCKER_DEFAULT_CAPABILITIES - caps)
    if len(extra) + len(missing) <= 4:
        text = f"Docker default {len(DOCKER_DEFAULT_CAPABILITIES)}"
        if extra:
            text += " + " + ", ".join(extra)
        if missing:
            text += " - " + ", ".join(missing)
        return text
    return f"{len(caps)} capabilities"
