"""Source 1 of :func:`~secure_run.verify`: what the daemon recorded for a container.

One ``inspect`` record is compared with the config: ``Config.User`` and the
``HostConfig`` fields that carry hardening (capabilities, privileged, ``SecurityOpt``,
the root filesystem, memory, CPU, pids, network, tmpfs, ulimits, namespace modes, init,
runtime, mounts, devices, ports, groups, sysctls). Expected values are written in the
daemon's own form (``CAP_NET_BIND_SERVICE``, ``no-new-privileges:true``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._config.run_config import RunConfig
from .._export.docker import nano_cpus
from .expected import cap_names, cpu_list, memory_swap
from .verify_report import INSPECT, Check, at_least, cell, check, equal, listing

__all__ = ["inspect_checks"]

_PRIVATE_MODES = {
    "IpcMode": ("", "private", "shareable", "none"),
    "PidMode": ("", "private"),
    "UTSMode": ("", "private"),
    "UsernsMode": ("", "private"),
}


def inspect_checks(cfg: RunConfig, info: Mapping[str, Any]) -> Iterator[Check]:
    hc: Mapping[str, Any] = info.get("HostConfig") or {}
    config: Mapping[str, Any] = info.get("Config") or {}

    if cfg.user is not None:
        yield equal("Config.User", str(cfg.user), config.get("User") or "")
    yield at_least(
        "HostConfig.Privileged", False, cfg.privileged, bool(hc.get("Privileged")), INSPECT
    )
    yield equal(
        "HostConfig.CapAdd",
        listing(cap_names(cfg.cap_add)),
        listing(cap_names(hc.get("CapAdd") or ())),
    )
    yield equal(
        "HostConfig.CapDrop",
        listing(cap_names(cfg.cap_drop)),
        listing(cap_names(hc.get("CapDrop") or ())),
    )
    yield from _security_opt_checks(cfg, hc.get("SecurityOpt") or ())
    yield at_least(
        "HostConfig.ReadonlyRootfs", True, cfg.read_only, bool(hc.get("ReadonlyRootfs")), INSPECT
    )
    yield from _resource_checks(cfg, hc)
    yield equal("HostConfig.NetworkMode", cfg.network, hc.get("NetworkMode") or "")
    yield equal(
        "HostConfig.PortBindings",
        listing(_cfg_ports(cfg)),
        listing(_actual_ports(hc.get("PortBindings") or {})),
    )
    yield _tmpfs_check(cfg, hc.get("Tmpfs") or {})
    if cfg.ulimits:
        yield _ulimit_check(cfg, hc.get("Ulimits") or ())
    for key, field in (
        ("IpcMode", cfg.ipc_mode),
        ("PidMode", cfg.pid_mode),
        ("UTSMode", cfg.uts_mode),
        ("UsernsMode", cfg.userns_mode),
    ):
        actual = hc.get(key) or ""
        shown = actual or "'' (private)"
        if field is None:
            private = _PRIVATE_MODES[key]
            yield check(f"HostConfig.{key}", "private", shown, INSPECT, actual in private)
        else:
            yield check(f"HostConfig.{key}", field, shown, INSPECT, actual == field)
    yield at_least("HostConfig.Init", True, cfg.init, bool(hc.get("Init")), INSPECT)
    if cfg.runtime is not None:
        yield equal("HostConfig.Runtime", cfg.runtime, hc.get("Runtime") or "")
    yield equal("HostConfig.Mounts", listing(_cfg_mounts(cfg)), listing(_actual_mounts(hc)))
    yield equal(
        "HostConfig.Devices",
        listing(f"{d.host_path}:{d.container_path}:{d.permissions}" for d in cfg.devices),
        listing(
            f"{d.get('PathOnHost')}:{d.get('PathInContainer')}:{d.get('CgroupPermissions')}"
            for d in hc.get("Devices") or ()
        ),
    )
    yield equal(
        "HostConfig.GroupAdd",
        listing(str(g) for g in cfg.group_add),
        listing(str(g) for g in hc.get("GroupAdd") or ()),
    )
    yield equal(
        "HostConfig.Sysctls",
        listing(f"{k}={v}" for k, v in cfg.sysctls),
        listing(f"{k}={v}" for k, v in (hc.get("Sysctls") or {}).items()),
    )


_OPT = re.compile(r"([A-Za-z-]+)(?:[=:](.*))?", re.DOTALL)


def _daemon_disables_labels(cfg: RunConfig) -> bool:
    """Whether the daemon itself adds ``label=disable`` (moby does for these settings)."""
    return cfg.privileged or cfg.pid_mode == "host" or cfg.ipc_mode == "host"


def _security_opt_checks(cfg: RunConfig, entries: Iterable[str]) -> Iterator[Check]:
    nnp = False
    seccomp: str | None = None
    apparmor: str | None = None
    others = []
    for entry in entries:
        match = _OPT.fullmatch(entry)
        key, value = (match.group(1), match.group(2)) if match else (entry, None)
        if key == "no-new-privileges":
            nnp = value in (None, "", "true", "1")
        elif key == "seccomp":
            seccomp = value or ""
        elif key == "apparmor":
            apparmor = value or ""
        elif key == "label" and value == "disable" and _daemon_disables_labels(cfg):
            continue  # the daemon's own addition for host PID/IPC namespaces or privileged
        else:
            others.append(cell(entry))
    yield at_least(
        "HostConfig.SecurityOpt no-new-privileges", True, cfg.no_new_privileges, nnp, INSPECT
    )

    actual_seccomp = _seccomp_text(seccomp)
    if cfg.seccomp.kind == "unconfined":
        yield check(
            "HostConfig.SecurityOpt seccomp",
            "any (config: unconfined)",
            actual_seccomp,
            INSPECT,
            True,
        )
    else:
        expected = (
            _seccomp_text(cfg.seccomp.profile_json) if cfg.seccomp.kind == "custom" else "default"
        )
        yield equal("HostConfig.SecurityOpt seccomp", expected, actual_seccomp)

    actual_apparmor = "daemon default" if apparmor is None else apparmor
    if cfg.apparmor is None:
        yield check(
            "HostConfig.SecurityOpt apparmor",
            "daemon default (not unconfined)",
            actual_apparmor,
            INSPECT,
            apparmor != "unconfined",
        )
    elif cfg.apparmor == "unconfined":
        yield check(
            "HostConfig.SecurityOpt apparmor",
            "any (config: unconfined)",
            actual_apparmor,
            INSPECT,
            True,
        )
    else:
        yield equal("HostConfig.SecurityOpt apparmor", cfg.apparmor, actual_apparmor)
    yield equal("HostConfig.SecurityOpt other", "none", listing(others))


def _seccomp_text(value: str | None) -> str:
    """``default``, ``unconfined``, or ``custom (sha256:<12 hex>)`` of the parsed profile."""
    if value is None or value in ("", "builtin"):
        return "default"
    if value == "unconfined":
        return "unconfined"
    try:
        canonical = json.dumps(json.loads(value), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return "custom (not JSON)"
    return f"custom (sha256:{hashlib.sha256(canonical.encode()).hexdigest()[:12]})"


def _resource_checks(cfg: RunConfig, hc: Mapping[str, Any]) -> Iterator[Check]:
    def number(key: str) -> int:
        return int(hc.get(key) or 0)

    if cfg.memory is not None:
        yield equal("HostConfig.Memory", cfg.memory, number("Memory"))
        yield equal("HostConfig.MemorySwap", memory_swap(cfg), number("MemorySwap"))
    if cfg.memory_reservation is not None:
        yield equal(
            "HostConfig.MemoryReservation", cfg.memory_reservation, number("MemoryReservation")
        )
    if cfg.cpus is not None:
        yield equal("HostConfig.NanoCpus", nano_cpus(cfg.cpus), number("NanoCpus"))
    if cfg.cpu_quota is not None:
        yield equal("HostConfig.CpuQuota", cfg.cpu_quota, number("CpuQuota"))
    if cfg.cpu_period is not None:
        yield equal("HostConfig.CpuPeriod", cfg.cpu_period, number("CpuPeriod"))
    if cfg.cpu_shares is not None:
        yield equal("HostConfig.CpuShares", cfg.cpu_shares, number("CpuShares"))
    if cfg.cpuset is not None:
        actual = str(hc.get("CpusetCpus") or "")
        yield check(
            "HostConfig.CpusetCpus",
            cfg.cpuset,
            actual or "none",
            INSPECT,
            cpu_list(actual) == cpu_list(cfg.cpuset),
        )
    if cfg.pids_limit is not None:
        pids = hc.get("PidsLimit")
        yield equal("HostConfig.PidsLimit", cfg.pids_limit, "none" if pids is None else pids)


def _cfg_ports(cfg: RunConfig) -> Iterator[str]:
    for p in cfg.ports:
        yield f"{p.host_ip}:{p.host_port or '*'}->{p.key}"


def _actual_ports(bindings: Mapping[str, Any]) -> Iterator[str]:
    for key, hosts in bindings.items():
        for host in hosts or ():
            yield f"{host.get('HostIp') or '0.0.0.0'}:{host.get('HostPort') or '*'}->{key}"  # noqa: S104


def _tmpfs_check(cfg: RunConfig, actual: Mapping[str, str]) -> Check:
    def show(mapping: Mapping[str, str]) -> str:
        return listing(f"{path} {opts}" for path, opts in mapping.items())

    def normal(mapping: Mapping[str, str]) -> dict[str, frozenset[str]]:
        return {path: frozenset(opts.split(",")) - {""} for path, opts in mapping.items()}

    expected = {t.path: t.options() for t in cfg.tmpfs}
    return check(
        "HostConfig.Tmpfs",
        show(expected),
        show(actual),
        INSPECT,
        normal(expected) == normal(actual),
    )


def _ulimit_check(cfg: RunConfig, actual: Iterable[Mapping[str, Any]]) -> Check:
    found = {u.get("Name"): (u.get("Soft"), u.get("Hard")) for u in actual}
    ok = all(found.get(u.name) == (u.soft, u.hard) for u in cfg.ulimits)
    return check(
        "HostConfig.Ulimits",
        listing(f"{u.name}={u.soft}:{u.hard}" for u in cfg.ulimits),
        listing(f"{name}={soft}:{hard}" for name, (soft, hard) in found.items()),
        INSPECT,
        ok,
    )


def _cfg_mounts(cfg: RunConfig) -> Iterator[str]:
    for m in cfg.mounts:
        kind = "bind" if m.kind == "bind" else "volume"
        yield f"{kind} {m.source} -> {m.target} ({'ro' if m.read_only else 'rw'})"


def _actual_mounts(hc: Mapping[str, Any]) -> Iterator[str]:
    for m in hc.get("Mounts") or ():
        mode = "ro" if m.get("ReadOnly") else "rw"
        yield f"{m.get('Type')} {m.get('Source')} -> {m.get('Target')} ({mode})"
    for bind in hc.get("Binds") or ():
        parts = str(bind).split(":")
        options = parts[2].split(",") if len(parts) > 2 else []
        kind = "bind" if parts[0].startswith("/") else "volume"
        target = parts[1] if len(parts) > 1 else parts[0]
        yield f"{kind} {parts[0]} -> {target} ({'ro' if 'ro' in options else 'rw'})"
